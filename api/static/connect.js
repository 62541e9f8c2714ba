// The wallet bridge's page (extension/bridge.mjs is the other side). Wallet extensions inject
// their EIP-1193 provider into web pages such as this one, not into the Tally extension's pages;
// this page asks the wallet for the account and the EIP-712 signature the extension needs, and
// hands them back through externally_connectable messaging. It shows what is signed, in words,
// before it asks. The request id and the extension id come in the URL fragment, which is never
// sent to the server.

import { parseAddress, toChecksumAddress } from "./hashing.js";

/** The words for the fields of the messages the extension asks for (docs/formats.md §3). */
const FIELD_WORDS = Object.freeze({
  contributor: "Your address (the points go to it)",
  contentHash: "The conversation you share (its contentHash)",
  contentsRoot: "The conversations you share (the root of their contentHashes)",
  count: "How many conversations",
  termsHash: "The terms you agree to (their hash)",
  nonce: "Nonce (makes this consent single-use)",
  issuedAt: "Signed at",
  account: "Account",
});

/** An address as wallets and explorers show it (EIP-55). @param {unknown} value */
const checksummed = (value) => toChecksumAddress(parseAddress(String(value)));

/** @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {string} text */
function showError(text) {
  byId("error").textContent = text;
  byId("error").hidden = false;
}

const fragment = new URLSearchParams(location.hash.slice(1));
const request = fragment.get("request") ?? "";
const extension = fragment.get("extension") ?? "";
/** How long a wallet may take to inject its provider after the page loaded. */
const WALLET_WAIT_MS = 3000;
/** @type {any} */
const runtime = /** @type {any} */ (globalThis).chrome?.runtime;

/**
 * One step of the exchange with the extension.
 * @param {Record<string, unknown>} message
 * @returns {Promise<any>}
 */
function tell(message) {
  return new Promise((resolve, reject) => {
    runtime.sendMessage(extension, { request, ...message }, (/** @type {any} */ answer) => {
      const failure = runtime.lastError;
      if (failure) reject(new Error(`the Tally extension does not answer: ${failure.message}`));
      else if (answer?.error) reject(new Error(`the Tally extension refused: ${answer.error}`));
      else resolve(answer);
    });
  });
}

/** @param {unknown} error */
function walletWords(error) {
  const e = /** @type {{code?: number, message?: string}} */ (error);
  if (e?.code === 4001) return "you declined in your wallet";
  return e?.message ?? String(error);
}

/**
 * The message in words: one line a field, times as dates.
 * @param {any} typedData
 */
function showFields(typedData) {
  const rows = [["What", typedData.primaryType === "ContributionBatch"
    ? "Consent to share these conversations with Tally"
    : typedData.primaryType === "Contribution" ? "Consent to share this conversation with Tally" : typedData.primaryType]];
  for (const { name, type } of typedData.types[typedData.primaryType]) {
    const value = typedData.message[name];
    // Addresses as wallets and explorers show them (EIP-55), times as dates.
    const shown = type === "address" ? checksummed(value)
      : name === "issuedAt" ? `${new Date(Number(value) * 1000).toISOString()} (${value})` : String(value);
    rows.push([FIELD_WORDS[/** @type {keyof FIELD_WORDS} */ (name)] ?? name, shown]);
  }
  rows.push(["For", `${typedData.domain.name} ${typedData.domain.version}, chain ${Number(typedData.domain.chainId)}, contract ${checksummed(typedData.domain.verifyingContract)}`]);
  byId("fields").replaceChildren(...rows.flatMap(([label, value]) => {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    return [dt, dd];
  }));
}

/**
 * The wallet's EIP-1193 provider. Wallets inject it as `window.ethereum`, some only after the page
 * loaded (MetaMask then fires `ethereum#initialized`), others announce it by EIP-6963 events; the
 * first to come in WALLET_WAIT_MS wins.
 * @returns {Promise<any>}
 */
function detectWallet() {
  const injected = /** @type {any} */ (globalThis).ethereum;
  if (injected?.request) return Promise.resolve(injected);
  return new Promise((resolve) => {
    const done = (/** @type {any} */ provider) => {
      clearTimeout(timer);
      window.removeEventListener("ethereum#initialized", onInjected);
      window.removeEventListener("eip6963:announceProvider", onAnnounced);
      resolve(provider?.request ? provider : null);
    };
    const onInjected = () => done(/** @type {any} */ (globalThis).ethereum);
    const onAnnounced = (/** @type {any} */ event) => done(event.detail?.provider);
    const timer = setTimeout(() => done(/** @type {any} */ (globalThis).ethereum), WALLET_WAIT_MS);
    window.addEventListener("ethereum#initialized", onInjected, { once: true });
    window.addEventListener("eip6963:announceProvider", onAnnounced);
    window.dispatchEvent(new Event("eip6963:requestProvider"));
  });
}

/** @type {any} the wallet, once found */
let ethereum = null;

/** The wallet must be on the chain the signature is for; MetaMask refuses to sign otherwise. */
async function onChain(/** @type {number} */ chainId) {
  const current = Number(await ethereum.request({ method: "eth_chainId" }));
  if (current === chainId) return;
  try {
    await ethereum.request({ method: "wallet_switchEthereumChain", params: [{ chainId: `0x${chainId.toString(16)}` }] });
  } catch (error) {
    throw new Error(`your wallet is on chain ${current}; switch it to chain ${chainId} and reload (${walletWords(error)})`);
  }
}

async function main() {
  if (!request || !extension) {
    throw new Error("open this page from the Tally extension: it says what to sign");
  }
  if (!runtime?.sendMessage) {
    throw new Error("the Tally extension is not installed in this browser, or does not accept this server");
  }
  const { summary } = await tell({ step: "hello" });
  byId("summary").textContent = String(summary);
  ethereum = await detectWallet();
  if (!ethereum) {
    await tell({ step: "error", message: "no wallet in this browser" }).catch(() => {});
    throw new Error("No wallet in this browser: install one (MetaMask, Rabby, …), or use the extension's local key.");
  }
  const connect = /** @type {HTMLButtonElement} */ (byId("connect"));
  connect.hidden = false;
  connect.addEventListener("click", async () => {
    connect.disabled = true;
    try {
      const accounts = await ethereum.request({ method: "eth_requestAccounts" });
      const address = String(accounts?.[0] ?? "");
      if (!address) throw new Error("the wallet gave no account");
      const { typedData } = await tell({ step: "account", address });
      showFields(typedData);
      byId("what").hidden = false;
      const sign = /** @type {HTMLButtonElement} */ (byId("sign"));
      sign.addEventListener("click", async () => {
        sign.disabled = true;
        try {
          await onChain(Number(typedData.domain.chainId));
          const signature = await ethereum.request({
            method: "eth_signTypedData_v4", params: [address, JSON.stringify(typedData)],
          });
          await tell({ step: "signature", signature });
          byId("done").textContent = "Signed. The extension goes on; this tab closes by itself.";
          byId("done").hidden = false;
        } catch (error) {
          const words = walletWords(error);
          await tell({ step: "error", message: words }).catch(() => {});
          showError(`Not signed: ${words}.`);
        }
      }, { once: true });
    } catch (error) {
      const words = walletWords(error);
      await tell({ step: "error", message: words }).catch(() => {});
      showError(`Not connected: ${words}.`);
    }
  }, { once: true });
}

main().catch((error) => {
  byId("summary").textContent = "";
  showError(/** @type {Error} */ (error).message);
});
