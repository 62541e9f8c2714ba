/**
 * What the page says about what is not final yet: when the next epoch is sealed, whether a
 * balance or a contribution can be verified now (and if not, what it waits for), and where a
 * conversation's bytes are stored.
 *
 * Pure functions of API documents and the time, with no DOM, so that each state has exactly one
 * wording and node can check them all (tests/page/status_words.mjs). "Not yet" is never worded
 * as a failure: a proof that cannot exist yet is not a proof that failed.
 *
 * @module status
 */

/**
 * The `sealing` object of `/v1/config` (ledger/sealing.py): Unix seconds; `nextSealAt` is null
 * while no contribution is pending.
 * @typedef {object} Sealing
 * @property {number} intervalSeconds
 * @property {number} threshold
 * @property {number} pendingContributions
 * @property {number|null} lastSealedAt
 * @property {number|null} nextSealAt
 */

/**
 * @param {number} seconds a positive duration
 * @returns {string} "about 25 s", "about 4 min", "about 2 h": a countdown, not a promise
 */
export function aboutDuration(seconds) {
  if (seconds < 90) return `about ${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 90 * 60) return `about ${Math.round(seconds / 60)} min`;
  return `about ${Math.round(seconds / 3600)} h`;
}

/**
 * When the next epoch is sealed, as one sentence.
 * @param {Sealing|null|undefined} sealing
 * @param {number} now Unix seconds
 * @returns {string|null} null when the server does not publish its schedule
 */
export function nextSealText(sealing, now) {
  if (!sealing || typeof sealing !== "object") return null;
  const { nextSealAt, lastSealedAt, intervalSeconds } = sealing;
  if (typeof nextSealAt === "number") {
    const wait = nextSealAt - now;
    return wait >= 1 ? `Next epoch sealed in ${aboutDuration(wait)}.` : "Next epoch due now.";
  }
  // Nothing pending. The schedule (ledger/sealing.py) seals a newcomer at once after a quiet
  // period, but no sooner than an interval after the last seal.
  const earliest = typeof lastSealedAt === "number" && typeof intervalSeconds === "number"
    ? lastSealedAt + intervalSeconds - now
    : 0;
  return earliest >= 1
    ? `No contribution is waiting; the next epoch is sealed once one arrives, in ${aboutDuration(earliest)} at the earliest.`
    : "No contribution is waiting; the next epoch is sealed as soon as one arrives.";
}

/**
 * The newest epoch that is final, from a page of `/v1/epochs` items (newest first).
 * @param {any[]} epochs
 * @returns {number|null}
 */
export function latestFinalEpoch(epochs) {
  let latest = null;
  for (const epoch of epochs) {
    if (epoch.state === "final" && (latest === null || epoch.epoch > latest)) latest = epoch.epoch;
  }
  return latest;
}

/**
 * Whether the balance can be proven now. A balance proof is against the latest final epoch
 * (ledger/proofs.py), so it exists once the epoch that sealed the account's first entry is final.
 * @typedef {object} Readiness
 * @property {boolean} verifiable
 * @property {"empty"|"pending"|"sealed"|null} waitingFor why not: no points at all, nothing
 *   sealed yet, or sealed into `epoch` which is not final yet
 * @property {number|null} epoch
 * @property {string|null} epochState the state of `epoch`, when known
 */

/**
 * @param {any} account `/v1/accounts/{address}?limit=1`: its history starts at the oldest entry
 * @param {number|null|undefined} latestFinal undefined when the epochs could not be read: then
 *   the page lets the server answer, and a "not yet" answer is shown as such
 * @param {any[]} [epochs] `/v1/epochs` items, for the state of the epoch waited for
 * @returns {Readiness}
 */
export function balanceReadiness(account, latestFinal, epochs = []) {
  const first = account?.history?.items?.[0];
  if (!first) return { verifiable: false, waitingFor: "empty", epoch: null, epochState: null };
  if (first.epoch === null || first.epoch === undefined) {
    return { verifiable: false, waitingFor: "pending", epoch: null, epochState: null };
  }
  if (latestFinal === undefined || (latestFinal !== null && latestFinal >= first.epoch)) {
    return { verifiable: true, waitingFor: null, epoch: null, epochState: null };
  }
  const epochState = epochs.find((e) => e.epoch === first.epoch)?.state ?? null;
  return { verifiable: false, waitingFor: "sealed", epoch: first.epoch, epochState };
}

/**
 * Why the balance cannot be verified yet, in words.
 * @param {Readiness} readiness
 * @returns {string}
 */
export function balanceNotYetText(readiness) {
  switch (readiness.waitingFor) {
    case "empty":
      return "Nothing to verify yet: this address has no points.";
    case "pending":
      return "Not verifiable yet: none of these points is in an epoch. The balance becomes verifiable "
        + "once the next epoch is sealed and final on-chain.";
    case "sealed":
      return `Not verifiable yet: these points are in epoch ${readiness.epoch}, which is sealed and `
        + `${anchoringWords(readiness.epochState)}. The balance becomes verifiable once it is final.`;
    default:
      return "";
  }
}

/** @param {string|null} epochState @returns {string} where an epoch that is not final stands */
function anchoringWords(epochState) {
  if (epochState === "mined") return "mined on-chain, waiting for its confirmations";
  if (epochState === "submitted") return "sent to the chain, waiting to be mined";
  return "waiting to be anchored on-chain";
}

/**
 * Whether a contribution's inclusion proof can be verified now, and if not, why. Only once its
 * epoch is final (status `anchored`): before that a proof either does not exist or stands on a
 * block the chain may still drop.
 * @param {any} item an item of `/v1/accounts/{address}/contributions`
 * @returns {{verifiable: boolean, why: string|null, waiting: string|null}} `why` on its own,
 *   `waiting` next to the epoch number the row already shows
 */
export function contributionReadiness(item) {
  if (item.status === "anchored") return { verifiable: true, why: null, waiting: null };
  if (item.epoch === null || item.epoch === undefined) {
    const why = "not in an epoch yet: verifiable once the next epoch is sealed and final";
    return { verifiable: false, why, waiting: why };
  }
  const waiting = `${anchoringWords(item.epochState ?? null)}: verifiable once it is final`;
  return { verifiable: false, why: `in epoch ${item.epoch}, ${waiting}`, waiting };
}

/**
 * Where a contribution's bytes are, in words that are true for this server. The API's `storage`
 * is `local` until an IPFS node pins the object, then `pinned` (ledger/outbox.py); without an
 * IPFS node (`/v1/config` `storage.ipfsPinning` false) `local` is where it stays, served by this
 * server's gateway at `/ipfs/{cid}`.
 * @param {any} item
 * @param {boolean} ipfsPinning
 * @returns {{label: string, servedHere: boolean}} `servedHere`: say that /ipfs/{cid} serves it
 */
export function storageWords(item, ipfsPinning) {
  if (item.erased) return { label: "erased", servedHere: false };
  const encrypted = item.encrypted ? ", encrypted" : "";
  if (item.storage === "pinned") return { label: `pinned on IPFS${encrypted}`, servedHere: false };
  if (item.storage === "local") {
    return ipfsPinning
      ? { label: `stored, pinning to IPFS${encrypted}`, servedHere: false }
      : { label: `stored locally${encrypted}`, servedHere: true };
  }
  return { label: `${item.storage ?? "stored"}${encrypted}`, servedHere: false };
}
