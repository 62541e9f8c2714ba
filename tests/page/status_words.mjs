// The page's wording of what is not final yet (api/static/status.js), one case per state, run by
// tests/page/test_page_status_words.py. States a browser test cannot reach in a few seconds (a
// seal overdue, an IPFS node pinning, an epoch mined but not final) are checked here. Exits 1 on
// the first wrong wording.

import assert from "node:assert/strict";
import {
  aboutDuration,
  balanceNotYetText,
  balanceReadiness,
  contributionReadiness,
  latestFinalEpoch,
  nextSealText,
  storageWords,
} from "../../api/static/status.js";

const NOW = 1_800_000_000;
const schedule = (nextSealAt, lastSealedAt = NOW - 5) => ({
  intervalSeconds: 30, threshold: 10000, pendingContributions: nextSealAt === null ? 0 : 1, lastSealedAt, nextSealAt,
});

// When the next epoch is sealed.
assert.equal(nextSealText(schedule(NOW + 25), NOW), "Next epoch sealed in about 25 s.");
assert.equal(nextSealText(schedule(NOW + 600), NOW), "Next epoch sealed in about 10 min.");
assert.equal(nextSealText(schedule(NOW), NOW), "Next epoch due now.");
assert.equal(nextSealText(schedule(NOW - 40), NOW), "Next epoch due now."); // overdue: the job has not run yet
assert.equal(nextSealText(schedule(null, NOW - 10), NOW),
  "No contribution is waiting; the next epoch is sealed once one arrives, in about 20 s at the earliest.");
assert.equal(nextSealText(schedule(null, NOW - 300), NOW),
  "No contribution is waiting; the next epoch is sealed as soon as one arrives.");
assert.equal(nextSealText(schedule(null, null), NOW),
  "No contribution is waiting; the next epoch is sealed as soon as one arrives.");
assert.equal(nextSealText(undefined, NOW), null); // a server that does not publish its schedule
assert.equal(aboutDuration(0.2), "about 1 s");
assert.equal(aboutDuration(7200), "about 2 h");

// Whether a balance can be verified: by the epoch of the account's oldest entry.
const account = (epoch) => ({ history: { items: epoch === undefined ? [] : [{ epoch }] } });
const epochs = [{ epoch: 3, state: "mined" }, { epoch: 2, state: "final" }, { epoch: 1, state: "final" }];
assert.equal(latestFinalEpoch(epochs), 2);
assert.equal(latestFinalEpoch([{ epoch: 1, state: "sealed" }]), null);
assert.deepEqual(balanceReadiness(account(2), 2, epochs), { verifiable: true, waitingFor: null, epoch: null, epochState: null });
assert.deepEqual(balanceReadiness(account(3), 2, epochs), { verifiable: false, waitingFor: "sealed", epoch: 3, epochState: "mined" });
assert.equal(balanceReadiness(account(null), 2, epochs).waitingFor, "pending");
assert.equal(balanceReadiness(account(undefined), 2, epochs).waitingFor, "empty");
assert.equal(balanceReadiness(account(1), null, []).waitingFor, "sealed");
// Epochs unknown (they failed to load): let the server answer, and call its 409 "not yet".
assert.equal(balanceReadiness(account(1), undefined).verifiable, true);
assert.equal(balanceNotYetText(balanceReadiness(account(3), 2, epochs)),
  "Not verifiable yet: these points are in epoch 3, which is sealed and mined on-chain, waiting for its "
  + "confirmations. The balance becomes verifiable once it is final.");
assert.equal(balanceNotYetText(balanceReadiness(account(undefined), 2, epochs)), "Nothing to verify yet: this address has no points.");
for (const readiness of [account(3), account(null), account(undefined)].map((a) => balanceReadiness(a, 2, epochs))) {
  assert.doesNotMatch(balanceNotYetText(readiness), /fail|invalid|error/i);
}

// A contribution: verifiable once anchored (its epoch final), "not yet" before.
assert.deepEqual(contributionReadiness({ status: "anchored", epoch: 2 }), { verifiable: true, why: null, waiting: null });
assert.equal(contributionReadiness({ status: "pending", epoch: null }).why,
  "not in an epoch yet: verifiable once the next epoch is sealed and final");
assert.equal(contributionReadiness({ status: "sealed", epoch: 3, epochState: "submitted" }).why,
  "in epoch 3, sent to the chain, waiting to be mined: verifiable once it is final");
assert.equal(contributionReadiness({ status: "sealed", epoch: 3, epochState: "mined" }).waiting,
  "mined on-chain, waiting for its confirmations: verifiable once it is final");

// Storage, with and without an IPFS node.
const item = (storage, extra = {}) => ({ storage, encrypted: false, erased: false, ...extra });
assert.deepEqual(storageWords(item("local"), false), { label: "stored locally", servedHere: true });
assert.deepEqual(storageWords(item("local", { encrypted: true }), false), { label: "stored locally, encrypted", servedHere: true });
assert.deepEqual(storageWords(item("local"), true), { label: "stored, pinning to IPFS", servedHere: false });
assert.deepEqual(storageWords(item("pinned"), true), { label: "pinned on IPFS", servedHere: false });
// Pinned while a node was configured, and the node since removed: it was pinned, and says so.
assert.deepEqual(storageWords(item("pinned"), false), { label: "pinned on IPFS", servedHere: false });
assert.deepEqual(storageWords(item("local", { erased: true }), false), { label: "erased", servedHere: false });
process.stdout.write("ok\n");
