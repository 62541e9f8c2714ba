/**
 * The hashes of Tally's two Merkle trees, computed in the browser so that a contributor need not
 * trust our API to check a proof (DESIGN.md §4 and §5).
 *
 * - The contribution log: RFC 9162 (Certificate Transparency v2) over SHA-256, from WebCrypto.
 * - The balances tree: OpenZeppelin's StandardMerkleTree over keccak-256, from the vendored
 *   `@noble/hashes` (WebCrypto has no keccak).
 *
 * This module mirrors `ledger/merkle/log.py` and `ledger/merkle/standard.py`;
 * `tests/page/test_page_hashing.py` runs it under node against vectors from those modules.
 * It touches no DOM, so node can import it as it is.
 *
 * @module hashing
 */

import { keccak_256 } from "./vendor/noble-hashes/sha3.js";

/** Bytes in a SHA-256 or keccak-256 digest, and in an ABI word. */
export const HASH_SIZE = 32;

/** A value in a bundle that is not what its format says (bad hex, bad address, out of range). */
export class FormatError extends Error {
  name = "FormatError";
}

/** An inclusion proof that cannot even be evaluated: wrong number of hashes, index out of range. */
export class ProofShapeError extends Error {
  name = "ProofShapeError";
}

// --- bytes and hex ---------------------------------------------------------------------------

/**
 * Decode `0x`-prefixed hex. Strict on purpose: a proof element with a stray character must fail
 * here with a clear message rather than hash to something else.
 * @param {string} hex
 * @param {number} [length] the exact number of bytes expected, if any
 * @param {string} [what] what the value is, for the error message
 * @returns {Uint8Array}
 */
export function hexToBytes(hex, length, what = "value") {
  if (typeof hex !== "string" || !/^0x([0-9a-fA-F]{2})*$/.test(hex)) {
    throw new FormatError(`${what} is not 0x-prefixed hex of whole bytes: ${String(hex).slice(0, 80)}`);
  }
  const bytes = new Uint8Array((hex.length - 2) / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(hex.slice(2 + 2 * i, 4 + 2 * i), 16);
  }
  if (length !== undefined && bytes.length !== length) {
    throw new FormatError(`${what} is ${bytes.length} bytes, expected ${length}`);
  }
  return bytes;
}

/**
 * @param {Uint8Array} bytes
 * @returns {string} lower-case hex with a `0x` prefix
 */
export function bytesToHex(bytes) {
  let hex = "0x";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/**
 * @param {...Uint8Array} parts
 * @returns {Uint8Array}
 */
export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * Lexicographic order of two byte strings (what Solidity's `a < b` on bytes32 means).
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @returns {number} negative, zero or positive
 */
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/**
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @returns {boolean}
 */
export function equalBytes(a, b) {
  return a.length === b.length && compareBytes(a, b) === 0;
}

/**
 * @param {string} text
 * @returns {Uint8Array} its UTF-8 bytes
 */
export function utf8(text) {
  return new TextEncoder().encode(text);
}

// --- the two hash functions ------------------------------------------------------------------

/**
 * SHA-256 from WebCrypto.
 * @param {Uint8Array} data
 * @returns {Promise<Uint8Array>}
 */
export async function sha256(data) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    // Browsers hide WebCrypto outside secure contexts (https, or http on localhost).
    throw new Error("WebCrypto is unavailable: open this page over https (or on localhost) to verify proofs");
  }
  return new Uint8Array(await subtle.digest("SHA-256", data));
}

/**
 * Ethereum's keccak-256 (not SHA3-256: the padding differs).
 * @param {Uint8Array} data
 * @returns {Uint8Array}
 */
export function keccak256(data) {
  return keccak_256(data);
}

// --- ABI words (static types only) -------------------------------------------------------------

/**
 * Read an unsigned integer as a bundle gives it: a JSON number below 2^53 (indexes, epochs, Unix
 * times) or a decimal string (points and balances, DESIGN.md §8).
 * @param {number|string|bigint} value
 * @param {number} bits the width of the Solidity type, e.g. 64 for uint64
 * @param {string} [what] what the value is, for the error message
 * @returns {bigint}
 */
export function toUint(value, bits, what = "value") {
  let n;
  if (typeof value === "bigint") {
    n = value;
  } else if (typeof value === "number" && Number.isSafeInteger(value)) {
    n = BigInt(value);
  } else if (typeof value === "string" && /^(0|[1-9][0-9]*)$/.test(value)) {
    n = BigInt(value);
  } else {
    throw new FormatError(`${what} is not an unsigned integer: ${JSON.stringify(value)}`);
  }
  if (n < 0n || n >= 1n << BigInt(bits)) {
    throw new FormatError(`${what} ${n} does not fit in uint${bits}`);
  }
  return n;
}

/**
 * @param {number|string|bigint} value
 * @param {number} bits
 * @param {string} [what]
 * @returns {Uint8Array} the 32-byte big-endian ABI word
 */
export function uintWord(value, bits, what) {
  let n = toUint(value, bits, what);
  const word = new Uint8Array(HASH_SIZE);
  for (let i = HASH_SIZE - 1; i >= 0 && n > 0n; i--) {
    word[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return word;
}

/**
 * @param {Uint8Array} word a 32-byte ABI word
 * @returns {bigint}
 */
export function wordToUint(word) {
  let n = 0n;
  for (const byte of word) n = (n << 8n) | BigInt(byte);
  return n;
}

/**
 * The EIP-55 mixed-case form of a 20-byte address.
 * @param {Uint8Array} address
 * @returns {string}
 */
export function toChecksumAddress(address) {
  const lower = bytesToHex(address).slice(2);
  const hash = bytesToHex(keccak256(utf8(lower))).slice(2);
  let out = "0x";
  for (let i = 0; i < lower.length; i++) {
    out += parseInt(hash[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i];
  }
  return out;
}

/**
 * Parse an address as `ledger.merkle._abi.parse_address(strict=True)` does: all-lower or
 * all-upper hex is accepted as is, mixed case must be a valid EIP-55 checksum (a typo in a
 * checksummed address is caught instead of silently naming someone else).
 * @param {string} address
 * @param {string} [what]
 * @returns {Uint8Array} the 20 bytes
 */
export function parseAddress(address, what = "address") {
  if (typeof address !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(address)) {
    throw new FormatError(`${what} is not a 0x-prefixed 20-byte hex address: ${String(address).slice(0, 80)}`);
  }
  const bytes = hexToBytes(address, 20, what);
  const digits = address.slice(2);
  const mixed = digits !== digits.toLowerCase() && digits !== digits.toUpperCase();
  if (mixed && toChecksumAddress(bytes) !== address) {
    throw new FormatError(`${what} ${address} has a wrong EIP-55 checksum (a typo?)`);
  }
  return bytes;
}

/**
 * @param {string} address
 * @param {string} [what]
 * @returns {Uint8Array} the address left-padded to an ABI word
 */
export function addressWord(address, what) {
  return concatBytes(new Uint8Array(12), parseAddress(address, what));
}

/**
 * @param {string} hex 0x + 64 hex digits
 * @param {string} [what]
 * @returns {Uint8Array}
 */
export function bytes32Word(hex, what) {
  return hexToBytes(hex, HASH_SIZE, what);
}

// --- the contribution log: RFC 9162 over SHA-256 (DESIGN.md §4) ------------------------------

/**
 * @typedef {object} LogLeaf
 * @property {number|string} index 0-based position in the log
 * @property {string} contributor 0x address
 * @property {string} contentHash 0x + 64 hex digits
 * @property {number|string} acceptedAt Unix seconds
 * @property {number|string} points decimal string in bundles
 */

/**
 * `abi.encode(uint64 index, address contributor, bytes32 contentHash, uint64 acceptedAt, uint128 points)`.
 * @param {LogLeaf} leaf
 * @returns {Uint8Array} the 160-byte leaf data
 */
export function logLeafData(leaf) {
  return concatBytes(
    uintWord(leaf.index, 64, "index"),
    addressWord(leaf.contributor, "contributor"),
    bytes32Word(leaf.contentHash, "contentHash"),
    uintWord(leaf.acceptedAt, 64, "acceptedAt"),
    uintWord(leaf.points, 128, "points"),
  );
}

/**
 * RFC 9162 §2.1.1: `SHA-256(0x00 ‖ leafData)`; the prefix keeps a leaf from passing for a node.
 * @param {Uint8Array} leafData
 * @returns {Promise<Uint8Array>}
 */
export function logLeafHash(leafData) {
  return sha256(concatBytes(Uint8Array.of(0), leafData));
}

/**
 * RFC 9162 §2.1.1: `SHA-256(0x01 ‖ left ‖ right)`.
 * @param {Uint8Array} left
 * @param {Uint8Array} right
 * @returns {Promise<Uint8Array>}
 */
export function logNodeHash(left, right) {
  return sha256(concatBytes(Uint8Array.of(1), left, right));
}

/** @param {bigint} n @returns {number} */
function bitLength(n) {
  return n === 0n ? 0 : n.toString(2).length;
}

/** @param {bigint} n @returns {number} */
function popCount(n) {
  return [...n.toString(2)].filter((digit) => digit === "1").length;
}

/**
 * How many hashes the inclusion proof of leaf `index` in a tree of `size` has: one per level
 * below the point where the paths to `index` and to the last leaf diverge, then one per left
 * sibling above it. Knowing it lets a wrong-length proof fail with a clear message.
 * @param {bigint} index
 * @param {bigint} size
 * @returns {number}
 */
export function inclusionProofSize(index, size) {
  const inner = bitLength(index ^ (size - 1n));
  return inner + popCount(index >> BigInt(inner));
}

/**
 * The root an inclusion proof leads to: RFC 9162 §2.1.3.2 steps 1 to 4, as
 * `ledger.merkle.log.root_from_inclusion_proof`. The caller compares it with the root it trusts
 * (step 5), which on this page is the root read from the contract.
 * @param {Uint8Array} leafHash
 * @param {number|string|bigint} index
 * @param {number|string|bigint} size
 * @param {Uint8Array[]} proof
 * @returns {Promise<Uint8Array>}
 * @throws {ProofShapeError} when the inputs cannot form a proof
 */
export async function rootFromInclusionProof(leafHash, index, size, proof) {
  const fnStart = toUint(index, 64, "index");
  const treeSize = toUint(size, 64, "log size");
  if (fnStart >= treeSize) {
    throw new ProofShapeError(`leaf index ${fnStart} is outside a tree of size ${treeSize}`);
  }
  if (leafHash.length !== HASH_SIZE) {
    throw new ProofShapeError(`leaf hash is ${leafHash.length} bytes, expected ${HASH_SIZE}`);
  }
  const expected = inclusionProofSize(fnStart, treeSize);
  if (proof.length !== expected) {
    throw new ProofShapeError(
      `inclusion proof of leaf ${fnStart} in a tree of size ${treeSize} has ${proof.length} hashes, expected ${expected}`,
    );
  }
  proof.forEach((p, i) => {
    if (p.length !== HASH_SIZE) throw new ProofShapeError(`proof element ${i} is ${p.length} bytes, expected ${HASH_SIZE}`);
  });

  // Steps 2 to 4, as the RFC writes them.
  let fn = fnStart;
  let sn = treeSize - 1n;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0n) throw new ProofShapeError("inclusion proof is too long");
    if ((fn & 1n) === 1n || fn === sn) {
      r = await logNodeHash(p, r);
      while (fn !== 0n && (fn & 1n) === 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await logNodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  if (sn !== 0n) throw new ProofShapeError("inclusion proof is too short");
  return r;
}

// --- the balances tree: OpenZeppelin StandardMerkleTree over keccak-256 (DESIGN.md §5) -------

/**
 * `keccak256(keccak256(abi.encode(address account, uint256 balance)))`: hashed twice, as
 * OpenZeppelin does, so that no 64-byte leaf can pass for an inner node.
 * @param {string} account
 * @param {number|string|bigint} balance
 * @returns {Uint8Array}
 */
export function balanceLeafHash(account, balance) {
  return keccak256(keccak256(concatBytes(addressWord(account, "account"), uintWord(balance, 256, "balance"))));
}

/**
 * An inner node: keccak-256 of the two children in ascending order (OpenZeppelin's
 * `commutativeKeccak256`), which is why a proof needs no left/right flags.
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 * @returns {Uint8Array}
 */
export function standardNodeHash(a, b) {
  return compareBytes(a, b) <= 0 ? keccak256(concatBytes(a, b)) : keccak256(concatBytes(b, a));
}

/**
 * The root a proof leads to from a leaf (OpenZeppelin `MerkleProof.processProof`).
 * @param {Uint8Array} leafHash
 * @param {Uint8Array[]} proof
 * @returns {Uint8Array}
 */
export function rootFromStandardProof(leafHash, proof) {
  return proof.reduce((node, sibling) => standardNodeHash(node, sibling), leafHash);
}
