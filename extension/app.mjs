// The contribution page: pick a conversation, show exactly what will be shared (its personal data
// already replaced by placeholders), sign the consent, submit, check and keep the receipt. All the
// protocol lives in the Tally client module.
import {
  ApiError,
  checkReceipt,
  contentHash,
  describeFindings,
  fetchConfig,
  fetchTerms,
  getContribution,
  proofUrl,
  ReceiptError,
  redactForSubmission,
  signContribution,
  submit,
} from "./vendor/tally-client.mjs";
import { BrowserProvider } from "./vendor/ethers.mjs";
import { getApiUrl, keepReceipt, keptReceipts, localWallet, replaceLocalWallet } from "./storage.mjs";

/** @typedef {import("./vendor/tally-client.mjs").TallyConfig} TallyConfig */
/** @typedef {import("./vendor/tally-client.mjs").ContributionResult} ContributionResult */
/** @typedef {import("./vendor/tally-client.mjs").CanonicalConversation} CanonicalConversation */

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const textarea = /** @type {HTMLTextAreaElement} */ ($("conversation"));
const picker = /** @type {HTMLSelectElement} */ ($("pick"));
const fileInput = /** @type {HTMLInputElement} */ ($("file"));
const agree = /** @type {HTMLInputElement} */ ($("agree"));
const submitButton = /** @type {HTMLButtonElement} */ ($("submit"));

const state = {
  api: await getApiUrl(),
  /** @type {TallyConfig | null} */
  config: null,
  /** @type {unknown[]} conversations of the picked file or pasted array */
  choices: [],
  /** @type {CanonicalConversation | null} what is signed and sent: canonical, personal data redacted */
  submitted: null,
  /** @type {string | null} contentHash of `submitted` */
  hash: null,
  busy: false,
};

// ---------------------------------------------------------------------------------------------
// The API and its terms.

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
    $("api-status").textContent = `not usable: ${describeError(error)}`;
    $("api-status").className = "error";
  }
  updateSubmit();
}

// ---------------------------------------------------------------------------------------------
// The conversation.

/** A short name for one conversation of a list. @param {any} item @param {number} i */
function label(item, i) {
  const name = typeof item?.title === "string" ? item.title : typeof item?.id === "string" ? item.id : "";
  return `${i + 1}. ${name || "untitled"}`;
}

/** @param {string} text JSON from the textarea or a file */
function load(text) {
  state.choices = [];
  picker.hidden = true;
  picker.replaceChildren();
  if (!text.trim()) return choose(undefined);
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return choose(undefined, `This is not JSON: ${/** @type {Error} */ (error).message}`);
  }
  if (!Array.isArray(value)) return choose(value);
  if (value.length === 0) return choose(undefined, "The list holds no conversation.");
  state.choices = value;
  picker.append(...value.map((item, i) => new Option(label(item, i), String(i))));
  picker.hidden = false;
  choose(value[0]);
}

/**
 * Make `conversation` the one to submit and show what of it would be shared.
 * @param {unknown} conversation
 * @param {string} [problem] why there is none
 */
function choose(conversation, problem) {
  state.submitted = null;
  state.hash = null;
  // The result shown belongs to the previous conversation.
  $("result").hidden = true;
  $("error").hidden = true;
  $("preview").hidden = true;
  $("preview-error").hidden = true;
  if (conversation !== undefined) {
    try {
      // The client redacts, and shows the redacted text: the server would refuse the rest.
      const { conversation: canonical, findings } = redactForSubmission(conversation);
      state.submitted = canonical;
      state.hash = contentHash(canonical);
      $("content-hash").textContent = state.hash;
      $("preview-findings").textContent = findings.length
        ? `Personal data replaced before signing: ${describeFindings(findings)}.`
        : "";
      $("preview-findings").hidden = findings.length === 0;
      $("preview-summary").textContent =
        `${canonical.messages.length} messages, model ${canonical.model ?? "not given"}.`;
      $("preview-messages").replaceChildren(...canonical.messages.map((m) => {
        const li = document.createElement("li");
        const role = document.createElement("span");
        role.className = "role";
        role.textContent = m.role;
        li.append(role, m.content);
        return li;
      }));
      $("preview").hidden = false;
    } catch (error) {
      problem = describeError(error);
    }
  }
  if (problem) {
    $("preview-error").textContent = problem;
    $("preview-error").hidden = false;
  }
  updateSubmit();
}

textarea.addEventListener("input", () => {
  fileInput.value = "";
  load(textarea.value);
});
fileInput.addEventListener("change", async () => {
  const file = fileInput.files?.[0];
  if (!file) return;
  textarea.value = "";
  load(await file.text());
});
picker.addEventListener("change", () => choose(state.choices[Number(picker.value)]));

// ---------------------------------------------------------------------------------------------
// The signer.

async function showLocalAddress() {
  $("local-address").textContent = (await localWallet()).address;
}

$("reveal-key").addEventListener("click", async () => {
  $("private-key").textContent = (await localWallet()).privateKey;
});
$("new-key").addEventListener("click", async () => {
  if (!confirm("Replace the local key? Without an export of the old key, its points can no longer be claimed.")) return;
  await replaceLocalWallet();
  $("private-key").textContent = "";
  await showLocalAddress();
});

/** @type {any} */
const injected = /** @type {any} */ (globalThis).ethereum;
if (injected) {
  /** @type {HTMLInputElement} */ ($("injected-choice")).disabled = false;
} else {
  $("injected-note").textContent =
    "(none in this page: wallet extensions inject window.ethereum into web pages, rarely into other extensions)";
}

async function currentSigner() {
  const choice = /** @type {HTMLInputElement} */ (document.querySelector('input[name="signer"]:checked')).value;
  if (choice === "injected") return new BrowserProvider(injected).getSigner();
  return localWallet();
}

// ---------------------------------------------------------------------------------------------
// Submitting, and the receipt.

function updateSubmit() {
  submitButton.disabled = state.busy || !state.config || !state.hash || !agree.checked;
}
agree.addEventListener("change", updateSubmit);

/** @param {unknown} error */
function describeError(error) {
  if (error instanceof ApiError) return `${error.code} (HTTP ${error.status}): ${error.message}`;
  if (error instanceof ReceiptError) return `The receipt does not check out: ${error.message}`;
  const e = /** @type {Error & {code?: string}} */ (error);
  return e.code ? `${e.code}: ${e.message}` : String(e.message ?? error);
}

/**
 * @param {"accepted" | "duplicate"} kind
 * @param {ContributionResult} contribution
 * @param {string} receiptText
 */
function showResult(kind, contribution, receiptText) {
  const result = $("result");
  result.dataset.state = kind;
  $("result-title").textContent = kind === "accepted"
    ? "Accepted: your receipt is kept in this browser"
    : "Already contributed: this conversation was accepted before";
  $("result-id").textContent = `#${contribution.id}`;
  /** @type {HTMLAnchorElement} */ ($("record-link")).href = `${state.api}/v1/contributions/${contribution.id}`;
  $("result-hash").textContent = contribution.contentHash;
  $("result-cid").textContent = contribution.cid;
  $("result-points").textContent = `${contribution.points} (${contribution.status})`;
  $("receipt-check").textContent = receiptText;
  /** @type {HTMLAnchorElement} */ ($("proof-link")).href = proofUrl(state.api, contribution.id);
  result.hidden = false;
}

submitButton.addEventListener("click", async () => {
  const config = state.config;
  if (!config || !state.hash || !state.submitted) return;
  state.busy = true;
  updateSubmit();
  $("result").hidden = true;
  $("error").hidden = true;
  try {
    const signer = await currentSigner();
    const body = await signContribution(config, state.submitted, signer);
    /** @type {ContributionResult} */
    let result;
    try {
      result = await submit(state.api, body);
    } catch (error) {
      if (error instanceof ApiError && error.status === 409 && error.existing !== null) {
        // Show the contribution that was accepted, with its own receipt checked.
        const existing = /** @type {ContributionResult} */ (await getContribution(state.api, error.existing));
        const { operator } = checkReceipt(config, existing, { contentHash: state.hash });
        showResult("duplicate", existing, `✓ signed by the operator ${operator}`);
        return;
      }
      throw error;
    }
    const { operator } = checkReceipt(config, result, { contentHash: state.hash, contributor: body.contributor });
    await keepReceipt({
      api: state.api, id: result.id, contentHash: result.contentHash, points: result.points,
      receipt: result.receipt, operator, keptAt: Math.floor(Date.now() / 1000),
    });
    showResult("accepted", result, `✓ signed by the operator ${operator}`);
    await showReceipts();
  } catch (error) {
    $("error").textContent = describeError(error);
    $("error").hidden = false;
  } finally {
    state.busy = false;
    updateSubmit();
  }
});

async function showReceipts() {
  const items = (await keptReceipts()).map((r) => {
    const li = document.createElement("li");
    const link = document.createElement("a");
    link.href = proofUrl(r.api, r.id);
    link.target = "_blank";
    link.textContent = "proof";
    li.append(`#${r.id} at ${r.api}: ${r.points} points, ${r.contentHash.slice(0, 18)}… `, link);
    return li;
  });
  $("receipts").replaceChildren(...items);
}

await Promise.all([connect(), showLocalAddress(), showReceipts()]);
document.body.dataset.ready = "true";
