// A small, independent JavaScript reading of RFC 9162 §2.1 (SHA-256), used to build proofs for the
// contract tests. The exhaustive tests use the Python implementation instead, and check that it
// gives the same proofs as this file: Solidity, Python and JavaScript must all agree.
const { createHash } = require("node:crypto");
const { AbiCoder, getBytes, hexlify } = require("ethers");

const ZERO = Buffer.from([0x00]);
const ONE = Buffer.from([0x01]);

function sha256(...parts) {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
}

/** RFC 9162 §2.1.1 leaf hash of `data` (bytes or 0x-hex). */
function leafHash(data) {
  return sha256(ZERO, Buffer.from(getBytes(data)));
}

function nodeHash(left, right) {
  return sha256(ONE, left, right);
}

/** The 160-byte leaf data of DESIGN.md §4. */
function leafData({ index, contributor, contentHash, acceptedAt, points }) {
  return AbiCoder.defaultAbiCoder().encode(
    ["uint64", "address", "bytes32", "uint64", "uint128"],
    [index, contributor, contentHash, acceptedAt, points]
  );
}

function largestPowerOfTwoBelow(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** A log over a list of leaf hashes (Buffers), with memoised subtree roots. */
class MerkleLog {
  constructor(leafHashes) {
    this.leaves = leafHashes;
    this.memo = new Map();
  }

  get size() {
    return this.leaves.length;
  }

  /** MTH(D[lo:hi]), RFC 9162 §2.1.1. */
  subtreeRoot(lo, hi) {
    const n = hi - lo;
    if (n === 0) return sha256();
    if (n === 1) return this.leaves[lo];
    const key = lo * 2 ** 32 + hi;
    const cached = this.memo.get(key);
    if (cached) return cached;
    const k = largestPowerOfTwoBelow(n);
    const r = nodeHash(this.subtreeRoot(lo, lo + k), this.subtreeRoot(lo + k, hi));
    // Perfect subtrees are shared by every later tree size; keeping them makes proofs cheap.
    if ((n & (n - 1)) === 0) this.memo.set(key, r);
    return r;
  }

  root(size = this.size) {
    return this.subtreeRoot(0, size);
  }

  /** PATH(m, D[0:size]), RFC 9162 §2.1.3.1. */
  inclusionProof(m, size = this.size) {
    const path = [];
    const walk = (m, lo, hi) => {
      const n = hi - lo;
      if (n <= 1) return;
      const k = largestPowerOfTwoBelow(n);
      if (m < k) {
        walk(m, lo, lo + k);
        path.push(this.subtreeRoot(lo + k, hi));
      } else {
        walk(m - k, lo + k, hi);
        path.push(this.subtreeRoot(lo, lo + k));
      }
    };
    walk(m, 0, size);
    return path;
  }

  /** PROOF(m, D[0:n]), RFC 9162 §2.1.4.1; empty for m = 0 and m = n. */
  consistencyProof(m, n = this.size) {
    const proof = [];
    if (m === 0 || m === n) return proof;
    const sub = (m, lo, hi, b) => {
      const n = hi - lo;
      if (m === n) {
        if (!b) proof.push(this.subtreeRoot(lo, hi));
        return;
      }
      const k = largestPowerOfTwoBelow(n);
      if (m <= k) {
        sub(m, lo, lo + k, b);
        proof.push(this.subtreeRoot(lo + k, hi));
      } else {
        sub(m - k, lo + k, hi, false);
        proof.push(this.subtreeRoot(lo, lo + k));
      }
    };
    sub(m, 0, n, true);
    return proof;
  }
}

const hex = (b) => hexlify(b);

module.exports = { sha256, leafHash, nodeHash, leafData, MerkleLog, hex, EMPTY_ROOT: hex(sha256()) };
