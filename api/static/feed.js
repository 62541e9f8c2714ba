// The public feed page (docs/feed.md): cards from GET /v1/feed, and what a wallet (EIP-1193
// `window.ethereum`, eth_signTypedData_v4) signs here with the EIP-712 types GET /v1/config
// publishes: Like and Remix (Engage, kind 1 and 2) on any card, posted to
// POST /v1/contributions/{id}:engage; Withdraw on the connected contributor's own cards and
// Publish on their unpublished contributions (Publish, visible false or true), posted to
// POST /v1/contributions/{id}:publish. Every refusal is said in words where it happened.
// No inline script: the page's CSP is script-src 'self'.

const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {any} */
let config = null;
/** @type {string | null} */
let next = null;
/** The connected wallet's address, once it gave one. @type {string | null} */
let account = null;
/** The connected account's contributions (GET /v1/accounts/{address}/contributions). @type {any[]} */
let own = [];

async function getJson(/** @type {string} */ url, /** @type {RequestInit} */ init = {}) {
  const response = await fetch(url, init);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const retry = Number(response.headers.get("Retry-After"));
    const later = response.status === 429 && retry > 0 ? ` (try again in ${waitWords(retry)})` : "";
    throw new Error(`${body.detail || `${url} answered ${response.status}`}${later}`);
  }
  return body;
}

function waitWords(/** @type {number} */ seconds) {
  if (seconds < 120) return `${seconds} s`;
  return seconds < 7200 ? `${Math.ceil(seconds / 60)} min` : `${Math.ceil(seconds / 3600)} h`;
}

function showError(/** @type {string} */ words) {
  const error = byId("feed-error");
  error.textContent = words;
  error.hidden = false;
}

function notice(/** @type {string} */ words) {
  byId("feed-notice").textContent = words;
}

function short(/** @type {string} */ address) {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}

const same = (/** @type {string} */ a, /** @type {string} */ b) => a.toLowerCase() === b.toLowerCase();
const reason = (/** @type {any} */ error) => error?.message ?? String(error);

function wallet() {
  const ethereum = /** @type {any} */ (globalThis).ethereum;
  if (!ethereum?.request) throw new Error("there is no wallet in this browser: install one (MetaMask, Rabby, …)");
  return ethereum;
}

/** The wallet's account, asked for once; connecting shows the account's own contributions, and
 * the page follows the wallet when its user switches accounts or disconnects (EIP-1193
 * `accountsChanged`). */
async function connect() {
  if (account) return account;
  const ethereum = wallet();
  const accounts = await ethereum.request({ method: "eth_requestAccounts" });
  const given = String(accounts?.[0] ?? "");
  if (!given) throw new Error("the wallet gave no account");
  await become(given);
  if (!following) {
    following = true;
    ethereum.on?.("accountsChanged", (/** @type {unknown} */ changed) => {
      const now = String((Array.isArray(changed) ? changed[0] : "") ?? "");
      if (account && now && same(account, now)) return;
      become(now || null).catch((error) => showError(`The wallet's new account could not be shown: ${reason(error)}`));
    });
  }
  return given;
}

/** Whether the page listens to the wallet's account changes (once, whatever the connections). */
let following = false;
/** Account changes asked for so far: only the latest one is shown. */
let switches = 0;

/** Show `address` as the connected account with its contributions and its cards' Withdraw, or,
 * with null, no account: what an earlier account could do leaves the page with it. */
async function become(/** @type {string | null} */ address) {
  const turn = ++switches;
  const mine = address ? await contributionsOf(address) : [];
  if (turn !== switches) return; // the wallet switched again meanwhile: the later account wins
  account = address;
  own = mine;
  const shown = byId("account");
  shown.textContent = address ? `Connected: ${address}` : "";
  shown.hidden = !address;
  byId("connect").hidden = Boolean(address);
  if (address) renderOwn();
  else byId("mine").hidden = true;
  for (const li of document.querySelectorAll("#feed > li")) refreshOwnActions(/** @type {HTMLElement} */ (li));
}

/** An account's contributions, newest first (its newest 1,000 at most). */
async function contributionsOf(/** @type {string} */ address) {
  /** @type {any[]} */
  const all = [];
  let before = null;
  do {
    const page = await getJson(`/v1/accounts/${address}/contributions?limit=200${before ? `&before=${before}` : ""}`);
    all.push(...page.items);
    before = page.next;
  } while (before && all.length < 1000);
  return all;
}

/** The connected account's contributions again, after one was published or withdrawn: done
 * all the same if they cannot be read, so the page says so beside what was done. */
async function refreshOwn() {
  if (!account) return;
  try {
    own = await contributionsOf(account);
    renderOwn();
  } catch (error) {
    notice(`${byId("feed-notice").textContent} Your contributions could not be listed again: ${reason(error)}`);
  }
}

/** A random 48-bit nonce: unique per signer in practice, and refused (409) in the rare clash. */
const freshNonce = () => String(Math.floor(Math.random() * 2 ** 48));

async function signTyped(/** @type {string} */ signer, /** @type {"publish" | "engage"} */ name,
                         /** @type {Record<string, unknown>} */ message) {
  const typed = config.eip712[name];
  const typedData = { types: typed.types, primaryType: typed.primaryType, domain: config.eip712.domain, message };
  return wallet().request({ method: "eth_signTypedData_v4", params: [signer, JSON.stringify(typedData)] });
}

/** Sign and post an Engage with the card's contribution: kind 1 (like), or 2 (remix) naming `remix`. */
async function engage(/** @type {any} */ item, /** @type {1 | 2} */ kind, /** @type {string | undefined} */ remix) {
  const actor = await connect();
  const nonce = freshNonce();
  const issuedAt = Math.floor(Date.now() / 1000);
  const signature = await signTyped(actor, "engage", { actor, contentHash: item.contentHash, kind, nonce, issuedAt });
  return getJson(`/v1/contributions/${item.id}:engage`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ actor, kind, nonce, issuedAt, signature, ...(remix ? { remix } : {}) }),
  });
}

/** Sign and post the connected contributor's Publish of a contribution: shown, or withdrawn. */
async function publish(/** @type {{id: number, contentHash: string, contributor: string}} */ item,
                       /** @type {boolean} */ visible) {
  const signer = await connect();
  if (!same(signer, item.contributor)) {
    throw new Error(`only its contributor ${short(item.contributor)} can, and the wallet is ${short(signer)}`);
  }
  const nonce = freshNonce();
  const issuedAt = Math.floor(Date.now() / 1000);
  const signature = await signTyped(signer, "publish", {
    contributor: item.contributor, contentHash: item.contentHash, visible, nonce, issuedAt });
  return getJson(`/v1/contributions/${item.id}:publish`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ visible, nonce, issuedAt, signature }),
  });
}

function button(/** @type {string} */ label, /** @type {string} */ className) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = `small ${className}`;
  b.textContent = label;
  return b;
}

/** Run a card's action with its button disabled; a refusal is said on the card's status line. */
async function act(/** @type {HTMLButtonElement} */ trigger, /** @type {HTMLElement} */ status,
                   /** @type {string} */ refused, /** @type {() => Promise<string | null>} */ run) {
  trigger.disabled = true;
  try {
    const said = await run();
    if (said !== null) status.textContent = said;
  } catch (error) {
    status.textContent = `${refused}: ${reason(error)}`;
  } finally {
    trigger.disabled = false;
  }
}

function remixForm(/** @type {any} */ item, /** @type {HTMLElement} */ status, /** @type {HTMLElement} */ remixes) {
  const form = document.createElement("form");
  form.className = "feed-remix";
  form.hidden = true;
  const n = item.id;
  const pickLabel = document.createElement("label");
  pickLabel.htmlFor = `remix-pick-${n}`;
  pickLabel.textContent = "Your contribution that builds on it";
  const pick = document.createElement("select");
  pick.id = `remix-pick-${n}`;
  pick.className = "feed-remix-pick";
  const pasteLabel = document.createElement("label");
  pasteLabel.htmlFor = `remix-hash-${n}`;
  pasteLabel.textContent = "or its contentHash";
  const paste = document.createElement("input");
  paste.id = `remix-hash-${n}`;
  paste.className = "feed-remix-hash";
  paste.placeholder = "0x…";
  paste.autocomplete = "off";
  paste.spellcheck = false;
  const sign = document.createElement("button");
  sign.type = "submit";
  sign.className = "small feed-remix-sign";
  sign.textContent = "Sign remix";
  const row = document.createElement("div");
  row.className = "input-row";
  row.append(sign);
  form.append(pickLabel, pick, pasteLabel, paste, row);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(sign, status, "Not remixed", async () => {
      const remix = paste.value.trim() || pick.value;
      if (!/^0x[0-9a-fA-F]{64}$/.test(remix)) {
        throw new Error("choose one of your contributions, or paste its contentHash (0x and 64 hex digits)");
      }
      const counted = await engage(item, 2, remix.toLowerCase());
      remixes.textContent = String(Number(remixes.textContent) + 1);
      form.hidden = true;
      return `Remixed: ${short(item.contributor)} earned ${counted.points} points.`;
    });
  });
  return { form, pick };
}

function fillPick(/** @type {HTMLSelectElement} */ pick, /** @type {any} */ item) {
  const choices = own.filter((c) => !c.erased && c.id !== item.id);
  pick.replaceChildren(...choices.map((c) => {
    const option = document.createElement("option");
    option.value = c.contentHash;
    option.textContent = `#${c.id} · ${c.messages} messages · ${c.points} points`;
    return option;
  }));
  if (!choices.length) {
    const none = document.createElement("option");
    none.value = "";
    none.textContent = "none yet: submit one, or paste a contentHash";
    pick.append(none);
  }
}

function card(/** @type {any} */ item) {
  const li = document.createElement("li");
  li.className = item.images.length ? "feed-card feed-image" : "feed-card";
  li.dataset.id = String(item.id);
  li.dataset.contributor = item.contributor;
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
  remixes.className = "feed-remixes";
  remixes.textContent = String(item.remixes);
  const proof = document.createElement("a");
  proof.className = "feed-proof";
  proof.href = item.proof;
  proof.textContent = "proof";
  meta.append(creator, points, likes, " likes · ", remixes, " remixes · ", proof);
  const status = document.createElement("p");
  status.className = "help feed-status";
  status.setAttribute("role", "status");
  const like = button("Like", "feed-like");
  like.addEventListener("click", () => act(like, status, "Not liked", async () => {
    const counted = await engage(item, 1);
    likes.textContent = String(Number(likes.textContent) + 1);
    return `Liked: ${short(item.contributor)} earned ${counted.points} points.`;
  }));
  const { form, pick } = remixForm(item, status, remixes);
  const remix = button("Remix", "secondary feed-remix-open");
  remix.setAttribute("aria-expanded", "false");
  remix.addEventListener("click", () => act(remix, status, "Cannot remix", async () => {
    if (!form.hidden) {
      form.hidden = true;
      remix.setAttribute("aria-expanded", "false");
      return null;
    }
    await connect();
    fillPick(pick, item);
    form.hidden = false;
    remix.setAttribute("aria-expanded", "true");
    return "";
  }));
  const actions = document.createElement("div");
  actions.className = "feed-actions";
  actions.append(like, remix);
  li.append(preview, meta, actions, form, status);
  refreshOwnActions(li, item);
  return li;
}

/** The item each card was made from, to add Withdraw to the connected contributor's own. */
const cardItems = new WeakMap();

function refreshOwnActions(/** @type {HTMLElement} */ li, /** @type {any} */ item = cardItems.get(li)) {
  cardItems.set(li, item);
  const mine = Boolean(account && same(account, item.contributor));
  const existing = li.querySelector(".feed-withdraw");
  if (existing && !mine) existing.remove();
  if (!mine || existing) return;
  const status = /** @type {HTMLElement} */ (li.querySelector(".feed-status"));
  const withdraw = button("Withdraw", "secondary feed-withdraw");
  withdraw.addEventListener("click", () => act(withdraw, status, "Not withdrawn", async () => {
    await publish(item, false);
    li.remove();
    notice(`Contribution ${item.id} was withdrawn: it is no longer in the feed.`);
    await refreshOwn();
    return null;
  }));
  /** @type {HTMLElement} */ (li.querySelector(".feed-actions")).append(withdraw);
}

function renderOwn() {
  const list = byId("mine-list");
  const unpublished = own.filter((c) => !c.published && !c.erased);
  list.replaceChildren(...unpublished.map(ownRow));
  byId("mine-empty").hidden = unpublished.length > 0;
  byId("mine").hidden = false;
}

function ownRow(/** @type {any} */ contribution) {
  const li = document.createElement("li");
  li.dataset.id = String(contribution.id);
  const what = document.createElement("p");
  what.className = "mine-what";
  const accepted = new Date(contribution.acceptedAt * 1000).toISOString().slice(0, 10);
  const day = document.createElement("span");
  day.className = "mine-day";
  day.textContent = accepted;
  what.append(`#${contribution.id} · ${contribution.messages} messages · ${contribution.points} points · `, day);
  const hash = document.createElement("code");
  hash.className = "mine-hash";
  hash.textContent = contribution.contentHash;
  what.append(" ", hash);
  const status = document.createElement("p");
  status.className = "help mine-status";
  status.setAttribute("role", "status");
  const go = button("Publish", "mine-publish");
  go.addEventListener("click", () => act(go, status, "Not published", async () => {
    await publish(contribution, true);
    notice(`Contribution ${contribution.id} is in the feed.`);
    try {
      const item = await getJson(`/v1/feed/${contribution.id}`);
      const feed = byId("feed");
      feed.querySelector(`li[data-id='${contribution.id}']`)?.remove();
      feed.prepend(card(item));
    } catch (error) {
      notice(`Contribution ${contribution.id} is in the feed; reload the page to see its card (${reason(error)}).`);
    }
    await refreshOwn();
    return null;
  }));
  li.append(what, go, status);
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
  byId("connect").addEventListener("click", () => connect().catch(
    (error) => showError(`The wallet did not connect: ${reason(error)}`)));
  await load();
}

main().catch((error) => showError(`The feed could not be loaded: ${error.message}`));
