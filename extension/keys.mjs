// The Keys tab: the local keystore's state, and creating, unlocking, locking, exporting and
// importing it. Each passphrase step runs scrypt, which takes seconds: the page says so.
import {
  createKeystore, exportKeystore, importKeystore, keystoreState, lockKeystore, MIN_PASSPHRASE, unlockKeystore,
} from "./storage.mjs";

const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const value = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id)).value;

export async function showKeys() {
  const keys = await keystoreState();
  $("key-error").hidden = true;
  $("key-create").hidden = keys.address !== null;
  $("key-unlock").hidden = keys.address === null || keys.unlocked;
  $("key-unlocked").hidden = !keys.unlocked;
  /** @type {HTMLButtonElement} */ ($("export-key")).disabled = keys.address === null;
  $("key-state").dataset.state = keys.address === null ? "none" : keys.unlocked ? "unlocked" : "locked";
  $("key-state").textContent = keys.address === null
    ? (keys.legacyPlaintext
      ? "An earlier version of this extension kept a local key unencrypted. Choose a passphrase: that key is encrypted with it and the plaintext copy deleted."
      : "There is no local key. Create one if you have no wallet.")
    : `Local key ${keys.address}: ${keys.unlocked ? "unlocked until the browser closes" : "locked"}.`;
}

/**
 * Run a keystore step, with its progress and its error in words.
 * @param {(progress: (p: number) => void) => Promise<unknown>} step
 */
async function run(step) {
  $("key-error").hidden = true;
  const progress = (/** @type {number} */ p) => { $("key-state").textContent = `Working… ${Math.round(p * 100)}%`; };
  /** @type {string | null} */
  let failure = null;
  try {
    await step(progress);
  } catch (error) {
    failure = /** @type {Error} */ (error).message;
  }
  await showKeys();
  if (failure !== null) {
    $("key-error").textContent = failure;
    $("key-error").hidden = false;
  }
}

$("create-key").addEventListener("click", () => run(async (progress) => {
  if (value("new-passphrase") !== value("new-passphrase-again")) throw new Error("the two passphrases differ");
  if (value("new-passphrase").length < MIN_PASSPHRASE) {
    throw new Error(`choose a passphrase of at least ${MIN_PASSPHRASE} characters`);
  }
  await createKeystore(value("new-passphrase"), progress);
}));
$("unlock-key").addEventListener("click", () => run((progress) => unlockKeystore(value("passphrase"), progress)));
$("lock-key").addEventListener("click", () => run(() => lockKeystore()));
$("export-key").addEventListener("click", () => run(async () => {
  // A link the user clicks to save the file: the encrypted keystore as kept, nothing else.
  const json = await exportKeystore();
  const link = /** @type {HTMLAnchorElement} */ ($("export-link"));
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([json], { type: "application/json" }));
  link.download = `tally-keystore-${JSON.parse(json).address}.json`;
  link.textContent = `Save ${link.download}`;
  link.hidden = false;
}));
$("import-key").addEventListener("click", () => run(async (progress) => {
  const picked = /** @type {HTMLInputElement} */ ($("import-file")).files?.[0];
  if (!picked) throw new Error("pick the keystore file first");
  await importKeystore(await picked.text(), value("import-passphrase"), progress);
}));
