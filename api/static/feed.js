// The public feed page (docs/feed.md): cards from GET /v1/feed, a Like button that signs EIP-712
// Engage with the browser's wallet (EIP-1193 `window.ethereum`, eth_signTypedData_v4) and posts it
// to POST /v1/contributions/{id}:engage. No inline script: the page's CSP is script-src 'self'.

const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {any} */
let config = null;
/** @type {string | null} */
let next = null;

async function getJson(/** @type {string} */ url, /** @type {RequestInit} */ init = {}) {
  const response = await fetch(url, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `${url} answered ${response.status}`);
  return body;
}

function showError(/** @type {string} */ words) {
  const error = byId("feed-error");
  error.textContent = words;
  error.hidden = false;
}

function short(/** @type {string} */ address) {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

/** The Engage typed data for a like, exactly as GET /v1/config publishes the type. */
function likeTypedData(/** @type {string} */ actor, /** @type {string} */ contentHash, /** @type {number} */ nonce,
                       /** @type {number} */ issuedAt) {
  const engage = config.eip712.engage;
  return {
    types: engage.types, primaryType: engage.primaryType, domain: config.eip712.domain,
    message: { actor, contentHash, kind: 1, nonce: String(nonce), issuedAt },
  };
}

async function like(/** @type {any} */ item, /** @type {HTMLButtonElement} */ button,
                    /** @type {HTMLElement} */ status, /** @type {HTMLElement} */ likes) {
  const ethereum = /** @type {any} */ (globalThis).ethereum;
  if (!ethereum?.request) {
    status.textContent = "No wallet in this browser: install one to like.";
    return;
  }
  button.disabled = true;
  try {
    const accounts = await ethereum.request({ method: "eth_requestAccounts" });
    const actor = String(accounts?.[0] ?? "");
    if (!actor) throw new Error("the wallet gave no account");
    // A random 48-bit nonce: unique per actor in practice, and refused (409) in the rare clash.
    const nonce = Math.floor(Math.random() * 2 ** 48);
    const issuedAt = Math.floor(Date.now() / 1000);
    const typedData = likeTypedData(actor, item.contentHash, nonce, issuedAt);
    const signature = await ethereum.request({
      method: "eth_signTypedData_v4", params: [actor, JSON.stringify(typedData)],
    });
    const counted = await getJson(`/v1/contributions/${item.id}:engage`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ actor, kind: 1, nonce: String(nonce), issuedAt, signature }),
    });
    likes.textContent = String(Number(likes.textContent) + 1);
    status.textContent = `Liked: ${short(item.contributor)} earned ${counted.points} points.`;
  } catch (error) {
    status.textContent = `Not liked: ${/** @type {any} */ (error)?.message ?? error}`;
    button.disabled = false;
  }
}

function card(/** @type {any} */ item) {
  const li = document.createElement("li");
  li.className = item.images.length ? "feed-card feed-image" : "feed-card";
  li.dataset.id = String(item.id);
  for (const cid of item.images) {
    const img = document.createElement("img");
    // Served in the clear while it is published, even in privacy mode (/ipfs/ holds envelopes then).
    img.src = `/v1/feed/${item.id}/images/${cid}`;
    img.alt = `image ${cid.slice(0, 12)}… of contribution ${item.id}`;
    img.loading = "lazy";
    li.append(img);
  }
  const preview = document.createElement("p");
  preview.className = "feed-preview";
  preview.textContent = item.preview;
  const meta = document.createElement("p");
  meta.className = "help";
  const creator = document.createElement("span");
  creator.className = "mono feed-creator";
  creator.textContent = short(item.contributor);
  creator.title = item.contributor;
  const points = document.createElement("span");
  points.className = "feed-points";
  points.textContent = ` · ${item.points} points · `;
  const likes = document.createElement("span");
  likes.className = "feed-likes";
  likes.textContent = String(item.likes);
  const remixes = document.createElement("span");
  remixes.textContent = ` likes · ${item.remixes} remixes · `;
  const proof = document.createElement("a");
  proof.className = "feed-proof";
  proof.href = item.proof;
  proof.textContent = "proof";
  meta.append(creator, points, likes, remixes, proof);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "small feed-like";
  button.textContent = "Like";
  const status = document.createElement("p");
  status.className = "help feed-status";
  status.setAttribute("role", "status");
  button.addEventListener("click", () => like(item, button, status, likes));
  li.append(preview, meta, button, status);
  return li;
}

async function load() {
  const page = await getJson(`/v1/feed?limit=24${next ? `&cursor=${encodeURIComponent(next)}` : ""}`);
  byId("feed").append(...page.items.map(card));
  next = page.next;
  byId("more").hidden = !next;
  document.body.dataset.loaded = "true";
}

async function main() {
  config = await getJson("/v1/config");
  byId("more").addEventListener("click", () => load().catch((error) => showError(String(error.message))));
  await load();
}

main().catch((error) => showError(`The feed could not be loaded: ${error.message}`));
