// Reads the golden proof bundles (tests/formats/golden/) with the contributor page's own code:
// the leaf hash that api/static/hashing.js recomputes from the leaf's fields must be the bundle's
// leafHash, the proof must lead to the header's root, and api/static/verify.js must pass its
// "format" and "leaf" checks (it stops at "chain": no RPC URL is given, none is needed here).
// A bundle with one point more must fail the "leaf" check. Called by tests/formats/test_golden_js.py
// with the golden directory as argument; prints {"checked": n, "failures": [...]} on stdout.

import { readFileSync } from "node:fs";
import { join } from "node:path";

import {
  balanceLeafHash,
  bytesToHex,
  hexToBytes,
  logLeafData,
  logLeafHash,
  rootFromInclusionProof,
  rootFromStandardProof,
} from "../../api/static/hashing.js";
import { verifyBalance, verifyContribution } from "../../api/static/verify.js";

const golden = process.argv[2];
const read = (name) => JSON.parse(readFileSync(join(golden, name), "utf8"));
const contribution = read("contribution-bundle.json");
const balance = read("balance-bundle.json");

let checked = 0;
const failures = [];

/** Record one comparison. */
function expectEqual(what, actual, expected) {
  checked += 1;
  if (actual !== expected) failures.push(`${what}: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
}

const hashes = (list) => list.map((h) => hexToBytes(h, 32));
const noRpc = (bundle) => ({ rpcUrl: null, chainId: bundle.chainId, contract: bundle.contract });

/** The names and outcomes of the checks verify.js ran, e.g. "format:ok leaf:ok chain:FAIL". */
const outcome = (report) => report.checks.map((c) => `${c.name}:${c.ok ? "ok" : "FAIL"}`).join(" ");

// The contribution: RFC 9162 leaf hash and inclusion proof against the header's log root.
{
  const { leaf, header } = contribution;
  const leafHash = await logLeafHash(logLeafData(leaf));
  expectEqual("contribution leaf hash", bytesToHex(leafHash), leaf.leafHash);
  const root = await rootFromInclusionProof(leafHash, leaf.index, header.logSize, hashes(contribution.proof));
  expectEqual("contribution proof root", bytesToHex(root), header.logRoot);
  const report = await verifyContribution(contribution, noRpc(contribution), { account: leaf.contributor });
  expectEqual("verify.js on the contribution bundle", outcome(report), "format:ok leaf:ok chain:FAIL");
  const altered = structuredClone(contribution);
  altered.leaf.points = String(BigInt(leaf.points) + 1n);
  expectEqual("verify.js on one point more", outcome(await verifyContribution(altered, noRpc(altered))),
    "format:ok leaf:FAIL");
}

// The balance: double-keccak leaf and sorted-pair proof against the header's balances root.
{
  const { leaf, header } = balance;
  const leafHash = balanceLeafHash(leaf.account, leaf.balance);
  expectEqual("balance leaf hash", bytesToHex(leafHash), leaf.leafHash);
  expectEqual("balance proof root", bytesToHex(rootFromStandardProof(leafHash, hashes(balance.proof))),
    header.balancesRoot);
  const report = await verifyBalance(balance, noRpc(balance), { account: leaf.account });
  expectEqual("verify.js on the balance bundle", outcome(report), "format:ok leaf:ok chain:FAIL");
  const altered = structuredClone(balance);
  altered.leaf.balance = String(BigInt(leaf.balance) + 1n);
  expectEqual("verify.js on one point more", outcome(await verifyBalance(altered, noRpc(altered))),
    "format:ok leaf:FAIL");
}

process.stdout.write(JSON.stringify({ checked, failures }));
