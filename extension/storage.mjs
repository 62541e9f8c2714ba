// What the extension keeps in chrome.storage.local: the API URL, the local key, the receipts.
import { hexlify, randomBytes, Wallet } from "./vendor/ethers.mjs";

export const DEFAULT_API = "http://127.0.0.1:8000";
const MAX_RECEIPTS = 200;

/** @returns {Promise<string>} the API base URL, without a trailing slash */
export async function getApiUrl() {
  const { apiUrl } = await chrome.storage.local.get("apiUrl");
  return typeof apiUrl === "string" && apiUrl ? apiUrl : DEFAULT_API;
}

/**
 * @param {string} value what the user typed
 * @returns {Promise<string>} the URL as stored
 * @throws {Error} when it is not an http(s) URL
 */
export async function setApiUrl(value) {
  const url = new URL(value.trim());
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("the API URL must be http or https");
  const apiUrl = (url.origin + url.pathname).replace(/\/+$/, "");
  await chrome.storage.local.set({ apiUrl });
  return apiUrl;
}

/**
 * The local key: generated on first use and kept, unencrypted, in this browser profile.
 * @returns {Promise<Wallet>}
 */
export async function localWallet() {
  const { localKey } = await chrome.storage.local.get("localKey");
  if (typeof localKey === "string") return new Wallet(localKey);
  return replaceLocalWallet();
}

/** A new local key in place of the old one (which is gone unless the user exported it). */
export async function replaceLocalWallet() {
  const wallet = new Wallet(hexlify(randomBytes(32)));
  await chrome.storage.local.set({ localKey: wallet.privateKey });
  return wallet;
}

/**
 * @typedef {object} KeptReceipt
 * @property {string} api
 * @property {number} id
 * @property {string} contentHash
 * @property {string} points
 * @property {{message: object, signature: string}} receipt
 * @property {string} operator     who signed it, as checked
 * @property {number} keptAt       Unix seconds
 */

/** @returns {Promise<KeptReceipt[]>} newest first */
export async function keptReceipts() {
  const { receipts } = await chrome.storage.local.get("receipts");
  return Array.isArray(receipts) ? receipts : [];
}

/** @param {KeptReceipt} entry */
export async function keepReceipt(entry) {
  const receipts = [entry, ...(await keptReceipts())].slice(0, MAX_RECEIPTS);
  await chrome.storage.local.set({ receipts });
}
