// Checks the page's browser modules (api/static/hashing.js and chain.js) against vectors that
// tests/page/test_page_hashing.py computed with our Python code (ledger.merkle, web3.py, eth_abi).
// Reads the vectors as JSON on stdin; prints {"checked": n, "failures": [...]} on stdout.

import {
  FormatError,
  ProofShapeError,
  balanceLeafHash,
  bytesToHex,
  hexToBytes,
  logLeafData,
  logLeafHash,
  parseAddress,
  rootFromInclusionProof,
  rootFromStandardProof,
  toChecksumAddress,
} from "../../api/static/hashing.js";
import { TallyAnchor, decodeResult, encodeCall, functionSelector, headerHash } from "../../api/static/chain.js";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const vectors = JSON.parse(Buffer.concat(chunks).toString("utf8"));

let checked = 0;
const failures = [];

/** Record one comparison. */
function expectEqual(what, actual, expected) {
  checked += 1;
  if (actual !== expected) failures.push(`${what}: got ${actual}, expected ${expected}`);
}

/** Record that `run` throws an error of class `kind`. */
async function expectThrows(what, kind, run) {
  checked += 1;
  try {
    await run();
    failures.push(`${what}: did not throw`);
  } catch (error) {
    if (!(error instanceof kind)) failures.push(`${what}: threw ${error.name}: ${error.message}, expected ${kind.name}`);
  }
}

const hexes = (list) => list.map((h) => hexToBytes(h, 32));

// 1. Log leaves: abi.encode and SHA-256(0x00 ‖ data).
for (const [i, leaf] of vectors.leaves.entries()) {
  const data = logLeafData(leaf.fields);
  expectEqual(`leaf ${i} data`, bytesToHex(data), leaf.data);
  expectEqual(`leaf ${i} hash`, bytesToHex(await logLeafHash(data)), leaf.hash);
}

// 2. RFC 9162 inclusion proofs: every proof leads to the root; a flipped byte or a missing hash does not.
for (const tree of vectors.logs) {
  for (const { index, proof } of tree.proofs) {
    const what = `log size ${tree.size} leaf ${index}`;
    const leafHash = hexToBytes(tree.leafHashes[index], 32);
    const root = await rootFromInclusionProof(leafHash, index, tree.size, hexes(proof));
    expectEqual(what, bytesToHex(root), tree.root);
    if (proof.length > 0) {
      const flipped = hexes(proof);
      flipped[0][31] ^= 1;
      checked += 1;
      const wrong = bytesToHex(await rootFromInclusionProof(leafHash, index, tree.size, flipped));
      if (wrong === tree.root) failures.push(`${what}: a flipped proof byte still gives the root`);
      await expectThrows(`${what} short proof`, ProofShapeError, () =>
        rootFromInclusionProof(leafHash, index, tree.size, hexes(proof.slice(1))));
    }
  }
  await expectThrows(`log size ${tree.size} index out of range`, ProofShapeError, () =>
    rootFromInclusionProof(hexToBytes(tree.leafHashes[0], 32), tree.size, tree.size, []));
}

// 3. The balances tree: double-keccak leaves and sorted-pair proofs.
const balances = vectors.balances;
for (const entry of balances.entries) {
  const what = `balance of ${entry.value[0]}`;
  const leaf = balanceLeafHash(entry.value[0], entry.value[1]);
  expectEqual(`${what} leaf`, bytesToHex(leaf), entry.leafHash);
  expectEqual(`${what} root`, bytesToHex(rootFromStandardProof(leaf, hexes(entry.proof))), balances.root);
  const other = balanceLeafHash(entry.value[0], (BigInt(entry.value[1]) ^ 1n).toString());
  checked += 1;
  if (bytesToHex(rootFromStandardProof(other, hexes(entry.proof))) === balances.root) {
    failures.push(`${what}: a balance one unit off still gives the root`);
  }
}

// 4. EIP-55 checksums, and a checksummed address with one letter's case changed (a typo) refused.
/** Swap the case of the first letter, which breaks a valid checksum. */
function flipCase(digits) {
  const at = [...digits].findIndex((c) => /[a-fA-F]/.test(c));
  const c = digits[at];
  return digits.slice(0, at) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + digits.slice(at + 1);
}
const isMixedCase = (digits) => digits !== digits.toLowerCase() && digits !== digits.toUpperCase();
for (const { lower, checksummed } of vectors.addresses) {
  expectEqual(`checksum of ${lower}`, toChecksumAddress(parseAddress(lower)), checksummed);
  const typo = flipCase(checksummed.slice(2));
  if (isMixedCase(typo)) {
    await expectThrows(`typo in ${checksummed}`, FormatError, () => parseAddress(`0x${typo}`));
  }
}

// 5. ABI: calldata as web3.py encodes it, return values as eth_abi encodes them.
for (const call of vectors.calls) {
  expectEqual(`calldata of ${call.signature}`, encodeCall(call.signature, call.args), call.calldata);
  expectEqual(`selector of ${call.signature}`, bytesToHex(functionSelector(call.signature)), call.calldata.slice(0, 10));
}
for (const { header, hash } of vectors.headers) {
  expectEqual(`header hash of epoch ${header.epoch}`, headerHash(header), hash);
  expectEqual(`header hash of epoch ${header.epoch}, one point more`,
    headerHash({ ...header, totalPoints: String(BigInt(header.totalPoints) ^ 1n) }) === hash, false);
}
for (const result of vectors.results) {
  const values = decodeResult(result.data, result.types).map((v) => (typeof v === "bigint" ? v.toString() : v));
  expectEqual(`decode ${result.types.join(",")}`, JSON.stringify(values), JSON.stringify(result.values));
}
expectEqual("EpochAnchored topic", TallyAnchor.epochAnchoredTopic(), vectors.epochAnchoredTopic);

process.stdout.write(JSON.stringify({ checked, failures }));
