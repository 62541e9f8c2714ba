/**
 * Checking a proof bundle (`tally-proof-v1`, see api/bundles.py) in the browser, trusting
 * nothing our API said: the same checks, in the same order and under the same names, as
 * `anchoring/verify.py`, plus two the page adds: the anchoring transaction, and (last, so that a
 * bad proof is reported as such) that the explorer arguments shown are the values verified.
 *
 * The leaf and the proof are hashed here; the bundle's epoch header is taken only once its hash
 * is the one the contract holds for the epoch, read over the chain's JSON-RPC (the URL from
 * `/v1/config`, or one the contributor typed in), and the anchoring transaction's event
 * announced that same header; the contract's own verify view, given the header, gives a second
 * opinion. The first check that fails stops the run, as in the Python checker.
 *
 * @module verify
 */

import { JsonRpc, TALLY_ANCHOR, TallyAnchor, decodeResult, headerHash, headerTuple } from "./chain.js";
import {
  HASH_SIZE,
  ProofShapeError,
  balanceLeafHash,
  bytesToHex,
  equalBytes,
  hexToBytes,
  logLeafData,
  logLeafHash,
  rootFromInclusionProof,
  rootFromStandardProof,
  toUint,
  uintWord,
} from "./hashing.js";

/** The bundle formats this page reads. */
export const SUPPORTED_FORMATS = ["tally-proof-v1"];

/**
 * @typedef {object} Check
 * @property {string} name format, leaf, chain, epoch, transaction, header, proof, contract or arguments
 * @property {boolean} ok
 * @property {string} detail what was checked, or why it failed
 */

/**
 * @typedef {object} Report
 * @property {boolean} ok every check passed
 * @property {Check[]} checks in the order they ran; the last one failed if `ok` is false
 * @property {Check|null} failed the failed check
 */

/**
 * @typedef {object} ChainConfig what `/v1/config` says about the chain
 * @property {string|null} rpcUrl
 * @property {number} chainId
 * @property {string} contract
 */

/**
 * @typedef {object} VerifyOptions
 * @property {string} [account] the address the contributor asked about: a proof for anyone
 *   else fails, however valid it is
 * @property {string} [contentHash] the contribution the contributor clicked
 * @property {(check: Check) => void} [onCheck] called as each check finishes, for live display
 * @property {typeof fetch} [fetch] for the JSON-RPC requests (tests)
 */

/** Thrown inside a step to fail it with a message. */
class CheckFailure extends Error {}

/** Thrown to stop the run after a failed step. */
class Stop extends Error {}

/** @param {string} message @returns {never} */
function fail(message) {
  throw new CheckFailure(message);
}

/** The checks of one run, stopping at the first failure. */
class Checks {
  /** @param {(check: Check) => void} [onCheck] */
  constructor(onCheck) {
    /** @type {Check[]} */
    this.list = [];
    this.onCheck = onCheck ?? (() => {});
  }

  /**
   * Run one check; its return value is the success detail, any error its failure.
   * @param {string} name
   * @param {() => Promise<string>|string} run
   */
  async step(name, run) {
    let check;
    try {
      check = { name, ok: true, detail: await run() };
    } catch (error) {
      check = { name, ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
    this.list.push(check);
    this.onCheck(check);
    if (!check.ok) throw new Stop();
  }
}

/** @param {string|undefined|null} a @param {string|undefined|null} b */
function sameAddress(a, b) {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

/** @param {number} n @returns {string} "1 hash", "4 hashes" */
function hashes(n) {
  return `${n} hash${n === 1 ? "" : "es"}`;
}

/** @param {string} hex @returns {string} */
function short(hex) {
  return hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-6)}` : hex;
}

/**
 * @param {unknown} proof
 * @returns {Uint8Array[]}
 */
function parseProof(proof) {
  if (!Array.isArray(proof)) fail("the bundle's proof is not a list of hashes");
  return proof.map((element, i) => hexToBytes(element, HASH_SIZE, `proof element ${i}`));
}

/**
 * @param {any} bundle
 * @param {string} kind
 * @returns {string}
 */
function checkFormat(bundle, kind) {
  if (bundle === null || typeof bundle !== "object") fail("the proof is not a JSON object");
  if (!SUPPORTED_FORMATS.includes(bundle.format)) {
    fail(`unknown bundle format ${JSON.stringify(bundle.format)}; this page reads ${SUPPORTED_FORMATS.join(", ")}`);
  }
  if (bundle.kind !== kind) fail(`this is not a ${kind} proof (kind ${JSON.stringify(bundle.kind)})`);
  if (!bundle.header || !bundle.leaf) fail("the bundle has no header or no leaf");
  return `${bundle.format}, a ${kind} proof against epoch ${bundle.header.epoch}`;
}

/**
 * The explorer arguments the page shows must be the values it verified, or a contributor
 * pasting them into an explorer would check something else.
 * @param {any} bundle
 * @param {Record<string, string>} verified field name -> the verified value, as text
 * @param {string} signature
 * @returns {string}
 */
function checkArguments(bundle, verified, signature) {
  const verify = bundle.verify;
  if (!verify || verify.function !== signature) fail(`the bundle's verify call is not ${signature}`);
  const fields = verify.fields ?? {};
  for (const [name, value] of Object.entries(verified)) {
    const given = fields[name];
    const same = name === "contributor" || name === "account" ? sameAddress(given, value) : given === value;
    if (!same) fail(`the explorer argument ${name} is ${JSON.stringify(given)}, the verified value is ${JSON.stringify(value)}`);
  }
  return `the ${Object.keys(verified).length} explorer arguments are the values checked here`;
}

/**
 * The chain and the contract, reached over the RPC URL of the config (never the bundle's).
 * @param {Checks} checks
 * @param {any} bundle
 * @param {ChainConfig} chain
 * @param {VerifyOptions} options
 * @returns {Promise<TallyAnchor>}
 */
async function connect(checks, bundle, chain, options) {
  /** @type {TallyAnchor|undefined} */
  let contract;
  await checks.step("chain", async () => {
    if (!chain.rpcUrl) fail("no RPC URL to reach the chain: the server publishes none in /v1/config; enter one below");
    if (Number(bundle.chainId) !== Number(chain.chainId)) {
      fail(`the bundle names chain ${bundle.chainId}, the server's configuration chain ${chain.chainId}`);
    }
    if (!sameAddress(bundle.contract, chain.contract)) {
      fail(`the bundle names contract ${bundle.contract}, the server's configuration ${chain.contract}`);
    }
    contract = new TallyAnchor(new JsonRpc(chain.rpcUrl, { fetch: options.fetch }), chain.contract);
    const served = await contract.chainId();
    if (served !== BigInt(chain.chainId)) fail(`the RPC at ${chain.rpcUrl} serves chain ${served}, not chain ${chain.chainId}`);
    if (!(await contract.hasCode())) fail(`there is no contract at ${chain.contract} on chain ${served}`);
    return `chain ${served} at ${chain.rpcUrl}; contract ${chain.contract} has code`;
  });
  return /** @type {TallyAnchor} */ (contract);
}

/**
 * The hash of the epoch's header as the contract holds it.
 * @param {Checks} checks
 * @param {any} bundle
 * @param {TallyAnchor} contract
 * @returns {Promise<string>} 0x-hex
 */
async function anchoredHash(checks, bundle, contract) {
  let anchored = "";
  await checks.step("epoch", async () => {
    const epoch = toUint(bundle.header.epoch, 64, "epoch");
    const latest = await contract.latestEpoch();
    if (epoch < 1n || epoch > latest) fail(`epoch ${epoch} is not anchored on-chain (latest is ${latest})`);
    anchored = await contract.headerHash(epoch);
    return `epoch ${epoch} is anchored on-chain (latest epoch ${latest}), header hash ${short(anchored)}`;
  });
  return anchored;
}

/**
 * The bundle's transaction exists, succeeded, and emitted `EpochAnchored` for this epoch with
 * the header whose hash the contract holds.
 * @param {Checks} checks
 * @param {any} bundle
 * @param {TallyAnchor} contract
 * @param {string} anchored the contract's header hash for the epoch
 */
async function anchoringTransaction(checks, bundle, contract, anchored) {
  await checks.step("transaction", async () => {
    const tx = bundle.transaction;
    if (!tx?.hash) fail("the bundle names no anchoring transaction");
    hexToBytes(tx.hash, HASH_SIZE, "transaction hash");
    const receipt = await contract.receipt(tx.hash);
    if (!receipt) fail(`the chain does not know transaction ${tx.hash}`);
    if (receipt.status !== "0x1") fail(`transaction ${tx.hash} failed on-chain`);
    const topic = TallyAnchor.epochAnchoredTopic();
    const epochTopic = bytesToHex(uintWord(bundle.header.epoch, 64));
    const log = (receipt.logs ?? []).find(
      (entry) => sameAddress(entry.address, contract.address) && entry.topics?.[0] === topic && entry.topics?.[1] === epochTopic,
    );
    if (!log) fail(`transaction ${tx.hash} did not anchor epoch ${bundle.header.epoch} on this contract`);
    const [logSize, logRoot, balancesRoot, totalPoints] = decodeResult(log.data, ["uint64", "bytes32", "bytes32", "uint128"]);
    if (headerHash({ epoch: bundle.header.epoch, logSize, logRoot, balancesRoot, totalPoints }) !== anchored) {
      fail(`transaction ${tx.hash} anchored a different header than the contract holds for epoch ${bundle.header.epoch}`);
    }
    const block = BigInt(receipt.blockNumber);
    const moved = tx.blockNumber != null && BigInt(tx.blockNumber) !== block ? ` (the bundle says block ${tx.blockNumber})` : "";
    return `transaction ${short(tx.hash)} in block ${block}${moved} emitted EpochAnchored for epoch ${bundle.header.epoch}`;
  });
}

/**
 * The bundle's header is the one anchored: it hashes to what the contract holds. From here on
 * its log size and roots are the chain's.
 * @param {Checks} checks
 * @param {any} bundle
 * @param {string} anchored
 */
async function anchoredHeader(checks, bundle, anchored) {
  await checks.step("header", () => {
    const given = bundle.header;
    let hash;
    try {
      hash = headerHash(given);
    } catch (error) {
      fail(`the bundle's header is malformed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (hash !== anchored) {
      fail(
        `the contract holds the header hash ${anchored} for epoch ${given.epoch}; the bundle's header ` +
          `(log size ${given.logSize}, root ${given.logRoot}, balances root ${given.balancesRoot}, ` +
          `total ${given.totalPoints}) hashes to ${hash}`,
      );
    }
    return `the bundle's header is the one anchored: log size ${given.logSize}, root ${short(String(given.logRoot))}, ` +
      `balances root ${short(String(given.balancesRoot))}`;
  });
}

/**
 * The header's explorer arguments: one text box per member of the tuple.
 * @param {any} header
 * @returns {Record<string, string>}
 */
function headerFields(header) {
  return {
    "header.epoch": String(header.epoch),
    "header.logSize": String(header.logSize),
    "header.logRoot": String(header.logRoot).toLowerCase(),
    "header.balancesRoot": String(header.balancesRoot).toLowerCase(),
    "header.totalPoints": String(header.totalPoints),
  };
}

/**
 * Check a contribution proof: its leaf is in the contribution log anchored on-chain.
 * @param {any} bundle a `tally-proof-v1` bundle of kind "contribution"
 * @param {ChainConfig} chain
 * @param {VerifyOptions} [options]
 * @returns {Promise<Report>}
 */
export async function verifyContribution(bundle, chain, options = {}) {
  const checks = new Checks(options.onCheck);
  try {
    await checks.step("format", () => checkFormat(bundle, "contribution"));
    const leaf = bundle.leaf;
    /** @type {Uint8Array} */
    let leafHash = new Uint8Array();
    /** @type {Uint8Array[]} */
    let proof = [];
    await checks.step("leaf", async () => {
      if (options.account && !sameAddress(leaf.contributor, options.account)) {
        fail(`this proof is for contributor ${leaf.contributor}, not ${options.account}`);
      }
      if (options.contentHash && String(leaf.contentHash).toLowerCase() !== options.contentHash.toLowerCase()) {
        fail(`this proof is for content ${leaf.contentHash}, not ${options.contentHash}`);
      }
      leafHash = await logLeafHash(logLeafData(leaf));
      proof = parseProof(bundle.proof);
      const computed = bytesToHex(leafHash);
      if (leaf.leafHash !== undefined && String(leaf.leafHash).toLowerCase() !== computed) {
        fail(`the leaf fields hash to ${computed}, the bundle says ${leaf.leafHash}`);
      }
      return `leaf ${leaf.index} recomputed from its fields: ${computed}`;
    });
    const contract = await connect(checks, bundle, chain, options);
    const anchored = await anchoredHash(checks, bundle, contract);
    await anchoringTransaction(checks, bundle, contract, anchored);
    await anchoredHeader(checks, bundle, anchored);
    // The size and the root are the anchored ones: the header hashes to what the contract holds.
    const header = { logSize: BigInt(bundle.header.logSize), logRoot: String(bundle.header.logRoot).toLowerCase() };
    await checks.step("proof", async () => {
      let root;
      try {
        root = await rootFromInclusionProof(leafHash, leaf.index, header.logSize, proof);
      } catch (error) {
        if (error instanceof ProofShapeError) fail(`the inclusion proof does not fit the on-chain log: ${error.message}`);
        throw error;
      }
      if (!equalBytes(root, hexToBytes(header.logRoot, HASH_SIZE))) {
        fail(`the inclusion proof does not lead to the on-chain root: it leads to ${short(bytesToHex(root))}, the contract holds ${short(header.logRoot)}`);
      }
      return `RFC 9162 inclusion proof (${hashes(proof.length)}, computed in this browser) leads to the on-chain root`;
    });
    await checks.step("contract", async () => {
      const args = [headerTuple(bundle.header), leaf.index, leaf.contributor, leaf.contentHash, leaf.acceptedAt,
        leaf.points, proof.map(bytesToHex)];
      if (!(await contract.verifyContribution(args))) fail("the contract's verifyContribution view says false");
      return "the contract's verifyContribution view agrees";
    });
    await checks.step("arguments", () =>
      checkArguments(
        bundle,
        {
          ...headerFields(bundle.header),
          index: String(leaf.index),
          contributor: leaf.contributor,
          contentHash: String(leaf.contentHash).toLowerCase(),
          acceptedAt: String(leaf.acceptedAt),
          points: String(leaf.points),
          proof: JSON.stringify(proof.map(bytesToHex)),
        },
        TALLY_ANCHOR.verifyContribution.signature,
      ),
    );
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
  }
  return report(checks);
}

/**
 * Check a balance proof: the account's balance is a leaf of the balances tree anchored on-chain.
 * @param {any} bundle a `tally-proof-v1` bundle of kind "balance"
 * @param {ChainConfig} chain
 * @param {VerifyOptions} [options]
 * @returns {Promise<Report>}
 */
export async function verifyBalance(bundle, chain, options = {}) {
  const checks = new Checks(options.onCheck);
  try {
    await checks.step("format", () => checkFormat(bundle, "balance"));
    const leaf = bundle.leaf;
    /** @type {Uint8Array} */
    let leafHash = new Uint8Array();
    /** @type {Uint8Array[]} */
    let proof = [];
    await checks.step("leaf", () => {
      if (options.account && !sameAddress(leaf.account, options.account)) {
        fail(`this proof is for account ${leaf.account}, not ${options.account}`);
      }
      leafHash = balanceLeafHash(leaf.account, leaf.balance);
      proof = parseProof(bundle.proof);
      const computed = bytesToHex(leafHash);
      if (leaf.leafHash !== undefined && String(leaf.leafHash).toLowerCase() !== computed) {
        fail(`the account and balance hash to ${computed}, the bundle says ${leaf.leafHash}`);
      }
      return `${leaf.account} with balance ${leaf.balance}: leaf ${computed}`;
    });
    const contract = await connect(checks, bundle, chain, options);
    const anchored = await anchoredHash(checks, bundle, contract);
    await anchoringTransaction(checks, bundle, contract, anchored);
    await anchoredHeader(checks, bundle, anchored);
    const header = { balancesRoot: String(bundle.header.balancesRoot).toLowerCase() };
    await checks.step("proof", () => {
      const root = rootFromStandardProof(leafHash, proof);
      if (!equalBytes(root, hexToBytes(header.balancesRoot, HASH_SIZE))) {
        fail(`the balance proof does not lead to the on-chain balances root: it leads to ${short(bytesToHex(root))}, the contract holds ${short(header.balancesRoot)}`);
      }
      return `OpenZeppelin Merkle proof (${hashes(proof.length)}, computed in this browser) leads to the on-chain root`;
    });
    await checks.step("contract", async () => {
      const args = [headerTuple(bundle.header), leaf.account, leaf.balance, proof.map(bytesToHex)];
      if (!(await contract.verifyBalance(args))) fail("the contract's verifyBalance view says false");
      return "the contract's verifyBalance view agrees";
    });
    await checks.step("arguments", () =>
      checkArguments(
        bundle,
        {
          ...headerFields(bundle.header),
          account: leaf.account,
          balance: String(leaf.balance),
          proof: JSON.stringify(proof.map(bytesToHex)),
        },
        TALLY_ANCHOR.verifyBalance.signature,
      ),
    );
  } catch (error) {
    if (!(error instanceof Stop)) throw error;
  }
  return report(checks);
}

/** @param {Checks} checks @returns {Report} */
function report(checks) {
  const failed = checks.list.find((check) => !check.ok) ?? null;
  return { ok: failed === null && checks.list.length > 0, checks: checks.list, failed };
}
