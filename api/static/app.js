/**
 * The contributor page: an address in, its balance, contributions and the epoch list out, and a
 * "Verify" that checks a proof in this browser against the contract (see verify.js). While
 * something of the account is not in a final epoch yet, the page says "not yet" (never a failure),
 * when the next epoch is sealed, and refreshes by itself until it is final (status.js has the words).
 *
 * Everything from the API is rendered with textContent, never as HTML, and links are accepted
 * only as http(s) URLs: a compromised API must not be able to run script in this page.
 *
 * @module app
 */

import { FormatError, parseAddress, toChecksumAddress } from "./hashing.js";
import {
  balanceNotYetText,
  balanceReadiness,
  contributionReadiness,
  latestFinalEpoch,
  nextSealText,
  storageWords,
} from "./status.js";
import { verifyBalance, verifyContribution } from "./verify.js";
import { ClaimError, claimWithWallet } from "./claim.js";

/** How many contributions one page of the table shows. */
const PAGE_SIZE = 50;

/**
 * Seconds between refreshes while something of the account is on its way to a final epoch, and
 * the most the wait grows to while nothing changes (the sealing job may not be running at all):
 * gentle on the server, yet pending, sealed and final show up without a reload.
 */
const POLL_SECONDS = 3;
const MAX_POLL_SECONDS = 30;

/**
 * @typedef {object} PageState
 * @property {any} config `/v1/config`
 * @property {string|null} rpcUrl the chain RPC "Verify" reads roots through
 * @property {string|null} address the checksummed address shown
 * @property {number|null} contributionsNext cursor of the next contributions page
 * @property {number} run increases with every verification, so that a slow one cannot overwrite a newer one
 * @property {any[]|null} epochs the newest epochs, null until they could be read
 * @property {any} account `/v1/accounts/{address}?limit=1` of the address shown
 * @property {any[]} recent the newest page of its contributions, as last read
 * @property {import("./status.js").Readiness|null} readiness whether its balance can be verified now
 * @property {string} seen what the last refresh showed, to tell whether anything changed
 * @property {number} unchanged refreshes in a row that changed nothing
 * @property {number|null} pollTimer
 * @property {boolean} claiming a claim is on its way: the button waits
 */

/** @type {PageState} */
const state = {
  config: null, rpcUrl: null, address: null, contributionsNext: null, run: 0,
  epochs: null, account: null, recent: [], readiness: null, seen: "", unchanged: 0, pollTimer: null,
  claiming: false,
  /** Whether the account shown is the wallet's: then the page follows the wallet's account. */
  fromWallet: false,
  followingWallet: false,
};

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

/** Read `/v1/config` again for what changes while the page is open: the sealing schedule. */
async function refreshSchedule() {
  const config = await api("/v1/config");
  state.config = { ...state.config, sealing: config.sealing, storage: config.storage };
  renderSchedule();
}

/** @returns {number} Unix seconds */
function nowSeconds() {
  return Date.now() / 1000;
}

/**
 * Every place that says when the next epoch is sealed: a relative time, so it is redrawn each
 * second (text only, outside live regions, so that screen readers are not told every second).
 */
function renderSchedule() {
  const text = nextSealText(state.config?.sealing, nowSeconds());
  for (const element of document.querySelectorAll(".next-seal")) {
    if (element.textContent !== (text ?? "")) element.textContent = text ?? "";
  }
  show(byId("epochs-next-seal"), text !== null);
  show(byId("next-seal"), text !== null && state.account !== null && BigInt(state.account.pending) > 0n
    && state.readiness?.waitingFor !== "pending");
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
    state.epochs = epochs.items;
    body.replaceChildren(...epochs.items.map(epochRow));
    show(byId("epochs-empty"), epochs.items.length === 0);
    if (state.account) renderBalanceReadiness();
  } catch (error) {
    state.epochs = null;
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

  state.account = null;
  state.recent = [];
  state.seen = "";
  state.unchanged = 0;
  try {
    await loadAccount(address, false);
  } catch (error) {
    showAddressError(`This account cannot be loaded: ${error.message}`);
  }
  schedulePoll();
}

/**
 * Read the account and its newest contributions and show them.
 * @param {string} address
 * @param {boolean} merge keep the rows shown (older pages included) and update them in place,
 *   rather than starting the table again
 */
async function loadAccount(address, merge) {
  const [account, contributions] = await Promise.all([
    api(`/v1/accounts/${address}?limit=1`),
    api(`/v1/accounts/${address}/contributions?limit=${PAGE_SIZE}`),
  ]);
  if (state.address !== address) return; // another address was asked for meanwhile
  state.account = account;
  state.recent = contributions.items;
  byId("account-address").textContent = address;
  byId("balance").textContent = formatPoints(account.balance);
  byId("pending").textContent = formatPoints(account.pending);
  renderBalanceReadiness();
  renderRewards();
  show(byId("account"));
  if (merge) mergeContributions(contributions);
  else renderContributions(contributions, false);
}

/**
 * "Verify balance" only once there is a final epoch to prove the balance in; until then the
 * button is off and a neutral note says what it waits for and when the next epoch is sealed.
 */
function renderBalanceReadiness() {
  const latestFinal = state.epochs === null ? undefined : latestFinalEpoch(state.epochs);
  const readiness = balanceReadiness(state.account, latestFinal, state.epochs ?? []);
  state.readiness = readiness;
  /** @type {HTMLButtonElement} */ (byId("verify-balance")).disabled = !readiness.verifiable;
  const note = byId("verify-balance-note");
  note.dataset.waitingFor = readiness.waitingFor ?? "";
  byId("verify-balance-why").textContent = balanceNotYetText(readiness);
  show(note, !readiness.verifiable);
  show(byId("verify-balance-when"), readiness.waitingFor === "pending");
  renderSchedule();
}

/**
 * What the rewards contract has paid the account and what it would pay now (`/v1/accounts`:
 * `claimed` from its Claimed events, `claimable` against the latest anchored balance), and the
 * Claim button, which the wallet of this browser sends (claim.js).
 */
function renderRewards() {
  const rewards = state.config?.rewards;
  const account = state.account;
  show(byId("rewards"), Boolean(rewards && account && account.claimed !== null));
  if (!rewards || !account || account.claimed === null) return;
  byId("claimed").textContent = formatPoints(account.claimed);
  byId("claimable").textContent = formatPoints(account.claimable ?? "0");
  const owed = BigInt(account.claimable ?? "0");
  const wallet = Boolean(window.ethereum?.request);
  /** @type {HTMLButtonElement} */ (byId("claim")).disabled = state.claiming || owed === 0n || !wallet || !state.rpcUrl;
  const units = owed * BigInt(rewards.unitsPerPoint);
  byId("claim-help").textContent = !wallet
    ? "Claim with a wallet in this browser, or with tally claim --key KEYFILE. The tokens go to this address, whoever sends the claim."
    : owed === 0n
      ? "Nothing to claim: every point anchored in the latest final epoch is paid out."
      : `Your wallet sends TallyRewards.claim with this balance's proof in the latest final epoch: ${units} units of the token ${rewards.token} go to ${state.address}, whoever pays the gas.`;
}

async function claimRewards() {
  const address = state.address;
  const rewards = state.config?.rewards;
  if (!address || !rewards || !state.rpcUrl) return;
  const status = byId("claim-status");
  const say = (/** @type {string} */ text, /** @type {string} */ kind) => {
    status.textContent = text;
    status.dataset.state = kind;
    show(status);
  };
  state.claiming = true;
  renderRewards();
  try {
    say("Fetching the balance proof…", "running");
    const bundle = await api(`/v1/accounts/${address}/proof`);
    const { hash, event } = await claimWithWallet({
      ethereum: window.ethereum, rpcUrl: state.rpcUrl, chainId: state.config.chainId, rewards: rewards.contract,
      bundle, onStatus: (text) => say(text, "running"),
    });
    const paid = event.amount / BigInt(rewards.unitsPerPoint);
    say(`Claimed: ${formatPoints(String(paid))} points paid as ${event.amount} token units to ${event.account} `
      + `(epoch ${event.epoch}, transaction ${hash}).`, "ok");
  } catch (error) {
    const words = error instanceof ClaimError || error instanceof ApiError ? error.message : `unexpected: ${error.message}`;
    say(`Not claimed: ${words}`, "failed");
  } finally {
    state.claiming = false;
    await loadAccount(address, true).catch(() => {});
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

/**
 * Update the rows of a fresh newest page in place: a row is replaced only when what it shows
 * changed (so a focused button stays focused), new contributions go in by id, newest first, and
 * older pages already loaded stay.
 * @param {{items: any[]}} page
 */
function mergeContributions(page) {
  const body = byId("contributions").querySelector("tbody");
  for (const item of page.items) {
    const row = contributionRow(item);
    const rows = /** @type {HTMLElement[]} */ ([...body.children]);
    const existing = rows.find((tr) => tr.dataset.contributionId === String(item.id));
    if (existing) {
      if (existing.dataset.shows !== row.dataset.shows) existing.replaceWith(row);
      continue;
    }
    const older = rows.find((tr) => Number(tr.dataset.contributionId) < item.id);
    body.insertBefore(row, older ?? null);
  }
  show(byId("contributions-empty"), body.children.length === 0);
}

/** @param {any} item an item of `/v1/accounts/{address}/contributions` @returns {HTMLElement} */
function contributionRow(item) {
  const inEpoch = item.epoch !== null && item.epoch !== undefined;
  const ready = contributionReadiness(item);
  // One wrapper per cell: on phones each cell is a two-column grid (label, content).
  const status = el("span", {}, el("span", { class: `badge ${item.status}`, text: item.status }));
  if (inEpoch) status.append(" ", el("span", { class: "hint", text: `epoch ${item.epoch}, #${item.logIndex}` }));
  if (!ready.verifiable) status.append(" ", el("span", { class: "hint not-yet-hint", text: `(${ready.waiting})` }));

  // Not yet verifiable: the button says so instead of answering with a failure.
  const button = el("button", {
    type: "button",
    class: "small",
    text: ready.verifiable ? "Verify" : "Not yet",
    "aria-label": ready.verifiable ? `Verify contribution ${item.id}` : `Not yet: contribution ${item.id} is ${ready.why}`,
    disabled: !ready.verifiable,
    title: ready.why ? `Contribution ${item.id} is ${ready.why}` : null,
  });
  button.addEventListener("click", () => verifyContributionOf(item));
  const shows = JSON.stringify([item.status, item.epochState, item.epoch, item.storage, item.erased, item.encrypted]);
  return el(
    "tr",
    { data: { contributionId: String(item.id), shows } },
    el("td", { "data-label": "ID", class: "num", text: String(item.id) }),
    el("td", { "data-label": "Content hash" }, hashCode(item.contentHash)),
    el("td", { "data-label": "Points", class: "num", text: formatPoints(item.points) }),
    el("td", { "data-label": "Status" }, status),
    el("td", { "data-label": "Storage" }, storageCell(item)),
    el("td", { class: "actions" }, button),
  );
}

/**
 * Where the conversation is stored (see `storageWords`), with a link to its blocks by CID.
 * @param {any} item
 * @returns {HTMLElement}
 */
function storageCell(item) {
  const words = storageWords(item, state.config?.storage?.ipfsPinning === true);
  if (item.erased || !item.cid) return el("span", { class: "storage", text: words.label });
  const cid = el("code", { text: shortHex(item.cid) });
  const content = words.servedHere ? [`${words.label} (served at /ipfs/`, cid, ")"] : [`${words.label} `, cid];
  return el(
    "a",
    {
      class: "storage",
      href: `/ipfs/${encodeURIComponent(item.cid)}?format=car`,
      download: `${item.cid}.car`,
      title: `Stored content-addressed as ${item.cid}: download the blocks (CAR) and check them against the CID`,
    },
    ...content,
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
    followWallet();
    if (accounts?.length) {
      state.fromWallet = true;
      await showAccount(accounts[0]);
    }
  } catch (error) {
    showAddressError(`The wallet did not share an address: ${error.message}`);
  }
}

/** While the account shown is the wallet's, show the wallet's next account when its user
 * switches (EIP-1193 `accountsChanged`); an address typed in is left as it is. */
function followWallet() {
  if (state.followingWallet || !window.ethereum?.on) return;
  state.followingWallet = true;
  window.ethereum.on("accountsChanged", (/** @type {unknown} */ accounts) => {
    const next = String((Array.isArray(accounts) ? accounts[0] : "") ?? "");
    if (!state.fromWallet || !next || next.toLowerCase() === String(state.address ?? "").toLowerCase()) return;
    void showAccount(next);
  });
}

// --- following what is pending -----------------------------------------------------------------

/**
 * Whether the account shown has something on its way to a final epoch: points not sealed, a
 * balance not provable yet, or a recent contribution not anchored.
 * @returns {boolean}
 */
function awaitingFinality() {
  if (!state.address || !state.account) return false;
  if (BigInt(state.account.pending) > 0n) return true;
  if (state.readiness && !state.readiness.verifiable && state.readiness.waitingFor !== "empty") return true;
  return state.recent.some((item) => item.status !== "anchored");
}

/**
 * When to look again: just after the next seal is due if that is a while off (at most
 * MAX_POLL_SECONDS, so that new contributions show up too), else every POLL_SECONDS, backing
 * off while nothing changes.
 * @returns {number} seconds
 */
function pollDelay() {
  const due = state.config?.sealing?.nextSealAt;
  const untilDue = typeof due === "number" ? due - nowSeconds() : 0;
  if (untilDue > POLL_SECONDS) return Math.min(untilDue + 1, MAX_POLL_SECONDS);
  return Math.min(POLL_SECONDS * 1.5 ** state.unchanged, MAX_POLL_SECONDS);
}

/** Refresh later if something is pending; stop when nothing is. */
function schedulePoll() {
  if (state.pollTimer !== null) clearTimeout(state.pollTimer);
  state.pollTimer = null;
  document.body.dataset.polling = String(awaitingFinality());
  if (!awaitingFinality()) return;
  state.pollTimer = setTimeout(poll, pollDelay() * 1000);
}

/** Read the schedule, the epochs and the account again, and show what moved. */
async function poll() {
  if (state.pollTimer !== null) clearTimeout(state.pollTimer); // when called before its time
  state.pollTimer = null;
  const address = state.address;
  if (!address) return;
  if (document.hidden) {
    // Nobody is looking: refresh when the tab is shown again (see main).
    document.body.dataset.polling = "paused";
    return;
  }
  try {
    await Promise.all([refreshSchedule(), loadEpochs()]);
    await loadAccount(address, true);
  } catch {
    // The server may be restarting: the next refresh will tell, after a longer wait.
  }
  if (state.address !== address) return;
  const seen = JSON.stringify([state.account, state.recent, state.epochs, state.config?.sealing]);
  state.unchanged = seen === state.seen ? state.unchanged + 1 : 0;
  state.seen = seen;
  schedulePoll();
}

// --- verification ------------------------------------------------------------------------------

/** @param {any} item a contribution row */
function verifyContributionOf(item) {
  return runVerification(`Contribution #${item.id}`, `/v1/contributions/${item.id}/proof`, (bundle, options) =>
    verifyContribution(bundle, chainConfig(), { ...options, account: state.address ?? undefined, contentHash: item.contentHash }),
  {
    explainNotYet: () => {
      const fresh = state.recent.find((i) => i.id === item.id) ?? item;
      const ready = contributionReadiness(fresh);
      if (ready.verifiable) return `Contribution #${item.id} is anchored now: verify it again.`;
      return `Contribution #${item.id} is ${ready.why}.${fresh.epoch == null ? ` ${scheduleText()}` : ""}`;
    },
  });
}

function verifyAccountBalance() {
  if (!state.address) return;
  const address = state.address;
  return runVerification(`The balance of ${shortHex(address)}`, `/v1/accounts/${address}/proof`, (bundle, options) =>
    verifyBalance(bundle, chainConfig(), { ...options, account: address }),
  {
    notYetWhenMissing: true,
    explainNotYet: () => {
      const readiness = state.readiness;
      if (!readiness || readiness.verifiable) return "The balance is in a final epoch now: verify it again.";
      return `${balanceNotYetText(readiness)}${readiness.waitingFor === "pending" ? ` ${scheduleText()}` : ""}`;
    },
  });
}

/** @returns {string} when the next epoch is sealed, as of now, or nothing if unknown */
function scheduleText() {
  return nextSealText(state.config?.sealing, nowSeconds()) ?? "";
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
 * @param {{notYetWhenMissing?: boolean, explainNotYet?: () => string}} [options]
 *   `notYetWhenMissing`: a 404 means "not in a final epoch yet" (a balance: the latest final
 *   epoch may predate the account's first points); `explainNotYet`: what it waits for, once the
 *   page has read the account again
 */
async function runVerification(title, path, check, { notYetWhenMissing = false, explainNotYet } = {}) {
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
    if (isNotYet(error, notYetWhenMissing)) {
      // No proof can exist yet: that is a wait, not a failed verification.
      panel.className = "card result not-yet";
      panel.dataset.state = "not-yet";
      summary.textContent = `Not verifiable yet: ${error.message.replace(/\.$/, "")}.`;
      // The page's idea of what is final was out of date: read it again, then say what it waits for.
      if (state.address) await poll();
      if (run === state.run && explainNotYet) {
        byId("result-details").replaceChildren(el("p", { id: "result-not-yet", text: explainNotYet() }));
      }
      return;
    }
    panel.className = "card result failed";
    panel.dataset.state = "error";
    summary.textContent = `The proof cannot be fetched: ${error.message}`;
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
 * @param {unknown} error from `api`
 * @param {boolean} missingIsNotYet
 * @returns {boolean} the server says the proof needs an epoch that is not final yet
 */
function isNotYet(error, missingIsNotYet) {
  if (!(error instanceof ApiError)) return false;
  return Boolean(error.type?.endsWith("/not-anchored")) || (missingIsNotYet && error.status === 404);
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
    state.fromWallet = false;
    showAccount(/** @type {HTMLInputElement} */ (byId("address")).value);
  });
  byId("verify-balance").addEventListener("click", verifyAccountBalance);
  byId("claim").addEventListener("click", claimRewards);
  byId("contributions-more").addEventListener("click", loadOlderContributions);
  byId("rpc-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const url = safeHref(/** @type {HTMLInputElement} */ (byId("rpc-url")).value.trim());
    if (url) {
      state.rpcUrl = url;
      renderChainLine();
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && document.body.dataset.polling === "paused") poll();
  });
  // The relative times ("in about 25 s") count down between refreshes.
  setInterval(renderSchedule, 1000);
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
  renderSchedule();
  const fromUrl = new URLSearchParams(window.location.search).get("address");
  // The epochs first: whether the balance can be verified depends on which one is final.
  await loadEpochs();
  if (fromUrl) await showAccount(fromUrl);
  document.body.dataset.ready = "true";
}

main();
