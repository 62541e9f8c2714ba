// What the extension keeps: the API URL, the local keystore and the receipts in
// chrome.storage.local; the unlocked local key in chrome.storage.session, which lives in memory
// only and is gone when the browser closes. No private key is ever written in the clear.
import { getAddress, Wallet } from "./vendor/ethers.mjs";

export const DEFAULT_API = "http://127.0.0.1:8000";
const MAX_RECEIPTS = 500;

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

// ---------------------------------------------------------------------------------------------
// The local key: an encrypted JSON keystore (ethers' Web3 Secret Storage, scrypt), unlocked with
// a passphrase the user chose, for the browser session.

/** A passphrase shorter than this is refused: the keystore file is only as strong as it. */
export const MIN_PASSPHRASE = 10;

export class KeystoreError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "KeystoreError";
  }
}

/**
 * @typedef {object} KeystoreState
 * @property {string | null} address   the keystore's address; null when there is none
 * @property {boolean} unlocked
 * @property {boolean} legacyPlaintext an older version's unencrypted key waits to be encrypted
 */

/** @returns {Promise<KeystoreState>} */
export async function keystoreState() {
  const { keystore, localKey } = await chrome.storage.local.get(["keystore", "localKey"]);
  const { unlockedKey } = await chrome.storage.session.get("unlockedKey");
  let address = null;
  // The standard keeps the address as 40 hex digits, without 0x.
  if (typeof keystore === "string") address = getAddress(`0x${String(JSON.parse(keystore).address).replace(/^0x/, "")}`);
  return { address, unlocked: typeof unlockedKey === "string", legacyPlaintext: typeof localKey === "string" };
}

/** @param {string} passphrase */
function checkPassphrase(passphrase) {
  if (passphrase.length < MIN_PASSPHRASE) {
    throw new KeystoreError(`choose a passphrase of at least ${MIN_PASSPHRASE} characters`);
  }
}

/**
 * Encrypt `wallet` under `passphrase`, keep the keystore, unlock it for this session.
 * @param {Wallet} wallet
 * @param {string} passphrase
 * @param {(progress: number) => void} [onProgress] scrypt takes seconds
 */
async function keep(wallet, passphrase, onProgress) {
  checkPassphrase(passphrase);
  const keystore = await wallet.encrypt(passphrase, onProgress);
  await chrome.storage.local.set({ keystore });
  // An older version kept its key in the clear: gone once it is encrypted.
  await chrome.storage.local.remove("localKey");
  await chrome.storage.session.set({ unlockedKey: wallet.privateKey });
  return wallet;
}

/**
 * A new local key, encrypted under `passphrase`; an older version's plaintext key, if there is
 * one, is the key encrypted instead (its points stay claimable).
 * @param {string} passphrase
 * @param {(progress: number) => void} [onProgress]
 */
export async function createKeystore(passphrase, onProgress) {
  const { localKey } = await chrome.storage.local.get("localKey");
  const wallet = typeof localKey === "string" ? new Wallet(localKey) : Wallet.createRandom();
  return keep(new Wallet(wallet.privateKey), passphrase, onProgress);
}

/**
 * Import a keystore file someone exported (from here, or from any wallet writing the standard).
 * @param {string} json
 * @param {string} passphrase its passphrase; it stays the keystore's
 * @param {(progress: number) => void} [onProgress]
 */
export async function importKeystore(json, passphrase, onProgress) {
  let wallet;
  try {
    wallet = await Wallet.fromEncryptedJson(json, passphrase, onProgress);
  } catch (error) {
    throw new KeystoreError(`this keystore does not open with that passphrase: ${/** @type {Error} */ (error).message}`);
  }
  await chrome.storage.local.set({ keystore: json });
  await chrome.storage.local.remove("localKey");
  await chrome.storage.session.set({ unlockedKey: wallet.privateKey });
  return wallet.address;
}

/** @returns {Promise<string>} the keystore JSON, encrypted as kept, for the user to save */
export async function exportKeystore() {
  const { keystore } = await chrome.storage.local.get("keystore");
  if (typeof keystore !== "string") throw new KeystoreError("there is no local keystore to export");
  return keystore;
}

/**
 * @param {string} passphrase
 * @param {(progress: number) => void} [onProgress]
 * @returns {Promise<string>} the address unlocked
 */
export async function unlockKeystore(passphrase, onProgress) {
  const json = await exportKeystore();
  let wallet;
  try {
    wallet = await Wallet.fromEncryptedJson(json, passphrase, onProgress);
  } catch {
    throw new KeystoreError("wrong passphrase");
  }
  await chrome.storage.session.set({ unlockedKey: wallet.privateKey });
  return wallet.address;
}

export async function lockKeystore() {
  await chrome.storage.session.remove("unlockedKey");
}

/**
 * The unlocked local key, as an ethers signer.
 * @returns {Promise<Wallet>}
 * @throws {KeystoreError} when it is locked or there is none
 */
export async function unlockedWallet() {
  const { unlockedKey } = await chrome.storage.session.get("unlockedKey");
  if (typeof unlockedKey !== "string") throw new KeystoreError("the local key is locked: unlock it with its passphrase");
  return new Wallet(unlockedKey);
}

// ---------------------------------------------------------------------------------------------
// Receipts of what was shared.

/**
 * @typedef {object} KeptReceipt
 * @property {string} api
 * @property {number} id
 * @property {string} contentHash
 * @property {string} title
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

/** @param {KeptReceipt[]} entries */
export async function keepReceipts(entries) {
  const known = new Set(entries.map((e) => `${e.api} ${e.id}`));
  const older = (await keptReceipts()).filter((r) => !known.has(`${r.api} ${r.id}`));
  await chrome.storage.local.set({ receipts: [...entries, ...older].slice(0, MAX_RECEIPTS) });
}
