// The extension's page: the user's ChatGPT history (or an export file), a selection, a preview of
// exactly what is shared, one signature for all of it, and afterwards each contribution's way to
// the chain. The protocol lives in the Tally client (vendor/tally-client.mjs); reading ChatGPT in
// chatgpt.mjs, its images in chatgpt-images.mjs; signing with a wallet in bridge.mjs; keys and
// receipts in storage.mjs.
import { fetchConfig, fetchTerms } from "./vendor/tally-client.mjs";
import { ChatGptError, ChatGptHistory, PAGE_SIZE } from "./chatgpt.mjs";
import { ChatGptImages } from "./chatgpt-images.mjs";
import { ExportError, parsed, readExportFile } from "./chatgpt-export.mjs";
import { WalletBridgeSigner } from "./bridge.mjs";
import { describeError, prepare, shareSelection, sharedBefore, unshareable } from "./share.mjs";
import { SelectableList, runPool } from "./selection.mjs";
import { showMine } from "./mine.mjs";
import { showKeys } from "./keys.mjs";
import { getApiUrl, keepReceipts, keystoreState, unlockedWallet } from "./storage.mjs";

/** @typedef {import("./selection.mjs").Entry} Entry */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

const state = {
  api: await getApiUrl(),
  /** @type {import("./vendor/tally-client.mjs").TallyConfig | null} */
  config: null,
  /** @type {"history" | "file" | "mine" | "key"} */
  tab: "history",
  /** @type {Entry[]} what the review shows */
  review: [],
  busy: false,
};

// ---------------------------------------------------------------------------------------------
// The API.

async function connect() {
  $("api").textContent = state.api;
  try {
    const config = await fetchConfig(state.api);
    $("terms").textContent = await fetchTerms(state.api, config);
    $("terms-hash").textContent = config.termsHash;
    state.config = config;
    $("api-status").textContent = `reachable; receipts are signed by ${config.operator}`;
    $("api-status").className = "ok";
  } catch (error) {
    $("api-status").textContent = `Tally is unreachable or unusable: ${describeError(error)}`;
    $("api-status").className = "error";
  }
  updateShare();
}

// ---------------------------------------------------------------------------------------------
// Tabs.

/** @param {typeof state.tab} tab */
function showTab(tab) {
  state.tab = tab;
  for (const button of document.querySelectorAll("button.tab")) {
    button.setAttribute("aria-selected", String(/** @type {HTMLElement} */ (button).dataset.tab === tab));
  }
  for (const name of ["history", "file", "mine", "key"]) $(`tab-${name}`).hidden = name !== tab;
  $("review").hidden = true;
  if (tab === "mine") void showMine(state.api, state.config);
  if (tab === "key") void showKeys();
}
for (const button of document.querySelectorAll("button.tab")) {
  button.addEventListener("click", () => showTab(/** @type {any} */ (/** @type {HTMLElement} */ (button).dataset.tab)));
}

/**
 * Fill an entry's preview (its conversation read if need be) and look it up in Tally.
 * @param {Entry} entry
 */
async function complete(entry) {
  // Once per entry, even when the review asks while the list is still filling it in: a
  // conversation's images are downloaded once.
  entry.preparing ??= (async () => {
    try {
      const conversation = await entry.load();
      const images = entry.images ? await entry.images(conversation, state.config?.limits?.maxImageBytes) : [];
      entry.prepared = prepare(conversation, images, state.config?.limits);
    } catch (error) {
      entry.prepared = unshareable(describeError(error));
      // An image that cannot be had leaves this conversation out; a session problem is the history's.
      if (error instanceof ChatGptError) historyProblem(error);
    }
  })();
  await entry.preparing;
  if (!entry.prepared) return;
  const hash = entry.prepared.contentHash;
  if (hash && entry.shared === undefined) {
    try {
      entry.shared = await sharedBefore(state.api, hash);
    } catch {
      entry.shared = undefined; // Tally unreachable: the mark stays unknown, the API line says why
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The ChatGPT history.

const reader = new ChatGptHistory({
  onWait: (seconds, why) => setHistoryStatus("rate-limited", `${why}: retrying in ${Math.ceil(seconds)} s…`),
});
const imageReader = new ChatGptImages(reader);
const history = {
  /** @type {Entry[]} every list entry read so far, newest update first */
  entries: [],
  total: 0,
  page: 0,
  query: "",
  list: new SelectableList($("history-rows"), $("history-selected"), () => updateReviewButtons()),
};

/** @param {string} name @param {string} text */
function setHistoryStatus(name, text) {
  $("history-status").dataset.state = name;
  $("history-status").textContent = text;
}

/** @param {ChatGptError} error */
function historyProblem(error) {
  setHistoryStatus(error.state, error.message);
  $("history-retry").hidden = false;
}

/** @param {import("./chatgpt.mjs").HistoryItem} item @returns {Entry} */
function historyEntry(item) {
  return { key: item.id, title: item.title, updatedAt: item.updatedAt, load: () => reader.conversation(item.id),
    images: (conversation, most) => imageReader.of(conversation, item.id, most), prepared: null, shared: undefined };
}

/** Read list pages until `count` entries are known, or the whole history. */
async function readHistory(/** @type {number} */ count) {
  while (history.entries.length < count && (history.entries.length < history.total || history.entries.length === 0)) {
    const page = await reader.page(history.entries.length, history.query ? 100 : PAGE_SIZE);
    const known = new Set(history.entries.map((e) => e.key));
    history.entries.push(...page.items.filter((i) => !known.has(i.id)).map(historyEntry));
    history.total = page.total;
    if (page.items.length === 0) break;
  }
}

/** The entries the search leaves. */
function historyMatches() {
  const words = history.query.toLowerCase();
  return words ? history.entries.filter((e) => e.title.toLowerCase().includes(words)) : history.entries;
}

async function showHistoryPage() {
  $("history-retry").hidden = true;
  try {
    setHistoryStatus("loading", "Reading your ChatGPT history…");
    await readHistory(history.query ? Number.MAX_SAFE_INTEGER : (history.page + 1) * PAGE_SIZE);
  } catch (error) {
    if (error instanceof ChatGptError) return historyProblem(error);
    throw error;
  }
  const matches = historyMatches();
  const pages = Math.max(1, Math.ceil((history.query ? matches.length : Math.max(history.total, matches.length)) / PAGE_SIZE));
  history.page = Math.min(history.page, pages - 1);
  const shown = matches.slice(history.page * PAGE_SIZE, (history.page + 1) * PAGE_SIZE);
  setHistoryStatus("ready", history.query
    ? `${matches.length} of ${history.total} conversations match “${history.query}”.`
    : `${history.total} conversations in your ChatGPT history.`);
  $("history-body").hidden = false;
  $("page-label").textContent = `Page ${history.page + 1} of ${pages}`;
  /** @type {HTMLButtonElement} */ ($("prev")).disabled = history.page === 0;
  /** @type {HTMLButtonElement} */ ($("next")).disabled = history.page >= pages - 1;
  history.list.show(shown);
  /** @type {HTMLInputElement} */ ($("select-page")).checked = history.list.allShownSelected();
  await runPool(shown, 2, async (entry) => {
    await complete(entry);
    history.list.refresh(entry);
  });
  /** @type {HTMLInputElement} */ ($("select-page")).checked = history.list.allShownSelected();
}

$("prev").addEventListener("click", () => { history.page -= 1; void showHistoryPage(); });
$("next").addEventListener("click", () => { history.page += 1; void showHistoryPage(); });
$("history-retry").addEventListener("click", () => void showHistoryPage());
$("select-page").addEventListener("change", () => {
  history.list.selectShown(/** @type {HTMLInputElement} */ ($("select-page")).checked);
});
let searchTimer = 0;
$("search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    history.query = /** @type {HTMLInputElement} */ ($("search")).value.trim();
    history.page = 0;
    void showHistoryPage();
  }, 250);
});
$("history-review").addEventListener("click", () => void openReview(history.list.selectedEntries()));

// ---------------------------------------------------------------------------------------------
// An export file, or one pasted conversation.

const file = {
  list: new SelectableList($("file-rows"), $("file-selected"), () => updateReviewButtons()),
  /** Counts the files and pastes read: one read after another lists only the later. */
  reads: 0,
};

/**
 * List what a picked file or a paste holds.
 * @param {() => Promise<import("./chatgpt-export.mjs").ExportFile | null>} read null: nothing to list
 */
async function loadFile(read) {
  $("file-body").hidden = true;
  // A new file or paste replaces the list, and the selection from the old one.
  file.list.selected.clear();
  file.list.show([]);
  updateReviewButtons();
  $("file-status").textContent = "Reading…";
  const reading = ++file.reads;
  let contents;
  try {
    contents = await read();
  } catch (error) {
    if (reading === file.reads) $("file-status").textContent = error instanceof ExportError ? error.message : describeError(error);
    return;
  }
  if (reading !== file.reads) return;
  if (contents === null) {
    $("file-status").textContent = "";
    return;
  }
  const { conversations, images } = contents;
  if (conversations.length === 0) {
    $("file-status").textContent = "The file holds no conversation.";
    return;
  }
  /** @type {Entry[]} */
  const entries = conversations.map((c, i) => ({
    key: `file-${i}`,
    title: typeof c?.title === "string" && c.title ? c.title : `Conversation ${i + 1}`,
    updatedAt: typeof c?.update_time === "number" ? c.update_time : null,
    load: async () => c, images: images ?? undefined, prepared: null, shared: undefined,
  }));
  $("file-status").textContent = `${entries.length} conversation${entries.length === 1 ? "" : "s"}.`;
  $("file-body").hidden = false;
  file.list.show(entries);
  if (entries.length === 1) file.list.selectShown(true);
  await runPool(entries, 4, async (entry) => {
    await complete(entry);
    file.list.refresh(entry);
  });
}

$("file").addEventListener("change", async () => {
  const picked = /** @type {HTMLInputElement} */ ($("file")).files?.[0];
  if (!picked) return;
  /** @type {HTMLTextAreaElement} */ ($("paste")).value = "";
  await loadFile(() => readExportFile(picked));
});
$("paste").addEventListener("input", () => {
  /** @type {HTMLInputElement} */ ($("file")).value = "";
  const text = /** @type {HTMLTextAreaElement} */ ($("paste")).value;
  void loadFile(async () => (text.trim() ? { conversations: parsed(text, "this"), images: null } : null));
});
$("select-file").addEventListener("change", () => {
  file.list.selectShown(/** @type {HTMLInputElement} */ ($("select-file")).checked);
});
$("file-review").addEventListener("click", () => void openReview(file.list.selectedEntries()));

function updateReviewButtons() {
  /** @type {HTMLButtonElement} */ ($("history-review")).disabled = history.list.selected.size === 0;
  /** @type {HTMLButtonElement} */ ($("file-review")).disabled = file.list.selected.size === 0;
}

// ---------------------------------------------------------------------------------------------
// The review: exactly what is shared, then one signature.

/** @param {Entry[]} entries */
async function openReview(entries) {
  await runPool(entries, 2, complete);
  state.review = entries;
  $(`tab-${state.tab}`).hidden = true;
  $("review").hidden = false;
  $("share-results").replaceChildren();
  $("share-status").textContent = "";
  const ready = entries.filter((e) => e.prepared?.canonical);
  $("review-title").textContent = `Share ${ready.length} conversation${ready.length === 1 ? "" : "s"}`;
  $("review-items").replaceChildren(...entries.map(reviewItem));
  const points = ready.reduce((sum, e) => sum + (e.prepared?.points ?? 0), 0);
  const left = entries.length - ready.length;
  $("review-total").textContent = `About ${points} points in all (an estimate: Tally's limits and duplicate checks decide).`
    + (left ? ` ${left} of the selection cannot be shared and is left out.` : "");
  const keys = await keystoreState();
  $("review-local").textContent = keys.address ? `${keys.address}${keys.unlocked ? "" : " (locked: unlock it under Keys)"}` : "(none yet: create it under Keys)";
  updateShare();
}

/** @param {Entry} entry */
function reviewItem(entry) {
  const li = document.createElement("li");
  li.dataset.key = entry.key;
  const p = /** @type {import("./share.mjs").Prepared} */ (entry.prepared);
  const title = document.createElement("strong");
  title.textContent = entry.title;
  li.append(title);
  if (!p.canonical) {
    li.dataset.state = "unshareable";
    li.append(` — cannot be shared: ${p.error}`);
    return li;
  }
  li.dataset.state = "ready";
  const summary = document.createElement("span");
  summary.className = "summary";
  const pictures = p.images.length ? `${p.images.length} image${p.images.length === 1 ? "" : "s"}, ` : "";
  summary.textContent = ` — ${p.canonical.messages.length} messages, ${pictures}model ${p.canonical.model ?? "not given"}, `
    + `${p.points} points (estimate), contentHash ${p.contentHash}`;
  li.append(summary);
  if (entry.shared) {
    const note = document.createElement("p");
    note.className = "note";
    note.textContent = `Shared before, as #${entry.shared.id}: Tally will refuse it as a duplicate.`;
    li.append(note);
  }
  const redactions = document.createElement("p");
  redactions.className = "redactions";
  redactions.textContent = p.redactions ? `Personal data replaced before signing: ${p.redactions}.` : "No personal data found.";
  li.append(redactions);
  const details = document.createElement("details");
  const open = document.createElement("summary");
  open.textContent = "Read exactly what is shared";
  const messages = document.createElement("ol");
  messages.start = 0;
  messages.append(...p.canonical.messages.map((m) => {
    const item = document.createElement("li");
    const role = document.createElement("span");
    role.className = "role";
    role.textContent = m.role;
    item.append(role, m.content);
    if (m.images?.length) item.append(thumbnails(m.images, p.images));
    return item;
  }));
  details.append(open, messages);
  // A conversation with images opens at once: its pictures are what is shared, seen before signing.
  details.open = p.images.length > 0;
  li.append(details);
  return li;
}

/** @type {Map<string, string>} an object URL per image shown, by CID */
const thumbnailUrls = new Map();

/**
 * A message's images as thumbnails, each named by its CID (what is signed) and its media type.
 * @param {string[]} cids the message's `images`
 * @param {import("./share.mjs").SharedImage[]} images the conversation's bytes
 */
function thumbnails(cids, images) {
  const strip = document.createElement("span");
  strip.className = "thumbs";
  for (const cid of cids) {
    const image = images.find((i) => i.cid === cid);
    if (!image) continue;
    let url = thumbnailUrls.get(cid);
    if (!url) {
      url = URL.createObjectURL(new Blob([image.bytes], { type: image.mediaType }));
      thumbnailUrls.set(cid, url);
    }
    const img = document.createElement("img");
    img.className = "thumb";
    img.src = url;
    img.dataset.cid = cid;
    img.alt = `image ${cid}`;
    img.title = `${cid} (${image.mediaType}, ${image.bytes.length} bytes)`;
    strip.append(img);
  }
  return strip;
}

function updateShare() {
  const ready = state.review.some((e) => e.prepared?.canonical);
  /** @type {HTMLButtonElement} */ ($("share")).disabled =
    state.busy || !state.config || !ready || !/** @type {HTMLInputElement} */ ($("agree")).checked;
}
$("agree").addEventListener("change", updateShare);
$("review-back").addEventListener("click", () => showTab(state.tab));

/** @param {string[]} titles what is shared, named on the wallet page */
async function chosenSigner(titles) {
  const choice = /** @type {HTMLInputElement} */ (document.querySelector('input[name="signer"]:checked')).value;
  if (choice === "local") return unlockedWallet();
  const count = titles.length;
  const named = titles.slice(0, 5).map((t) => `“${t}”`).join(", ") + (count > 5 ? ` and ${count - 5} more` : "");
  return new WalletBridgeSigner(state.api, `The Tally extension asks you to consent to share ${count} `
    + `conversation${count === 1 ? "" : "s"} with ${state.api}, in one signature: ${named}.`);
}

$("share").addEventListener("click", async () => {
  const config = state.config;
  if (!config) return;
  const items = state.review.filter((e) => e.prepared?.canonical)
    .map((e) => ({ title: e.title, prepared: /** @type {import("./share.mjs").Prepared} */ (e.prepared) }));
  state.busy = true;
  updateShare();
  $("share-results").replaceChildren();
  $("share-status").className = "";
  try {
    const signer = await chosenSigner(items.map((i) => i.title));
    $("share-status").textContent = signer instanceof WalletBridgeSigner
      ? "Waiting for your wallet on Tally's /connect page…" : "Signing…";
    const outcomes = await shareSelection({ api: state.api, config, signer, items, keep: keepReceipts });
    // What was shared leaves the selection; what was refused stays, to look at again. The lists'
    // marks are brought up to date before the outcome is shown, so what the page says is final.
    const done = new Set(outcomes.filter((o) => o.state === "accepted").map((o) => o.contentHash));
    for (const entry of state.review) {
      if (entry.prepared?.contentHash && done.has(entry.prepared.contentHash)) {
        history.list.selected.delete(entry.key);
        file.list.selected.delete(entry.key);
      }
      entry.shared = undefined;
    }
    await runPool(state.review, 2, complete);
    history.list.refreshAll();
    file.list.refreshAll();
    history.list.updateCount();
    file.list.updateCount();
    updateReviewButtons();
    const accepted = done.size;
    $("share-results").replaceChildren(...outcomes.map((o) => {
      const li = document.createElement("li");
      li.dataset.state = o.state;
      li.dataset.contentHash = o.contentHash;
      li.textContent = `${o.title}: ${o.words}`;
      return li;
    }));
    $("share-status").className = accepted === outcomes.length ? "ok" : "note";
    $("share-status").textContent = `${accepted} of ${outcomes.length} accepted; ${outcomes.length - accepted} refused.`;
  } catch (error) {
    $("share-status").textContent = `Nothing was shared: ${describeError(error)}`;
    $("share-status").className = "error";
  } finally {
    state.busy = false;
    updateShare();
  }
});

// ---------------------------------------------------------------------------------------------

await connect();
document.body.dataset.ready = "true";
await showHistoryPage();
