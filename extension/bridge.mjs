// Signing with the user's own wallet. Wallet extensions (MetaMask and the like) inject their
// EIP-1193 provider into web pages, not into other extensions' pages, so the extension opens the
// Tally API's page /connect in a tab; that page talks to the wallet and to this extension, through
// `externally_connectable` messaging (chrome.runtime.sendMessage(extensionId, ...)).
//
// One signing is one request, named by a random id in the page's URL fragment (never sent to the
// server). The page speaks in three steps, each a message answered by this side:
//   {step: "hello"}                    → {summary}: what the extension asks for, in words
//   {step: "account", address}         → {typedData}: the EIP-712 payload for eth_signTypedData_v4,
//                                         built for that address (it is the contributor)
//   {step: "signature", signature}     → {ok: true}
//   {step: "error", message}           → {ok: true} (the user refused, or the wallet failed)
// A message is taken only from a page of the API's origin and only for the open request.
import { getAddress, TypedDataEncoder } from "./vendor/ethers.mjs";

/** How long the wallet page may take before the request is given up. */
export const BRIDGE_TIMEOUT_MS = 10 * 60 * 1000;

export class WalletBridgeError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "WalletBridgeError";
  }
}

/** @returns {string} 128 random bits as hex */
function requestId() {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * @template T
 * @typedef {{promise: Promise<T>, resolve: (value: T) => void, reject: (error: Error) => void}} Deferred
 */

/** @template T @returns {Deferred<T>} */
function deferred() {
  /** @type {any} */
  const d = {};
  d.promise = new Promise((resolve, reject) => Object.assign(d, { resolve, reject }));
  return d;
}

/**
 * An ethers-style signer ({getAddress, signTypedData}) whose key is the user's wallet, reached
 * through the API's /connect page. `getAddress` opens the page and waits for the user to connect
 * their wallet; `signTypedData` hands the page the payload and waits for the signature.
 */
export class WalletBridgeSigner {
  /**
   * @param {string} api the Tally API base URL; its /connect page is the one trusted
   * @param {string} summary what is being signed, in words, shown before the wallet is asked
   */
  constructor(api, summary) {
    this.origin = new URL(api).origin;
    this.url = `${api}/connect`;
    this.summary = summary;
    this.id = requestId();
    /** @type {Deferred<string>} */
    this.address = deferred();
    /** @type {Deferred<string>} */
    this.signature = deferred();
    /** @type {((answer: unknown) => void) | null} the page's "account" message, answered with the payload */
    this.answerAccount = null;
    /** @type {number | null} */
    this.tabId = null;
    this.done = false;
    this.listener = this.onMessage.bind(this);
    this.closed = this.onTabClosed.bind(this);
  }

  /** @returns {Promise<string>} the wallet's address, once the user connected it on the page */
  async getAddress() {
    if (this.tabId === null) await this.open();
    return this.address.promise;
  }

  /**
   * @param {Record<string, unknown>} domain
   * @param {Record<string, Array<{name: string, type: string}>>} types
   * @param {Record<string, unknown>} message
   * @returns {Promise<string>}
   */
  async signTypedData(domain, types, message) {
    await this.getAddress();
    const typedData = TypedDataEncoder.getPayload(domain, types, message);
    if (!this.answerAccount) throw new WalletBridgeError("the wallet page is not waiting for a signature request");
    this.answerAccount({ typedData });
    this.answerAccount = null;
    try {
      return await this.signature.promise;
    } finally {
      this.finish();
    }
  }

  async open() {
    chrome.runtime.onMessageExternal.addListener(this.listener);
    chrome.tabs.onRemoved.addListener(this.closed);
    const extension = chrome.runtime.id;
    const tab = await chrome.tabs.create({ url: `${this.url}#request=${this.id}&extension=${extension}` });
    this.tabId = tab.id ?? null;
    this.timer = setTimeout(() => this.fail("the wallet page was left unanswered for 10 minutes"), BRIDGE_TIMEOUT_MS);
  }

  /** @param {string} why */
  fail(why) {
    const error = new WalletBridgeError(why);
    this.address.reject(error);
    this.signature.reject(error);
    // Both may be unobserved: only one of them is awaited at a time.
    this.address.promise.catch(() => {});
    this.signature.promise.catch(() => {});
    this.finish();
  }

  finish() {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    chrome.runtime.onMessageExternal.removeListener(this.listener);
    chrome.tabs.onRemoved.removeListener(this.closed);
    if (this.tabId !== null) chrome.tabs.remove(this.tabId).catch(() => {});
  }

  /** @param {number} tabId */
  onTabClosed(tabId) {
    if (tabId === this.tabId && !this.done) {
      this.tabId = null;
      this.fail("the wallet page was closed before it signed");
    }
  }

  /**
   * @param {any} message
   * @param {chrome.runtime.MessageSender} sender
   * @param {(answer: unknown) => void} respond
   * @returns {boolean | undefined} true when `respond` is called later
   */
  onMessage(message, sender, respond) {
    if (message?.request !== this.id || this.done) return undefined;
    let origin = "";
    try {
      origin = new URL(sender.url ?? "").origin;
    } catch {
      // no URL: not a page
    }
    if (origin !== this.origin) {
      respond({ error: `this request belongs to ${this.origin}` });
      return undefined;
    }
    switch (message.step) {
      case "hello":
        respond({ summary: this.summary });
        return undefined;
      case "account": {
        let address;
        try {
          address = getAddress(String(message.address));
        } catch {
          respond({ error: "not an address" });
          return undefined;
        }
        this.answerAccount = respond;
        this.address.resolve(address);
        return true;
      }
      case "signature":
        if (typeof message.signature !== "string") {
          respond({ error: "no signature" });
          return undefined;
        }
        this.signature.resolve(message.signature);
        respond({ ok: true });
        return undefined;
      case "error":
        respond({ ok: true });
        this.fail(`the wallet did not sign: ${String(message.message ?? "refused")}`);
        return undefined;
      default:
        respond({ error: "unknown step" });
        return undefined;
    }
  }
}
