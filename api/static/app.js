/**
 * The contributor page: an address in, its balance, contributions and the epoch list out, and a
 * "Verify" that checks a proof in this browser against the contract (see verify.js).
 *
 * Everything from the API is rendered with textContent, never as HTML, and links are accepted
 * only as http(s) URLs: a compromised API must not be able to run script in this page.
 *
 * @module app
 */

import { FormatError, parseAddress, toChecksumAddress } from "./hashing.js";
import { verifyBalance, verifyContribution } from "./verify.js";

/** How many contributions one page of the table shows. */
const PAGE_SIZE = 50;

/**
 * @typedef {object} PageState
 * @property {any} config `/v1/config`
 * @property {string|null} rpcUrl the chain RPC "Verify" reads roots through
 * @property {string|null} address the checksummed address shown
 * @property {number|null} contributionsNext cursor of the next contributions page
 * @property {number} run increases with every verification, so that a slow one cannot overwrite a newer one
 */

/** @type {PageState} */
const state = { config: null, rpcUrl: null, address: null, contributionsNext: null, run: 0 };

/** An API answer that was not 2xx, with the problem+json detail (DESIGN.md §8). */
class ApiError extends Error {
  name = "ApiError";

  /** @param {string} message @param {number} status @param {string|undefined} type */
  constructor(message, status, type) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

// --- small helpers -----------------------------------------------------------------------------

/**
 * GET a JSON document from our API.
 * @param {string} path
 * @returns {Promise<any>}
 */
async function api(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(body?.detail ?? `the server answered HTTP ${response.status}`, response.status, body?.type);
  }
  return body;
}

/** @param {string} id @returns {HTMLElement} */
function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

/**
 * Build an element. Strings among the children become text nodes, so data is never parsed as HTML.
 * @param {string} tag
 * @param {Record<string, any>} [attributes] `class`, `text`, `data` (dataset) or any attribute
 * @param {...(Node|string|null|undefined)} children
 * @returns {HTMLElement}
 */
function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name === "data") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) element.append(child);
  }
  return element;
}

/** @param {string} text @returns {string} the text with its first letter in lower case, to go mid-sentence */
function lowerFirst(text) {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/** @param {string} hex @returns {string} 0x1234…abcd */
function shortHex(hex) {
  return typeof hex === "string" && hex.length > 14 ? `${hex.slice(0, 6)}…${hex.slice(-4)}` : String(hex ?? "");
}

/** A hash shown short, whole in its tooltip and for screen readers. */
function hashCode(/** @type {string} */ hex) {
  return el("code", { title: hex, "aria-label": hex, text: shortHex(hex) });
}

/** @param {string|number} points a decimal string @returns {string} grouped for reading */
function formatPoints(points) {
  try {
    return BigInt(points).toLocaleString("en-US");
  } catch {
    return String(points);
  }
}

/** @param {number|null|undefined} seconds Unix time @returns {string} */
function formatTime(seconds) {
  if (!seconds) return "–";
  return new Date(seconds * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

/**
 * A URL from the API, kept only if it is http(s): never `javascript:` or `data:`.
 * @param {unknown} url
 * @returns {string|null}
 */
function safeHref(url) {
  if (typeof url !== "string") return null;
  try {
    const parsed = new URL(url, window.location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** @param {string|null} href @param {string|Node} content @returns {HTMLElement} a link, or the content alone */
function linkOrText(href, content) {
  return href ? el("a", { href, rel: "noopener noreferrer", target: "_blank" }, content) : el("span", {}, content);
}

/** @param {HTMLElement} element @param {boolean} visible */
function show(element, visible = true) {
  element.hidden = !visible;
}

/** @param {string} message */
function showAddressError(message) {
  const error = byId("address-error");
  error.textContent = message;
  show(error, Boolean(message));
  byId("address").setAttribute("aria-invalid", message ? "true" : "false");
}

// --- configuration and epochs ------------------------------------------------------------------

async function loadConfig() {
  state.config = await api("/v1/config");
  state.rpcUrl = state.config.rpcUrl ?? null;
  /** @type {HTMLInputElement} */ (byId("rpc-url")).value = state.rpcUrl ?? "";
  renderChainLine();
}

function renderChainLine() {
  const { chainId, contract } = state.config;
  const line = byId("chain-line");
  line.replaceChildren(
    `Chain ${chainId}, contract `,
    el("code", { text: contract }),
    ". Verify reads roots from the contract through ",
    state.rpcUrl ? el("code", { text: state.rpcUrl }) : el("strong", { text: "no RPC URL (enter one below)" }),
    ".",
  );
}

async function loadEpochs() {
  const body = byId("epochs").querySelector("tbody");
  try {
    const epochs = await api("/v1/epochs?limit=50");
    body.replaceChildren(...epochs.items.map(epochRow));
    show(byId("epochs-empty"), epochs.items.length === 0);
  } catch (error) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "error", text: `Epochs cannot be loaded: ${error.message}` })));
  }
}

/** @param {any} epoch an item of `/v1/epochs` @returns {HTMLElement} */
function epochRow(epoch) {
  const tx = epoch.transaction;
  const txCell = tx
    ? linkOrText(safeHref(epoch.explorer?.transaction), hashCode(tx.hash))
    : el("span", { class: "hint", text: "not sent yet" });
  return el(
    "tr",
    { data: { epoch: String(epoch.epoch) } },
    el("td", { "data-label": "Epoch", class: "num", text: String(epoch.epoch) }),
    el("td", { "data-label": "State" }, el("span", { class: `badge ${epoch.state}`, text: epoch.state })),
    el("td", { "data-label": "New contributions", class: "num", text: String(epoch.contributions ?? "–") }),
    el("td", { "data-label": "Log size", class: "num", text: String(epoch.logSize) }),
    el("td", { "data-label": "Log root" }, hashCode(epoch.logRoot)),
    el("td", { "data-label": "Transaction" }, txCell),
    el("td", { "data-label": "Sealed", text: formatTime(epoch.sealedAt) }),
  );
}

// --- the account -------------------------------------------------------------------------------

/**
 * Show an address: balance, pending points, contributions. Mixed-case input must be a valid
 * EIP-55 checksum, so a typo is reported rather than showing a stranger's (empty) account.
 * @param {string} input
 */
async function showAccount(input) {
  let address;
  try {
    address = toChecksumAddress(parseAddress(input.trim(), "The address"));
  } catch (error) {
    if (!(error instanceof FormatError)) throw error;
    showAddressError(`${error.message}. An address is 0x followed by 40 hex digits.`);
    return;
  }
  showAddressError("");
  state.address = address;
  /** @type {HTMLInputElement} */ (byId("address")).value = address;
  const url = new URL(window.location.href);
  url.searchParams.set("address", address);
  window.history.replaceState(null, "", url);

  try {
    const [account, contributions] = await Promise.all([
      api(`/v1/accounts/${address}?limit=1`),
      api(`/v1/accounts/${address}/contributions?limit=${PAGE_SIZE}`),
    ]);
    if (state.address !== address) return; // another address was asked for meanwhile
    byId("account-address").textContent = address;
    byId("balance").textContent = formatPoints(account.balance);
    byId("pending").textContent = formatPoints(account.pending);
    show(byId("account"));
    renderContributions(contributions, false);
  } catch (error) {
    showAddressError(`This account cannot be loaded: ${error.message}`);
  }
}

/**
 * @param {{items: any[], next: number|null}} page
 * @param {boolean} append add to the rows already shown (the "older" button)
 */
function renderContributions(page, append) {
  const body = byId("contributions").querySelector("tbody");
  const rows = page.items.map(contributionRow);
  if (append) body.append(...rows);
  else body.replaceChildren(...rows);
  state.contributionsNext = page.next;
  show(byId("contributions"));
  show(byId("contributions-empty"), body.children.length === 0);
  show(byId("contributions-more"), page.next !== null);
}

/** @param {any} item an item of `/v1/accounts/{address}/contributions` @returns {HTMLElement} */
function contributionRow(item) {
  const inEpoch = item.epoch !== null && item.epoch !== undefined;
  // One wrapper per cell: on phones each cell is a two-column grid (label, content).
  const status = el("span", {}, el("span", { class: `badge ${item.status}`, text: item.status }));
  if (inEpoch) status.append(" ", el("span", { class: "hint", text: `epoch ${item.epoch}, #${item.logIndex}` }));

  const button = el("button", {
    type: "button",
    class: "small",
    text: "Verify",
    "aria-label": `Verify contribution ${item.id}`,
    disabled: !inEpoch,
    title: inEpoch ? null : "Not in an epoch yet: it can be verified once its epoch is anchored",
  });
  button.addEventListener("click", () => verifyContributionOf(item));
  return el(
    "tr",
    { data: { contributionId: String(item.id) } },
    el("td", { "data-label": "ID", class: "num", text: String(item.id) }),
    el("td", { "data-label": "Content hash" }, hashCode(item.contentHash)),
    el("td", { "data-label": "Points", class: "num", text: formatPoints(item.points) }),
    el("td", { "data-label": "Status" }, status),
    el("td", { "data-label": "Storage" }, storageCell(item)),
    el("td", { class: "actions" }, button),
  );
}

/** What the API's `storage` values mean to a contributor. */
const STORAGE_LABELS = { local: "stored, pinning to IPFS", pinned: "pinned on IPFS" };

/**
 * Where the conversation is stored: the API's `storage` (`local` until pinned to IPFS, then
 * `pinned`), `encrypted` (privacy mode) and `erased`, with a link to its blocks by CID.
 * @param {any} item
 * @returns {HTMLElement}
 */
function storageCell(item) {
  if (item.erased) return el("span", { class: "storage", text: "erased" });
  const state = STORAGE_LABELS[item.storage] ?? item.storage ?? "stored";
  const label = `${state}${item.encrypted ? ", encrypted" : ""} `;
  if (!item.cid) return el("span", { class: "storage", text: label });
  return el(
    "a",
    {
      class: "storage",
      href: `/ipfs/${encodeURIComponent(item.cid)}?format=car`,
      download: `${item.cid}.car`,
      title: `Stored content-addressed as ${item.cid}: download the blocks (CAR) and check them against the CID`,
    },
    label,
    el("code", { text: shortHex(item.cid) }),
  );
}

async function loadOlderContributions() {
  if (!state.address || state.contributionsNext === null) return;
  try {
    const page = await api(`/v1/accounts/${state.address}/contributions?limit=${PAGE_SIZE}&before=${state.contributionsNext}`);
    renderContributions(page, true);
  } catch (error) {
    showAddressError(`Older contributions cannot be loaded: ${error.message}`);
  }
}

async function connectWallet() {
  try {
    const accounts = await window.ethereum.request({ method: "eth_requestAccounts" });
    if (accounts?.length) await showAccount(accounts[0]);
  } catch (error) {
    showAddressError(`The wallet did not share an address: ${error.message}`);
  }
}

// --- verification ------------------------------------------------------------------------------

/** @param {any} item a contribution row */
function verifyContributionOf(item) {
  return runVerification(`Contribution #${item.id}`, `/v1/contributions/${item.id}/proof`, (bundle, options) =>
    verifyContribution(bundle, chainConfig(), { ...options, account: state.address ?? undefined, contentHash: item.contentHash }),
  );
}

function verifyAccountBalance() {
  if (!state.address) return;
  const address = state.address;
  return runVerification(`The balance of ${shortHex(address)}`, `/v1/accounts/${address}/proof`, (bundle, options) =>
    verifyBalance(bundle, chainConfig(), { ...options, account: address }),
  );
}

/** @returns {import("./verify.js").ChainConfig} the chain as configured, with the RPC URL in use */
function chainConfig() {
  return { rpcUrl: state.rpcUrl, chainId: state.config.chainId, contract: state.config.contract };
}

/**
 * Fetch a bundle from our API, check it in the browser, and show each check as it finishes.
 * @param {string} title what is being verified, for the summary line
 * @param {string} path the bundle's API path
 * @param {(bundle: any, options: import("./verify.js").VerifyOptions) => Promise<import("./verify.js").Report>} check
 */
async function runVerification(title, path, check) {
  const run = ++state.run;
  const panel = byId("result");
  const summary = byId("result-summary");
  const list = byId("result-checks");
  panel.className = "card result";
  panel.dataset.state = "running";
  panel.dataset.failedCheck = "";
  summary.textContent = `Verifying ${lowerFirst(title)}…`;
  list.replaceChildren();
  byId("result-details").replaceChildren();
  show(panel);
  panel.scrollIntoView({ block: "start" });
  panel.focus({ preventScroll: true });

  let bundle;
  try {
    bundle = await api(path);
  } catch (error) {
    if (run !== state.run) return;
    panel.className = "card result failed";
    panel.dataset.state = "error";
    summary.textContent = error.type?.endsWith("/not-anchored")
      ? `Not verifiable yet: ${error.message}`
      : `The proof cannot be fetched: ${error.message}`;
    return;
  }
  if (run !== state.run) return;

  let report;
  try {
    report = await check(bundle, {
      onCheck: (item) => {
        if (run === state.run) list.append(checkItem(item));
      },
    });
  } catch (error) {
    // A bug or an unexpected answer, not a failed check: say so rather than claim a verdict.
    report = { ok: false, checks: [], failed: { name: "page", ok: false, detail: error.message } };
    list.append(checkItem(report.failed));
  }
  if (run !== state.run) return;

  panel.className = `card result ${report.ok ? "verified" : "failed"}`;
  panel.dataset.state = report.ok ? "verified" : "failed";
  panel.dataset.failedCheck = report.failed?.name ?? "";
  summary.textContent = report.ok
    ? `✓ Verified: ${lowerFirst(provenStatement(bundle, title))}, as anchored on chain ${bundle.chainId}.`
    : `✗ Not verified: the ${report.failed?.name} check failed. ${title} is not proven by this bundle.`;
  if (bundle !== null && typeof bundle === "object" && bundle.header) {
    byId("result-details").replaceChildren(resultDetails(bundle, title, report.ok));
  }
}

/**
 * What a verified bundle proves, in words.
 * @param {any} bundle
 * @param {string} title
 * @returns {string}
 */
function provenStatement(bundle, title) {
  const epoch = bundle.header.epoch;
  if (bundle.kind === "balance") return `${title} is ${formatPoints(bundle.leaf.balance)} points in epoch ${epoch}`;
  return `${title} is in the log of epoch ${epoch}`;
}

/** @param {import("./verify.js").Check} check @returns {HTMLElement} */
function checkItem(check) {
  return el(
    "li",
    { data: { check: check.name, ok: String(check.ok) } },
    el("span", { class: "mark", "aria-hidden": "true", text: check.ok ? "✓" : "✗" }),
    el("span", { class: "check-name" }, el("span", { class: "visually-hidden", text: check.ok ? "passed: " : "failed: " }), check.name),
    el("span", { class: "check-detail", text: check.detail }),
  );
}

/**
 * The transaction, the explorer's "Read contract" arguments with copy buttons, and a download.
 * @param {any} bundle
 * @param {string} title
 * @param {boolean} verified whether every check passed: if not, the arguments are shown as the
 *   bundle's claim, for reporting, not as something that will check out
 * @returns {HTMLElement}
 */
function resultDetails(bundle, title, verified) {
  const block = el("div", { class: "details-block" });
  const explorer = bundle.explorer ?? null;

  block.append(el("h3", { text: "Anchoring transaction" }));
  const tx = bundle.transaction;
  if (tx?.hash) {
    const href = safeHref(explorer?.transaction);
    block.append(
      el(
        "p",
        { id: "result-transaction" },
        linkOrText(href, el("code", { text: tx.hash })),
        ` in block ${tx.blockNumber ?? "?"}`,
        href ? null : el("span", { class: "hint", text: ` (no block explorer is known for chain ${bundle.chainId})` }),
      ),
    );
  } else {
    block.append(el("p", { class: "hint", text: "The bundle names no transaction." }));
  }

  const verify = bundle.verify;
  if (verify?.fields) {
    block.append(el("h3", { text: verified ? "Check it yourself on a block explorer" : "The bundle's explorer arguments (not verified)" }));
    const readContract = safeHref(explorer?.readContract);
    block.append(
      el(
        "p",
        {},
        readContract
          ? el("a", { id: "result-read-contract", href: readContract, rel: "noopener noreferrer", target: "_blank" }, "Open the contract's \"Read contract\" tab")
          : `No block explorer is known for chain ${bundle.chainId}; use any explorer's "Read contract" tab (or cast call)`,
        verified ? " and call this view with the arguments below; it answers true." : " and call this view with the arguments below.",
      ),
      el("code", { class: "signature", text: verify.function }),
    );
    const fields = el("dl", { class: "fields", id: "result-fields" });
    for (const [name, value] of Object.entries(verify.fields)) {
      const code = el("code", { text: String(value) });
      const button = el("button", { type: "button", class: "small secondary", "aria-label": `Copy ${name}`, text: "Copy" });
      button.addEventListener("click", () => copyText(String(value), button, code));
      fields.append(el("div", { data: { field: name } }, el("dt", { text: name }), el("dd", {}, code), button));
    }
    block.append(fields);
  }

  const file = new Blob([JSON.stringify(bundle, null, 2)], { type: "application/json" });
  const name = `tally-proof-${bundle.kind}-${bundle.leaf?.id ?? bundle.leaf?.account ?? "x"}-epoch-${bundle.header?.epoch}.json`;
  block.append(
    el("p", {}, el("a", { href: URL.createObjectURL(file), download: name }, `Download this proof (${title.toLowerCase()}) as JSON`)),
  );
  return block;
}

/**
 * Copy to the clipboard; where the browser refuses (no permission, plain http), select the text
 * so that the contributor can copy it by hand.
 * @param {string} text
 * @param {HTMLElement} button
 * @param {HTMLElement} code the element showing the text
 */
async function copyText(text, button, code) {
  let message = "Copied";
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const range = document.createRange();
    range.selectNodeContents(code);
    const selection = window.getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    message = "Selected: press Ctrl+C";
  }
  const note = el("span", { class: "copied", role: "status", text: message });
  button.after(note);
  setTimeout(() => note.remove(), 2000);
}

// --- wiring ------------------------------------------------------------------------------------

async function main() {
  byId("address-form").addEventListener("submit", (event) => {
    event.preventDefault();
    showAccount(/** @type {HTMLInputElement} */ (byId("address")).value);
  });
  byId("verify-balance").addEventListener("click", verifyAccountBalance);
  byId("contributions-more").addEventListener("click", loadOlderContributions);
  byId("rpc-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const url = safeHref(/** @type {HTMLInputElement} */ (byId("rpc-url")).value.trim());
    if (url) {
      state.rpcUrl = url;
      renderChainLine();
    }
  });
  if (window.ethereum?.request) {
    const connect = byId("connect");
    show(connect);
    connect.addEventListener("click", connectWallet);
  }

  try {
    await loadConfig();
  } catch (error) {
    byId("chain-line").textContent = `The configuration cannot be loaded: ${error.message}`;
    return;
  }
  const fromUrl = new URLSearchParams(window.location.search).get("address");
  await Promise.all([loadEpochs(), fromUrl ? showAccount(fromUrl) : Promise.resolve()]);
  document.body.dataset.ready = "true";
}

main();
