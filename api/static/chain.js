/**
 * Reading the TallyAnchor contract over JSON-RPC, straight from the browser.
 *
 * The page never asks our API what the chain says: it sends `eth_call`s to the chain's RPC URL
 * itself. The ABI encoding is written by hand for the few types the contract's views use
 * (`uintN`, `address`, `bytes32`, `bool`, `bytes32[]`, and the static tuple of an epoch header),
 * which is all ethers would do here for a hundred times the code. `tests/page/test_page_hashing.py`
 * checks it against web3.py.
 *
 * @module chain
 */

import {
  FormatError,
  HASH_SIZE,
  bytes32Word,
  bytesToHex,
  concatBytes,
  addressWord,
  hexToBytes,
  keccak256,
  toChecksumAddress,
  uintWord,
  utf8,
  wordToUint,
} from "./hashing.js";

/**
 * `ITallyAnchor.EpochHeader` as an ABI tuple: (epoch, logSize, logRoot, balancesRoot, totalPoints).
 * The contract keeps the keccak-256 of its encoding for each epoch; the verify views take it.
 */
export const EPOCH_HEADER = "(uint64,uint64,bytes32,bytes32,uint128)";

/** The contract's views, event and errors, as ITallyAnchor.sol names them. */
export const TALLY_ANCHOR = Object.freeze({
  latestEpoch: { signature: "latestEpoch()", outputs: ["uint64"] },
  headerHash: { signature: "headerHash(uint64)", outputs: ["bytes32"] },
  verifyContribution: {
    signature: `verifyContribution(${EPOCH_HEADER},uint64,address,bytes32,uint64,uint128,bytes32[])`,
    outputs: ["bool"],
  },
  verifyBalance: { signature: `verifyBalance(${EPOCH_HEADER},address,uint256,bytes32[])`, outputs: ["bool"] },
  epochAnchored: "EpochAnchored(uint64,uint64,bytes32,bytes32,uint128,string)",
  errors: ["UnknownEpoch(uint64,uint64)", "HeaderMismatch(uint64,bytes32,bytes32)"],
});

/** A JSON-RPC request that failed: the node is unreachable, answered an error, or reverted. */
export class RpcError extends Error {
  name = "RpcError";

  /**
   * @param {string} message
   * @param {{code?: number, data?: unknown}} [details]
   */
  constructor(message, details = {}) {
    super(message);
    this.code = details.code;
    this.data = details.data;
  }
}

/** A minimal JSON-RPC 2.0 client over `fetch`. */
export class JsonRpc {
  /**
   * @param {string} url the chain's RPC URL (from `/v1/config`)
   * @param {{timeoutMs?: number, fetch?: typeof fetch}} [options]
   */
  constructor(url, options = {}) {
    this.url = url;
    this.timeoutMs = options.timeoutMs ?? 15000;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.nextId = 1;
  }

  /**
   * @param {string} method
   * @param {unknown[]} [params]
   * @returns {Promise<any>} the `result` member
   */
  async request(method, params = []) {
    const body = JSON.stringify({ jsonrpc: "2.0", id: this.nextId++, method, params });
    let response;
    try {
      response = await this.fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new RpcError(`cannot reach the chain at ${this.url} (${error.name}: ${error.message})`);
    }
    if (!response.ok) throw new RpcError(`the chain at ${this.url} answered HTTP ${response.status} to ${method}`);
    const answer = await response.json();
    if (answer.error) {
      throw new RpcError(`${method} failed: ${answer.error.message}`, answer.error);
    }
    return answer.result;
  }
}

/**
 * The 4-byte selector of a function or error signature.
 * @param {string} signature e.g. `headerHash(uint64)`
 * @returns {Uint8Array}
 */
export function functionSelector(signature) {
  return keccak256(utf8(signature)).slice(0, 4);
}

/**
 * The types of a comma-separated list, split at the commas outside parentheses.
 * @param {string} list e.g. `(uint64,bytes32),address`
 * @param {string} where for the error message
 * @returns {string[]}
 */
function splitTypes(list, where) {
  if (list === "") return [];
  const types = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i += 1) {
    if (list[i] === "(") depth += 1;
    if (list[i] === ")") depth -= 1;
    if (depth < 0) break;
    if (list[i] === "," && depth === 0) {
      types.push(list.slice(start, i));
      start = i + 1;
    }
  }
  types.push(list.slice(start));
  if (depth !== 0 || types.includes("")) throw new FormatError(`not a list of ABI types: ${where}`);
  return types;
}

/**
 * The argument types written in a signature; a tuple is one type, `(t1,t2,...)`.
 * @param {string} signature
 * @returns {string[]}
 */
export function signatureTypes(signature) {
  const match = /^[A-Za-z_][A-Za-z0-9_]*\((.*)\)$/.exec(signature);
  if (!match) throw new FormatError(`not a function signature: ${signature}`);
  return splitTypes(match[1], signature);
}

/**
 * One static value as its ABI words: one word, or for a static tuple (given as an array) the
 * words of its members, in place.
 * @param {string} type
 * @param {unknown} value
 * @param {string} what
 * @returns {Uint8Array[]}
 */
function staticWords(type, value, what) {
  if (type.startsWith("(") && type.endsWith(")")) {
    const members = splitTypes(type.slice(1, -1), type);
    if (!Array.isArray(value) || value.length !== members.length) {
      throw new FormatError(`${what} is not a tuple of ${members.length} values`);
    }
    return members.flatMap((member, i) => staticWords(member, value[i], `${what}[${i}] (${member})`));
  }
  const uint = /^uint(\d+)$/.exec(type);
  if (uint) return [uintWord(/** @type {any} */ (value), Number(uint[1]), what)];
  if (type === "address") return [addressWord(/** @type {string} */ (value), what)];
  if (type === "bytes32") return [bytes32Word(/** @type {string} */ (value), what)];
  if (type === "bool") return [uintWord(value ? 1 : 0, 8, what)];
  throw new FormatError(`the page cannot ABI-encode type ${type}`);
}

/**
 * How many words a type takes in the head of an encoding: a static tuple its members', any other
 * type one (a dynamic one, its offset).
 * @param {string} type
 * @returns {number}
 */
function headWords(type) {
  if (!(type.startsWith("(") && type.endsWith(")"))) return 1;
  return splitTypes(type.slice(1, -1), type).reduce((sum, member) => sum + headWords(member), 0);
}

/**
 * A bundle's header as the contract's `EpochHeader` tuple.
 * @param {{epoch: unknown, logSize: unknown, logRoot: unknown, balancesRoot: unknown, totalPoints: unknown}} header
 * @returns {unknown[]}
 */
export function headerTuple(header) {
  return [header.epoch, header.logSize, header.logRoot, header.balancesRoot, header.totalPoints];
}

/**
 * What `headerHash(epoch)` answers once the header is anchored:
 * `keccak256(abi.encode(epoch, logSize, logRoot, balancesRoot, totalPoints))`.
 * @param {Parameters<typeof headerTuple>[0]} header
 * @returns {string} 0x-hex
 */
export function headerHash(header) {
  return bytesToHex(keccak256(concatBytes(...staticWords(EPOCH_HEADER, headerTuple(header), "header"))));
}

/**
 * Calldata for a call: selector, then the head (static values, and offsets of dynamic ones),
 * then the tails. Dynamic types: `bytes32[]` only, the proofs; a tuple must be static, and its
 * value is an array of its members.
 * @param {string} signature the function, e.g. `headerHash(uint64)`
 * @param {unknown[]} args in the order of the signature
 * @returns {string} 0x-hex calldata
 */
export function encodeCall(signature, args) {
  const types = signatureTypes(signature);
  if (types.length !== args.length) {
    throw new FormatError(`${signature} takes ${types.length} arguments, got ${args.length}`);
  }
  const head = [];
  const tails = [];
  let tailOffset = types.reduce((sum, type) => sum + headWords(type), 0) * HASH_SIZE;
  types.forEach((type, i) => {
    const what = `argument ${i} (${type})`;
    if (type === "bytes32[]") {
      const items = /** @type {string[]} */ (args[i]);
      if (!Array.isArray(items)) throw new FormatError(`${what} is not an array`);
      const tail = concatBytes(uintWord(items.length, 256), ...items.map((item) => bytes32Word(item, what)));
      head.push(uintWord(tailOffset, 256));
      tails.push(tail);
      tailOffset += tail.length;
    } else {
      head.push(...staticWords(type, args[i], what));
    }
  });
  return bytesToHex(concatBytes(functionSelector(signature), ...head, ...tails));
}

/**
 * Decode the static return values of a call.
 * @param {string} hex the `eth_call` result
 * @param {string[]} types static types only
 * @returns {Array<bigint|string|boolean>} uintN as bigint, bytes32 as 0x-hex, address checksummed, bool
 */
export function decodeResult(hex, types) {
  const data = hexToBytes(hex, undefined, "call result");
  if (data.length < types.length * HASH_SIZE) {
    // An address with no code answers "0x": say so instead of reading zeros.
    throw new FormatError(`the call returned ${data.length} bytes, expected ${types.length * HASH_SIZE}`);
  }
  return types.map((type, i) => {
    const word = data.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE);
    const uint = /^uint(\d+)$/.exec(type);
    if (type === "bytes32") return bytesToHex(word);
    const n = wordToUint(word);
    if (uint) {
      if (n >> BigInt(uint[1]) !== 0n) throw new FormatError(`return value ${i} does not fit in ${type}`);
      return n;
    }
    if (type === "bool") {
      if (n > 1n) throw new FormatError(`return value ${i} is not a bool`);
      return n === 1n;
    }
    if (type === "address") {
      if (n >> 160n !== 0n) throw new FormatError(`return value ${i} is not an address`);
      return toChecksumAddress(word.slice(12));
    }
    throw new FormatError(`the page cannot ABI-decode type ${type}`);
  });
}

/**
 * Name the contract's custom error in a revert, if it is one we know.
 * @param {unknown} data the `data` of a JSON-RPC error
 * @returns {string|null}
 */
export function revertReason(data) {
  const hex = typeof data === "string" ? data : typeof data?.data === "string" ? data.data : null;
  if (!hex || hex.length < 10) return null;
  for (const signature of TALLY_ANCHOR.errors) {
    if (hex.slice(0, 10).toLowerCase() === bytesToHex(functionSelector(signature))) return signature.split("(")[0];
  }
  return null;
}

/** The TallyAnchor contract at one address, read through one RPC endpoint. */
export class TallyAnchor {
  /**
   * @param {JsonRpc} rpc
   * @param {string} address
   */
  constructor(rpc, address) {
    this.rpc = rpc;
    this.address = address;
  }

  /**
   * @param {{signature: string, outputs: string[]}} view
   * @param {unknown[]} args
   * @returns {Promise<Array<bigint|string|boolean>>}
   */
  async call(view, args) {
    const data = encodeCall(view.signature, args);
    try {
      const result = await this.rpc.request("eth_call", [{ to: this.address, data }, "latest"]);
      return decodeResult(result, view.outputs);
    } catch (error) {
      if (error instanceof RpcError) {
        const reason = revertReason(error.data);
        if (reason) throw new RpcError(`${view.signature.split("(")[0]} reverted with ${reason}`, error);
      }
      throw error;
    }
  }

  /** @returns {Promise<bigint>} */
  async chainId() {
    return BigInt(await this.rpc.request("eth_chainId"));
  }

  /** @returns {Promise<boolean>} whether any code is deployed at the address */
  async hasCode() {
    const code = await this.rpc.request("eth_getCode", [this.address, "latest"]);
    return typeof code === "string" && code !== "0x" && code !== "0x0";
  }

  /** @returns {Promise<bigint>} */
  async latestEpoch() {
    const [latest] = await this.call(TALLY_ANCHOR.latestEpoch, []);
    return /** @type {bigint} */ (latest);
  }

  /**
   * @param {number|string|bigint} epoch
   * @returns {Promise<string>} the hash of the header anchored for the epoch; zero if none is
   */
  async headerHash(epoch) {
    const [hash] = await this.call(TALLY_ANCHOR.headerHash, [epoch]);
    return /** @type {string} */ (hash);
  }

  /**
   * @param {unknown[]} args (header tuple, index, contributor, contentHash, acceptedAt, points, proof)
   * @returns {Promise<boolean>}
   */
  async verifyContribution(args) {
    const [ok] = await this.call(TALLY_ANCHOR.verifyContribution, args);
    return /** @type {boolean} */ (ok);
  }

  /**
   * @param {unknown[]} args (header tuple, account, balance, proof)
   * @returns {Promise<boolean>}
   */
  async verifyBalance(args) {
    const [ok] = await this.call(TALLY_ANCHOR.verifyBalance, args);
    return /** @type {boolean} */ (ok);
  }

  /**
   * The receipt of a transaction, or null if the chain does not know it.
   * @param {string} hash
   * @returns {Promise<any>}
   */
  receipt(hash) {
    return this.rpc.request("eth_getTransactionReceipt", [hash]);
  }

  /** @returns {string} topic 0 of `EpochAnchored` */
  static epochAnchoredTopic() {
    return bytesToHex(keccak256(utf8(TALLY_ANCHOR.epochAnchored)));
  }
}
