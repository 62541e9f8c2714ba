/**
 * Tally's JavaScript client: the canonical conversation of DESIGN.md §2, the EIP-712 consent and
 * receipt of §3, and the calls of §8. An ES module that runs unchanged in node (>= 20) and in a
 * browser extension page; its only dependency is ethers 6 (through ./ethers.mjs). Personal data
 * is found and redacted by ./personal-data.mjs, whose API this module re-exports: `contribute`
 * signs and submits the redacted canonical conversation.
 *
 * The Python package `ledger.conversation` is the reference: for every input, `contentHash` here
 * equals `content_hash` there, and an input the reference refuses is refused here with the same
 * `code` (tests/clients/test_js_client.py holds the two together). Four places where JavaScript
 * and Python differ by default are written out by hand, here or in the reference:
 *  - white space: Python's str.strip() and JS's trim() strip different sets of characters;
 *  - NFC: String.prototype.normalize uses the engine's (newer) Unicode data;
 *  - truthiness: Python treats [] and {} as false;
 *  - key order: an object lists array-index keys ("0", "17") first, in numeric order, whatever
 *    the JSON text said; the reference takes a ChatGPT mapping's keys in that order too.
 *
 * @module tally-client
 */

import { concat, getAddress, keccak256, Signature, sha256, TypedDataEncoder, verifyTypedData } from "./ethers.mjs";
import { redactConversation } from "./personal-data.mjs";
import { UNASSIGNED_RANGES, UNICODE_VERSION } from "./unicode-table.mjs";

export {
  PERSONAL_DATA_KINDS, PLACEHOLDERS, describeFindings, findPersonalData, findingsIn, publicFindings,
  redactConversation, redactText,
} from "./personal-data.mjs";

// The scorer (quality-v2, docs/scoring.md): the points and features of a conversation, as the
// ledger computes them at acceptance and every manifest leaf publishes them.
export { FEATURES_V2, SCORER_VERSION, factorsOf, featuresOf, pointsFromFeatures, rulesHash, score } from "./scoring.mjs";

export const CANONICAL_VERSION = 1;
/** The version of a conversation with at least one image (docs/formats.md §2, version 2). */
export const CANONICAL_VERSION_IMAGES = 2;
/** The walk from current_node to the root stops here: deeper mappings are corrupt or cyclic. */
export const MAX_CHATGPT_DEPTH = 100_000;
export const IMAGE_PLACEHOLDER = "[image]";
/** The `content_type` of a voice message's part that carries what was said, as `text`. */
export const AUDIO_TRANSCRIPTION = "audio_transcription";
/** The longest model name, in code points after normalisation: what the ledger's model column holds. */
export const MAX_MODEL_LENGTH = 200;
/** The Unicode version of the reference normaliser, whose NFC this client reproduces. */
export const REFERENCE_UNICODE_VERSION = UNICODE_VERSION;

/** @typedef {"user" | "assistant" | "system" | "tool"} Role */
/** @typedef {{role: Role, content: string, images?: string[]}} CanonicalMessage */
/** @typedef {{v: 1 | 2, model: string | null, messages: CanonicalMessage[]}} CanonicalConversation */
/**
 * A message as read from the input, before its text is normalised; `modelSlug` is ChatGPT's
 * `metadata.model_slug`, the model of a conversation that names none.
 * @typedef {{role: Role, text: string, modelSlug?: unknown, images?: string[]}} Turn
 */
/**
 * What a format's reader found. `modelFromTurns`: the model is the last assistant message's
 * `modelSlug` (a ChatGPT conversation whose default_model_slug is null or missing).
 * @typedef {{model: string | null, turns: Turn[], modelFromTurns: boolean}} Read
 */
/** @typedef {{name: string, type: string}} TypedField */
/** @typedef {Record<string, TypedField[]>} TypedTypes */
/**
 * What GET /v1/config answers (the fields this client uses).
 * @typedef {object} TallyConfig
 * @property {number} chainId
 * @property {string} contract
 * @property {string} operator        the address that signs receipts
 * @property {string} termsHash       0x-hex SHA-256 of GET /v1/terms
 * @property {{domain: Record<string, unknown>, types: TypedTypes, primaryType: string,
 *             receipt: {types: TypedTypes, primaryType: string},
 *             batch?: {types: TypedTypes, primaryType: string}}} eip712
 * @property {{maxBodyBytes: number, maxBatch: number, issuedAtWindow: number}} limits
 */
/**
 * The body of POST /v1/contributions.
 * @typedef {object} SubmissionBody
 * @property {string} contributor     checksummed address
 * @property {unknown} conversation   the conversation as given (any accepted format)
 * @property {string} nonce           uint256 as a decimal string
 * @property {number} issuedAt        Unix seconds
 * @property {string} termsHash
 * @property {string} signature       0x-hex, 65 bytes
 */
/**
 * The signed-batch body of POST /v1/contributions:batch: one EIP-712 ContributionBatch signature
 * over the root of the conversations' contentHashes (docs/formats.md, "Batch consent").
 * @typedef {object} SignedBatchBody
 * @property {string} contributor     checksummed address
 * @property {unknown[]} conversations canonical conversations, in the order of their leaves
 * @property {number} count           conversations.length, signed
 * @property {string} nonce           uint256 as a decimal string
 * @property {number} issuedAt        Unix seconds
 * @property {string} termsHash
 * @property {string} signature       0x-hex, 65 bytes
 */
/**
 * @typedef {object} ReceiptMessage
 * @property {string} contentHash
 * @property {string} contributor
 * @property {string} points          decimal string
 * @property {number} acceptedAt
 */
/**
 * The 201 answer of POST /v1/contributions.
 * @typedef {object} ContributionResult
 * @property {number} id
 * @property {string} contentHash
 * @property {string} cid
 * @property {string} points
 * @property {Record<string, unknown>} score
 * @property {string} status
 * @property {string} [contributor]
 * @property {ConsentView} [consent]
 * @property {{message: ReceiptMessage, signature: string}} receipt
 */
/**
 * A contribution's consent as the API answers it; `batch` when one ContributionBatch signature
 * covered it (the signature, nonce and issuedAt are then the batch's).
 * @typedef {object} ConsentView
 * @property {string} nonce
 * @property {number} issuedAt
 * @property {string} termsHash
 * @property {string} signature
 * @property {{primaryType?: string, contentsRoot: string, count: number, proof: string[]}} [batch]
 */
/**
 * Anything that signs EIP-712 typed data for an address: an ethers Wallet, or the JsonRpcSigner of
 * an injected wallet (`new BrowserProvider(window.ethereum).getSigner()`).
 * @typedef {object} TypedDataSigner
 * @property {() => Promise<string>} getAddress
 * @property {(domain: object, types: TypedTypes, value: object) => Promise<string>} signTypedData
 */

// ---------------------------------------------------------------------------------------------
// Errors: named classes with stable `code`s (the conversation ones are the Python slugs, which
// are also the API's problem types).

/** A conversation that cannot be normalised. */
export class ConversationError extends Error {
  name = "ConversationError";
  /** @type {string} */
  code = "invalid-conversation";
}

export class UnknownFormatError extends ConversationError {
  name = "UnknownFormatError";
  code = "unknown-format";
}

export class MalformedConversationError extends ConversationError {
  name = "MalformedConversationError";
  code = "malformed-conversation";
}

export class UnknownRoleError extends ConversationError {
  name = "UnknownRoleError";
  code = "unknown-role";

  /** @param {unknown} role */
  constructor(role) {
    super(`unknown message role ${describe(role)}; accepted: ${[...ROLE_ALIASES.keys()].sort().join(", ")}`);
    this.role = role;
  }
}

export class IncompleteConversationError extends ConversationError {
  name = "IncompleteConversationError";
  code = "incomplete-conversation";
}

/** The API answered with an error (a problem+json document) or could not be reached. */
export class ApiError extends Error {
  name = "ApiError";

  /**
   * @param {string} message
   * @param {{status: number, code: string, problem?: Record<string, any> | null}} details
   */
  constructor(message, { status, code, problem = null }) {
    super(message);
    /** HTTP status, 0 when the API could not be reached. */
    this.status = status;
    /** The problem type's slug (`signer-mismatch`, `duplicate-contribution`, ...). */
    this.code = code;
    /** The problem+json body, when there was one. */
    this.problem = problem;
    /** For a 409 duplicate: the id of the contribution already accepted. */
    this.existing = problem?.existing ?? null;
  }
}

/** The receipt is not the operator's signature over this contribution. */
export class ReceiptError extends Error {
  name = "ReceiptError";
  code = "invalid-receipt";
}

/**
 * A batch-consented contribution's ContributionBatch consent does not cover it: `code` is
 * `batch-proof-mismatch` (its contentHash and proof do not lead to contentsRoot) or
 * `batch-signer-mismatch` (the batch signature is not the contributor's).
 */
export class BatchConsentError extends ReceiptError {
  name = "BatchConsentError";

  /** @param {string} message @param {"batch-proof-mismatch" | "batch-signer-mismatch"} code */
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** More conversations than one signed batch may carry (config.limits.maxBatch), or none. */
export class BatchSizeError extends Error {
  name = "BatchSizeError";
  code = "batch-too-large";
}

/** What the API publishes does not hold together (terms hash, EIP-712 types). */
export class ConfigError extends Error {
  name = "ConfigError";
  /** @param {string} message @param {string} code */
  constructor(message, code = "invalid-config") {
    super(message);
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Text: exactly ledger.conversation.normalise_text.

/** @type {ReadonlyMap<string, Role>} a Map, so that "constructor" or "__proto__" is no role */
const ROLE_ALIASES = new Map([
  ["user", "user"], ["human", "user"],
  ["assistant", "assistant"], ["gpt", "assistant"], ["chatgpt", "assistant"], ["bard", "assistant"],
  ["bing", "assistant"], ["model", "assistant"],
  ["system", "system"], ["tool", "tool"],
]);

// Python's str.isspace() set (bidirectional class WS, B or S, or category Zs). JS's trim() differs:
// it keeps U+001C..U+001F and U+0085 and strips U+FEFF. All of these are in the BMP.
export const PYTHON_WHITESPACE = Object.freeze([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);
const WHITESPACE = new Set(PYTHON_WHITESPACE);

/** Python's `str.strip()` with no argument. @param {string} text */
export function pyStrip(text) {
  let start = 0;
  let end = text.length;
  while (start < end && WHITESPACE.has(text.charCodeAt(start))) start++;
  while (end > start && WHITESPACE.has(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** @param {string} text */
function isWellFormed(text) {
  // @ts-ignore: String.prototype.isWellFormed is ES2024 (node 20, Chrome 111)
  return typeof text.isWellFormed === "function" ? text.isWellFormed() : !LONE_SURROGATE.test(text);
}

// Unicode freezes the normalisation of every assigned character, so NFC can only differ between
// the reference's Unicode version and this engine's on code points the reference did not assign.
// To the reference those are inert starters (no decomposition, class 0, no composition), and a
// starter that composes with nothing splits NFC into independent pieces: normalise the text
// between them and keep them as they are.
const UNASSIGNED_CLASS = UNASSIGNED_RANGES.split(" ")
  .map((range) => range.split("-").map((hex) => `\\u{${hex}}`).join("-"))
  .join("");
const UNASSIGNED = new RegExp(`[${UNASSIGNED_CLASS}]`, "u");
const AROUND_UNASSIGNED = new RegExp(`([${UNASSIGNED_CLASS}])`, "u");

let unicodeChecked = false;

function checkEngineUnicode() {
  if (unicodeChecked) return;
  // U+0898 (Unicode 14.0, combining class 230) moves before U+0345 (class 240) only in an
  // engine that knows it; an older engine would normalise Unicode 14 text differently.
  if ("a\u0345\u0898".normalize("NFD") !== "a\u0898\u0345") {
    throw new Error(`this JavaScript engine's Unicode data is older than ${UNICODE_VERSION}`);
  }
  unicodeChecked = true;
}

/** NFC as the reference's Unicode version defines it. @param {string} text */
export function nfc(text) {
  checkEngineUnicode();
  if (!UNASSIGNED.test(text)) return text.normalize("NFC");
  return text
    .split(AROUND_UNASSIGNED)
    .map((piece, i) => (i % 2 === 1 ? piece : piece.normalize("NFC")))
    .join("");
}

/**
 * NFC, `\r\n` and `\r` to `\n`, outer white space stripped (DESIGN.md §2).
 * @param {string} text
 * @returns {string}
 */
export function normaliseText(text) {
  // A JSON \ud800 escape smuggles in half a surrogate pair, which has no UTF-8 (nor JCS) form.
  // The reference finds it after normalising, but nothing it does first can remove one.
  if (!isWellFormed(text)) throw new MalformedConversationError("text contains a lone UTF-16 surrogate");
  return pyStrip(nfc(text.replace(/\r\n?/g, "\n")));
}

// ---------------------------------------------------------------------------------------------
// Shapes: exactly ledger.conversation.normalise. The order of the checks matters because it
// decides which error a conversation with several faults gets: shape and role errors while
// reading the messages, then the model, then the text of each message in order.

/** A JSON object (Python's Mapping). @param {unknown} value @returns {value is Record<string, any>} */
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `dict.get(key)`: own properties only, so inherited names like "constructor" are absent. */
function own(/** @type {Record<string, any>} */ object, /** @type {string} */ key) {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Python's truth value of a JSON value. @param {unknown} value */
function pyTruthy(value) {
  if (value === null || value === undefined) return false;
  if (typeof value === "string" || Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return Boolean(value);
}

/** @param {unknown} value */
function describe(value) {
  return value === undefined ? "None" : JSON.stringify(value);
}

/** @param {unknown} role @returns {Role} */
export function canonicalRole(role) {
  if (typeof role === "string") {
    const mapped = ROLE_ALIASES.get(role.toLowerCase());
    if (mapped !== undefined) return mapped;
  }
  throw new UnknownRoleError(role);
}

/**
 * @param {unknown} obj
 * @returns {"chatgpt" | "sharegpt" | "plain"}
 */
export function detectFormat(obj) {
  if (!isObject(obj)) throw new UnknownFormatError("a conversation must be a JSON object");
  if (Object.hasOwn(obj, "mapping")) return "chatgpt";
  if (Object.hasOwn(obj, "conversations")) return "sharegpt";
  if (Object.hasOwn(obj, "messages")) return "plain";
  throw new UnknownFormatError(
    "not a known conversation format: expected a ChatGPT conversation (mapping, current_node), " +
      "a ShareGPT record (conversations) or {messages: [...]}",
  );
}

/**
 * The canonical conversation of any accepted input (or of a canonical one, unchanged).
 * `options.images` maps a ChatGPT image_asset_pointer (file-service://file-...) to the image's
 * bytes: each such part becomes the image's CID in its message's `images` (a DALL-E part's
 * metadata.dalle.prompt its text), a version-2 conversation; without its bytes a part stays `[image]`.
 * @param {unknown} obj a ChatGPT conversation, a ShareGPT record or {messages, model?}
 * @param {{images?: Record<string, Uint8Array>}} [options]
 * @returns {CanonicalConversation}
 * @throws {ConversationError}
 */
export function normalise(obj, options = {}) {
  // The order of the checks is the reference's: shapes and roles while reading, the model the
  // input names, the text of each message, the model from the messages' metadata, the roles.
  const format = detectFormat(obj);
  const record = /** @type {Record<string, any>} */ (obj);
  /** @type {Read} */
  const read =
    format === "chatgpt" ? chatgptMessages(record, options.images ?? {})
    : format === "sharegpt" ? { model: null, turns: sharegptMessages(record), modelFromTurns: false }
    : plainMessages(record);
  /** @type {CanonicalMessage[]} */
  const messages = [];
  /** @type {unknown} */
  let slug = null;
  for (const turn of read.turns) {
    const content = normaliseText(turn.text);
    const images = turn.images ?? [];
    if (!content && images.length === 0) continue;
    messages.push(images.length ? { role: turn.role, content, images } : { role: turn.role, content });
    if (turn.role === "assistant") slug = turn.modelSlug;
  }
  // The last assistant message of the canonical conversation: the one that answered last.
  const model = read.modelFromTurns ? modelOf(slug, "metadata.model_slug") : read.model;
  const roles = new Set(messages.map((m) => m.role));
  if (!roles.has("user") || !roles.has("assistant")) {
    throw new IncompleteConversationError(
      "a conversation needs at least one non-empty user message and one non-empty assistant message",
    );
  }
  const v = messages.some((m) => m.images) ? CANONICAL_VERSION_IMAGES : CANONICAL_VERSION;
  return { v, model, messages };
}

/**
 * The image CIDs of a canonical conversation, in order (message by message); [] for version 1.
 * @param {CanonicalConversation} canonical
 * @returns {string[]}
 */
export function imageCids(canonical) {
  return canonical.messages.flatMap((m) => m.images ?? []);
}

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
/** CIDv1, sha2-256, raw (bafkrei...) or dag-pb (bafybei...), in base32: what version 2 names. */
const IMAGE_CID = /^baf(?:krei|ybei)[a-z2-7]{51}[aeimquy4]$/;
/** Kubo's default chunk: a file of at most this many bytes is one raw block, its own CID. */
export const CHUNK_SIZE = 262144;
/** Kubo's links per node of the balanced layout (helpers.DefaultLinksPerBlock). */
export const MAX_LINKS = 174;

/** @param {number[]} out @param {number} value */
function pushVarint(out, value) {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** @param {Uint8Array} data @returns {number[]} the 32 bytes of its SHA-256 */
function sha256Bytes(data) {
  return (sha256(data).slice(2).match(/../g) ?? []).map((h) => parseInt(h, 16));
}

/**
 * One node of the file's DAG: a raw leaf or a dag-pb UnixFS File node over its children, as
 * ledger/content/unixfs.py builds them (docs/formats.md §2; dag-pb: links before Data, each link
 * Hash, an empty Name, Tsize; UnixFS: Type 2, filesize, one blocksizes entry per link).
 * @typedef {{cid: number[], filesize: number, tsize: number}} DagNode
 */

/** @param {DagNode[]} children @returns {DagNode} */
function parentNode(children) {
  /** @type {number[]} */
  const block = [];
  for (const child of children) {
    /** @type {number[]} */
    const link = [0x0a];
    pushVarint(link, child.cid.length);
    link.push(...child.cid, 0x12, 0x00, 0x18);
    pushVarint(link, child.tsize);
    block.push(0x12);
    pushVarint(block, link.length);
    block.push(...link);
  }
  const filesize = children.reduce((sum, c) => sum + c.filesize, 0);
  /** @type {number[]} */
  const unixfs = [0x08, 0x02, 0x18];
  pushVarint(unixfs, filesize);
  for (const child of children) {
    unixfs.push(0x20);
    pushVarint(unixfs, child.filesize);
  }
  block.push(0x0a);
  pushVarint(block, unixfs.length);
  block.push(...unixfs);
  return { cid: [0x01, 0x70, 0x12, 0x20, ...sha256Bytes(Uint8Array.from(block))], filesize,
    tsize: block.length + children.reduce((sum, c) => sum + c.tsize, 0) };
}

/** @param {number[]} binary @returns {string} multibase base32 ("b", lower case, no padding) */
function base32(binary) {
  let bits = 0;
  let value = 0;
  let out = "b";
  for (const byte of binary) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/**
 * The CID of an image's bytes as version 2 names it: the CIDv1 `ipfs add --cid-version=1
 * --raw-leaves` prints. Up to 256 KiB that is the raw block's (bafkrei...); above, the root of the
 * balanced UnixFS DAG of 256 KiB raw leaves, at most 174 links a node (bafybei...), exactly as
 * ledger.content.cid_of and Kubo build it.
 * @param {Uint8Array} data
 * @returns {string}
 */
export function imageCid(data) {
  /** @type {DagNode[]} */
  let level = [];
  for (let start = 0; start < Math.max(data.length, 1); start += CHUNK_SIZE) {
    const chunk = data.subarray(start, start + CHUNK_SIZE);
    level.push({ cid: [0x01, 0x55, 0x12, 0x20, ...sha256Bytes(chunk)], filesize: chunk.length, tsize: chunk.length });
  }
  while (level.length > 1) {
    const next = [];
    for (let start = 0; start < level.length; start += MAX_LINKS) next.push(parentNode(level.slice(start, start + MAX_LINKS)));
    level = next;
  }
  return base32(level[0].cid);
}

/**
 * The `attachments` of a submission: each image's bytes in base64 under its CID.
 * @param {Uint8Array[]} images
 * @returns {Record<string, string>}
 */
export function encodeAttachments(images) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const data of images) {
    let binary = "";
    for (const byte of data) binary += String.fromCharCode(byte);
    out[imageCid(data)] = btoa(binary);
  }
  return out;
}

/** @param {unknown} value @param {string} where @returns {string} */
function imageCidOf(value, where) {
  if (typeof value === "string" && IMAGE_CID.test(value)) return value;
  throw new MalformedConversationError(`${where} must be an image's CIDv1 in base32 (bafk... or bafy...)`);
}

/** @param {unknown} value @param {string} [field] @returns {string | null} */
function modelOf(value, field = "model") {
  if (value === null || value === undefined) return null;
  if (typeof value !== "string") throw new MalformedConversationError(`${field} must be a string or null`);
  const model = normaliseText(value);
  // Python's len() counts code points; a string's length here counts UTF-16 units.
  const length = [...model].length;
  if (length > MAX_MODEL_LENGTH) {
    throw new MalformedConversationError(`${field} is ${length} characters long; the limit is ${MAX_MODEL_LENGTH}`);
  }
  // The reference refuses it because no SQL text column can hold a NUL.
  if (model.includes("\u0000")) throw new MalformedConversationError(`${field} contains a NUL character`);
  return model || null;
}

/** @param {Record<string, any>} obj @returns {Read} */
function plainMessages(obj) {
  const messages = obj.messages;
  if (!Array.isArray(messages)) throw new MalformedConversationError("messages must be a list");
  /** @type {Turn[]} */
  const turns = [];
  messages.forEach((m, i) => {
    if (!isObject(m) || typeof own(m, "content") !== "string") {
      throw new MalformedConversationError(`messages[${i}] needs a role and a string content`);
    }
    const images = own(m, "images");
    if (images !== null && images !== undefined && !Array.isArray(images)) {
      throw new MalformedConversationError(`messages[${i}].images must be a list of CIDs`);
    }
    const cids = (images ?? []).map((/** @type {unknown} */ cid, /** @type {number} */ j) =>
      imageCidOf(cid, `messages[${i}].images[${j}]`));
    turns.push({ role: canonicalRole(own(m, "role")), text: m.content, images: cids });
  });
  return { model: modelOf(own(obj, "model")), turns, modelFromTurns: false };
}

/** @param {Record<string, any>} obj @returns {Turn[]} */
function sharegptMessages(obj) {
  const turns = obj.conversations;
  if (!Array.isArray(turns)) throw new MalformedConversationError("conversations must be a list");
  /** @type {Turn[]} */
  const out = [];
  turns.forEach((t, i) => {
    if (!isObject(t) || typeof own(t, "value") !== "string") {
      throw new MalformedConversationError(`conversations[${i}] needs a from and a string value`);
    }
    out.push({ role: canonicalRole(own(t, "from")), text: t.value });
  });
  return out;
}

/**
 * The active branch, read: from current_node (or, without one, the latest leaf) up the parent
 * links to the root, then reversed.
 * @param {Record<string, any>} obj
 * @param {Record<string, Uint8Array>} [images]
 * @returns {Read}
 */
function chatgptMessages(obj, images = {}) {
  const mapping = obj.mapping;
  if (!isObject(mapping)) throw new MalformedConversationError("mapping must be an object");
  let current = own(obj, "current_node");
  if (current === null || current === undefined) {
    // Missing (or null): some third-party tools write exports without it (§2).
    current = latestLeaf(mapping);
  } else if (typeof current !== "string" || !Object.hasOwn(mapping, current)) {
    throw new MalformedConversationError("current_node must name a node of mapping");
  }
  /** @type {Turn[]} */
  const turns = [];
  for (const node of branch(mapping, current).reverse()) {
    const message = own(node, "message");
    if (message === null || message === undefined) continue;
    if (!isObject(message)) throw new MalformedConversationError("a node's message must be an object or null");
    const rawMetadata = own(message, "metadata");
    const metadata = isObject(rawMetadata) ? rawMetadata : {};
    if (pyTruthy(own(metadata, "is_visually_hidden_from_conversation"))) continue;
    const { text, cids } = chatgptContent(own(message, "content"), images);
    const author = own(message, "author");
    const roleName = isObject(author) ? own(author, "role") : undefined;
    if (text === null || (roleName === "system" && !pyStrip(text) && cids.length === 0)) continue;
    turns.push({ role: canonicalRole(roleName), text, modelSlug: own(metadata, "model_slug"), images: cids });
  }
  const defaultModel = own(obj, "default_model_slug");
  if (defaultModel === null || defaultModel === undefined) return { model: null, turns, modelFromTurns: true };
  return { model: modelOf(defaultModel, "default_model_slug"), turns, modelFromTurns: false };
}

/**
 * The nodes from `leaf` up the parent links to the root.
 * @param {Record<string, any>} mapping
 * @param {string} leaf
 * @returns {Record<string, any>[]}
 */
function branch(mapping, leaf) {
  /** @type {Record<string, any>[]} */
  const nodes = [];
  const seen = new Set();
  /** @type {unknown} */
  let nodeId = leaf;
  while (nodeId !== null && nodeId !== undefined) {
    if (typeof nodeId !== "string" || !Object.hasOwn(mapping, nodeId)) {
      throw new MalformedConversationError(`parent ${describe(nodeId)} is not a node of mapping`);
    }
    if (seen.has(nodeId) || seen.size >= MAX_CHATGPT_DEPTH) {
      throw new MalformedConversationError("the parent links of mapping form a cycle");
    }
    seen.add(nodeId);
    const node = mapping[nodeId];
    if (!isObject(node)) throw new MalformedConversationError(`mapping[${describe(nodeId)}] must be an object`);
    nodes.push(node);
    nodeId = own(node, "parent");
  }
  return nodes;
}

/**
 * Where the active branch ends without current_node: the leaf (a node whose `children` is absent,
 * null or empty) whose message has the latest `create_time`. A leaf with a create_time (a JSON
 * number) is later than one without; among equals the last in mapping order wins. Mapping order
 * is Object.keys' order, which the reference reproduces.
 * @param {Record<string, any>} mapping
 * @returns {string}
 */
function latestLeaf(mapping) {
  /** @type {string | null} */
  let best = null;
  /** @type {number | null} */
  let bestTime = null;
  for (const nodeId of Object.keys(mapping)) {
    const node = mapping[nodeId];
    const children = isObject(node) ? own(node, "children") : undefined;
    const leaf = children === null || children === undefined || (Array.isArray(children) && children.length === 0);
    if (!leaf) continue;
    const time = createTime(node);
    // A leaf with a time is later than one without; equals go to the last in mapping order.
    const wins = time === null ? bestTime === null : bestTime === null || time >= bestTime;
    if (best === null || wins) {
      best = nodeId;
      bestTime = time;
    }
  }
  if (best === null) {
    throw new MalformedConversationError(
      "mapping has no leaf (a node without children) for the active branch to end at, and no current_node",
    );
  }
  return best;
}

/** The `create_time` of a node's message, or null when it is not a number. @param {unknown} node */
function createTime(node) {
  const message = isObject(node) ? own(node, "message") : undefined;
  const value = isObject(message) ? own(message, "create_time") : undefined;
  return typeof value === "number" && !Number.isNaN(value) ? value : null;
}

/**
 * The text of a ChatGPT message content (null when it has none) and its images' CIDs (§2).
 * @param {unknown} content
 * @param {Record<string, Uint8Array>} images
 * @returns {{text: string | null, cids: string[]}}
 */
function chatgptContent(content, images) {
  if (!isObject(content)) return { text: null, cids: [] };
  const parts = own(content, "parts");
  if (Array.isArray(parts)) {
    /** @type {string[]} */
    const texts = [];
    /** @type {string[]} */
    const cids = [];
    for (const part of parts) {
      const pointer = isObject(part) && own(part, "content_type") === "image_asset_pointer" ? own(part, "asset_pointer") : undefined;
      const data = typeof pointer === "string" && Object.hasOwn(images, pointer) ? images[pointer] : undefined;
      let text;
      if (data === undefined) {
        text = partText(part);
      } else {
        cids.push(imageCid(data));
        const metadata = own(/** @type {Record<string, any>} */ (part), "metadata");
        const dalle = isObject(metadata) ? own(metadata, "dalle") : undefined;
        const prompt = isObject(dalle) ? own(dalle, "prompt") : undefined;
        text = typeof prompt === "string" ? prompt : null;
      }
      if (text !== null) texts.push(text);
    }
    return { text: texts.join("\n"), cids };
  }
  const text = own(content, "text");
  return { text: typeof text === "string" ? text : null, cids: [] };
}

/**
 * A part's share of the text: itself, a voice message's transcription, or `[image]`.
 * @param {unknown} part
 * @returns {string | null}
 */
function partText(part) {
  if (typeof part === "string") return part;
  if (isObject(part) && own(part, "content_type") === AUDIO_TRANSCRIPTION) {
    const text = own(part, "text");
    return typeof text === "string" ? text : null; // nothing was transcribed: nothing to keep
  }
  return IMAGE_PLACEHOLDER;
}

// ---------------------------------------------------------------------------------------------
// Canonical bytes and hash.

/**
 * RFC 8785 (JCS) serialisation of a JSON value. ECMAScript's JSON.stringify is what JCS defines
 * strings and numbers by; what is left is sorting keys by UTF-16 code units (the default sort).
 * @param {unknown} value
 * @returns {string}
 */
export function canonicalize(value) {
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("JCS has no form for NaN or Infinity");
      return JSON.stringify(value);
    case "string":
      if (!isWellFormed(value)) throw new TypeError("JCS has no form for a lone UTF-16 surrogate");
      return JSON.stringify(value);
    case "object": {
      if (Array.isArray(value)) return `[${value.map((item) => canonicalize(item)).join(",")}]`;
      const object = /** @type {Record<string, unknown>} */ (value);
      const keys = Object.keys(object).sort();
      return `{${keys.map((k) => `${canonicalize(k)}:${canonicalize(object[k])}`).join(",")}}`;
    }
    default:
      throw new TypeError(`JCS has no form for a ${typeof value}`);
  }
}

const UTF8 = new TextEncoder();

/**
 * The canonical bytes of §2: JCS of the canonical conversation, UTF-8.
 * @param {unknown} obj any accepted input
 * @returns {Uint8Array}
 */
export function canonicalBytes(obj) {
  return UTF8.encode(canonicalize(normalise(obj)));
}

/**
 * What a client signs and submits for `obj`: its canonical form (§2) with every personal value
 * replaced by a typed placeholder ([email], [phone], [card], [iban], [ip], [secret]), and the
 * findings to show the contributor (kind and message index; never the values). The server runs
 * the same detector and refuses what still holds personal data; this form it accepts as it is,
 * and its contentHash is the one the server computes.
 * @param {unknown} obj any accepted input
 * @returns {{conversation: CanonicalConversation, findings: import("./personal-data.mjs").PersonalDataFinding[]}}
 * @throws {ConversationError}
 */
export function redactForSubmission(obj) {
  return redactConversation(normalise(obj));
}

/**
 * `contentHash` of §2: SHA-256 of the canonical bytes, 0x-hex.
 * @param {unknown} obj any accepted input
 * @returns {string}
 */
export function contentHash(obj) {
  return sha256(canonicalBytes(obj));
}

// ---------------------------------------------------------------------------------------------
// The API.

/** @param {string} api @param {string} path */
function endpoint(api, path) {
  return api.replace(/\/+$/, "") + path;
}

/**
 * @param {string} url
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
async function call(url, init) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(`cannot reach the Tally API at ${url}: ${/** @type {Error} */ (error).message}`,
      { status: 0, code: "unreachable" });
  }
  if (!response.ok) {
    const text = await response.text();
    /** @type {Record<string, any> | null} */
    let problem = null;
    try {
      problem = JSON.parse(text);
    } catch {
      // not problem+json: a proxy's error page, say
    }
    const type = typeof problem?.type === "string" ? problem.type : "";
    const code = type.startsWith("/problems/") ? type.slice("/problems/".length) : `http-${response.status}`;
    const summary = problem ? `${problem.title ?? code}: ${problem.detail ?? ""}` : text.slice(0, 200);
    throw new ApiError(`${response.status} ${summary}`, { status: response.status, code, problem });
  }
  return response;
}

/** @param {string} url @param {unknown} body */
function postJson(url, body) {
  return call(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

/**
 * GET /v1/config: everything needed to sign a contribution and to check its receipt.
 * @param {string} api base URL, e.g. http://127.0.0.1:8000
 * @returns {Promise<TallyConfig>}
 */
export async function fetchConfig(api) {
  return (await call(endpoint(api, "/v1/config"))).json();
}

/**
 * GET /v1/terms, checked against the termsHash the contributor is about to sign.
 * @param {string} api
 * @param {TallyConfig} config
 * @returns {Promise<string>} the terms text
 * @throws {ConfigError} code `terms-mismatch` when the served terms do not hash to config.termsHash
 */
export async function fetchTerms(api, config) {
  const bytes = new Uint8Array(await (await call(endpoint(api, "/v1/terms"))).arrayBuffer());
  const hash = sha256(bytes);
  if (hash !== config.termsHash.toLowerCase()) {
    throw new ConfigError(`the served terms hash to ${hash}, not to the termsHash ${config.termsHash}`,
      "terms-mismatch");
  }
  return new TextDecoder().decode(bytes);
}

/**
 * The domain and types to hand to ethers for one of the two typed messages of §3, as the API
 * publishes them. ethers derives the EIP712Domain type from the domain object itself; refuse a
 * config whose published EIP712Domain differs, since the signature would not be over it.
 * @param {TallyConfig} config
 * @param {"Contribution" | "ContributionBatch" | "Receipt" | "Publish" | "Engage" | "Enrol"} which
 * @param {Record<string, unknown>} message
 */
function typedData(config, which, message) {
  const spec = which === "Receipt" ? config.eip712.receipt
    : which === "ContributionBatch" ? config.eip712.batch
      : which in STATEMENTS
        ? /** @type {any} */ (config.eip712)[STATEMENTS[/** @type {keyof typeof STATEMENTS} */ (which)]]
        : config.eip712;
  if (!spec) throw new ConfigError(`the config publishes no ${which} type`);
  const { EIP712Domain: domainType, ...types } = spec.types;
  const domain = config.eip712.domain;
  const payload = TypedDataEncoder.getPayload(domain, types, message);
  if (payload.primaryType !== spec.primaryType || spec.primaryType !== which) {
    throw new ConfigError(`the config's ${which} types have primary type ${payload.primaryType}`);
  }
  if (domainType !== undefined && canonicalize(domainType) !== canonicalize(payload.types.EIP712Domain)) {
    throw new ConfigError("the config's EIP712Domain type does not match its domain");
  }
  return { domain, types };
}

/** The signed statements besides consent, by primary type: where /v1/config publishes each. */
const STATEMENTS = Object.freeze({ Publish: "publish", Engage: "engage", Enrol: "enrol" });

/** Engage kinds (docs/formats.md §11). */
export const ENGAGE_LIKE = 1;
export const ENGAGE_REMIX = 2;

/**
 * Sign one statement of `primaryType` whose signer field is `signerField`, with `fields` and a
 * nonce and issuedAt. The signature goes through ethers' Signature, so v is 27/28 whatever the
 * wallet returned (some answer 0/1), and is checked to recover to the signer before it is
 * returned: a wallet may sign with another account than it reported, or over other data, and
 * this names it here rather than as the server's signer-mismatch.
 * @param {TallyConfig} config
 * @param {"Contribution" | "ContributionBatch" | "Publish" | "Engage" | "Enrol"} primaryType
 * @param {string} signerField
 * @param {Record<string, unknown>} fields
 * @param {TypedDataSigner} signer
 * @param {{nonce?: bigint | number | string, issuedAt?: number}} options
 */
async function signStatement(config, primaryType, signerField, fields, signer, options) {
  const address = getAddress(await signer.getAddress());
  /** @type {Record<string, any>} */
  const message = { [signerField]: address, ...fields, nonce: String(options.nonce ?? randomNonce()),
    issuedAt: options.issuedAt ?? Math.floor(Date.now() / 1000) };
  const { domain, types } = typedData(config, primaryType, message);
  const signature = Signature.from(await signer.signTypedData(domain, types, message)).serialized;
  const recovered = verifyTypedData(domain, types, message, signature);
  if (recovered !== address) {
    throw new Error(`the wallet signed the ${primaryType} as ${recovered}, not as ${address}`);
  }
  return { address, message, signature };
}

/**
 * The body of POST /v1/contributions/{id or contentHash}:publish: the contributor shows
 * (`visible`) or withdraws their contribution in the public feed (EIP-712 `Publish`, §11).
 * @param {TallyConfig} config
 * @param {{contentHash: string, visible: boolean}} what
 * @param {TypedDataSigner} signer the contributor
 * @param {{nonce?: bigint | number | string, issuedAt?: number}} [options]
 */
export async function signPublish(config, { contentHash: hash, visible }, signer, options = {}) {
  const { message, signature } = await signStatement(config, "Publish", "contributor",
    { contentHash: hash, visible: Boolean(visible) }, signer, options);
  return { visible: message.visible, nonce: message.nonce, issuedAt: message.issuedAt, signature };
}

/**
 * The body of POST /v1/contributions/{id or contentHash}:engage: a like (ENGAGE_LIKE) or a remix
 * (ENGAGE_REMIX, naming the actor's own new contribution as `remix`) of a published
 * contribution (EIP-712 `Engage`, §11).
 * @param {TallyConfig} config
 * @param {{contentHash: string, kind: number, remix?: string}} what
 * @param {TypedDataSigner} signer the actor
 * @param {{nonce?: bigint | number | string, issuedAt?: number}} [options]
 */
export async function signEngage(config, { contentHash: hash, kind, remix }, signer, options = {}) {
  const { address, message, signature } = await signStatement(config, "Engage", "actor",
    { contentHash: hash, kind }, signer, options);
  return { actor: address, kind, nonce: message.nonce, issuedAt: message.issuedAt, signature,
    ...(remix === undefined ? {} : { remix }) };
}

/**
 * The body of POST /v1/programs/{id}/members without an admin key: the account's own consent
 * to join `program` (EIP-712 `Enrol`, §3, docs/rewards.md).
 * @param {TallyConfig} config
 * @param {string} program
 * @param {TypedDataSigner} signer the account
 * @param {{nonce?: bigint | number | string, issuedAt?: number}} [options]
 */
export async function signEnrol(config, program, signer, options = {}) {
  const { address, message, signature } = await signStatement(config, "Enrol", "account", { program }, signer,
    options);
  return { account: address, nonce: message.nonce, issuedAt: message.issuedAt, signature };
}

/** A random uint256 nonce as a decimal string. */
export function randomNonce() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return BigInt(`0x${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`).toString();
}

/**
 * The signed body of POST /v1/contributions: the contributor's EIP-712 consent (§3) to share
 * exactly this conversation (its contentHash) under exactly these terms (termsHash).
 * @param {TallyConfig} config from fetchConfig
 * @param {unknown} conversation any accepted input; sent as given, the server normalises it again
 * @param {TypedDataSigner} signer
 * @param {{nonce?: bigint | number | string, issuedAt?: number, images?: Uint8Array[]}} [options] defaults: a random
 *   256-bit nonce, now
 * @returns {Promise<SubmissionBody>}
 */
export async function signContribution(config, conversation, signer, options = {}) {
  const { address: contributor, message, signature } = await signStatement(config, "Contribution", "contributor",
    { contentHash: contentHash(conversation), termsHash: config.termsHash }, signer, options);
  return {
    contributor,
    conversation,
    nonce: message.nonce,
    issuedAt: message.issuedAt,
    termsHash: config.termsHash,
    signature,
    ...(options.images?.length ? { attachments: encodeAttachments(options.images) } : {}),
  };
}

/**
 * POST /v1/contributions.
 * @param {string} api
 * @param {SubmissionBody} body from signContribution
 * @returns {Promise<ContributionResult>} the 201 answer
 * @throws {ApiError} with the problem's `code`; a duplicate is status 409 with `existing`
 */
export async function submit(api, body) {
  return (await postJson(endpoint(api, "/v1/contributions"), body)).json();
}

/**
 * POST /v1/contributions:batch: one result per item, in order. An array of bodies from
 * signContribution (each signed on its own) is sent as `{items}`; one body from signBatch (one
 * ContributionBatch signature over them all) as it is. Either way up to config.limits.maxBatch.
 * @param {string} api
 * @param {SubmissionBody[] | SignedBatchBody} bodyOrBodies
 * @returns {Promise<{accepted: number, refused: number,
 *   results: Array<{status: number, contribution?: ContributionResult, problem?: Record<string, any>}>}>}
 * @throws {ApiError} when the whole request is refused (a signed batch's count, signature or nonce)
 */
export async function submitBatch(api, bodyOrBodies) {
  const body = Array.isArray(bodyOrBodies) ? { items: bodyOrBodies } : bodyOrBodies;
  return (await postJson(endpoint(api, "/v1/contributions:batch"), body)).json();
}

/**
 * POST /v1/contributions/{id or contentHash}:publish with a body from signPublish.
 * @param {string} api @param {number | string} key @param {Record<string, unknown>} body
 * @returns {Promise<{id: number, visible: boolean, publishedAt: number | null}>}
 */
export async function publish(api, key, body) {
  return (await postJson(endpoint(api, `/v1/contributions/${encodeURIComponent(String(key))}:publish`), body)).json();
}

/**
 * POST /v1/contributions/{id or contentHash}:engage with a body from signEngage.
 * @param {string} api @param {number | string} key @param {Record<string, unknown>} body
 * @returns {Promise<Record<string, any>>} the 201 answer
 */
export async function engage(api, key, body) {
  return (await postJson(endpoint(api, `/v1/contributions/${encodeURIComponent(String(key))}:engage`), body)).json();
}

/**
 * POST /v1/programs/{id}/members with a body from signEnrol.
 * @param {string} api @param {string} program @param {Record<string, unknown>} body
 * @returns {Promise<Record<string, any>>}
 */
export async function enrol(api, program, body) {
  return (await postJson(endpoint(api, `/v1/programs/${encodeURIComponent(program)}/members`), body)).json();
}

/**
 * GET /v1/contributions/{id or contentHash}.
 * @param {string} api
 * @param {number | string} key
 * @returns {Promise<Record<string, any>>}
 */
export async function getContribution(api, key) {
  return (await call(endpoint(api, `/v1/contributions/${encodeURIComponent(String(key))}`))).json();
}

/** Where the inclusion proof of a contribution is served. @param {string} api @param {number | string} id */
export function proofUrl(api, id) {
  return endpoint(api, `/v1/contributions/${encodeURIComponent(String(id))}/proof`);
}

/**
 * Check the receipt of an accepted contribution, offline: it must be the operator's EIP-712
 * signature (§3) over this contribution. The operator address is the one config publishes. A
 * contribution consented in a ContributionBatch (`consent.batch`) has its consent checked too
 * (checkBatchConsent).
 * @param {TallyConfig} config
 * @param {ContributionResult} result the 201 answer (or GET /v1/contributions/{id})
 * @param {{contentHash?: string, contributor?: string}} [expected] what this client signed
 * @returns {{operator: string, message: ReceiptMessage}}
 * @throws {ReceiptError} (a BatchConsentError for the batch consent)
 */
export function checkReceipt(config, result, expected = {}) {
  if (isObject(result?.consent) && isObject(result.consent.batch)) checkBatchConsent(config, result);
  const receipt = result?.receipt;
  if (!isObject(receipt) || !isObject(receipt.message) || typeof receipt.signature !== "string") {
    throw new ReceiptError("the answer carries no receipt");
  }
  const message = receipt.message;
  const same = (/** @type {unknown} */ a, /** @type {unknown} */ b) => String(a).toLowerCase() === String(b).toLowerCase();
  if (!same(message.contentHash, result.contentHash)) {
    throw new ReceiptError(`the receipt names contentHash ${message.contentHash}, the answer ${result.contentHash}`);
  }
  if (expected.contentHash !== undefined && !same(message.contentHash, expected.contentHash)) {
    throw new ReceiptError(`the receipt names contentHash ${message.contentHash}, not ${expected.contentHash}`);
  }
  if (expected.contributor !== undefined && !same(message.contributor, expected.contributor)) {
    throw new ReceiptError(`the receipt names contributor ${message.contributor}, not ${expected.contributor}`);
  }
  if (String(message.points) !== String(result.points)) {
    throw new ReceiptError(`the receipt promises ${message.points} points, the answer ${result.points}`);
  }
  let signer;
  try {
    const { domain, types } = typedData(config, "Receipt", message);
    signer = verifyTypedData(domain, types, message, receipt.signature);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new ReceiptError(`the receipt's signature cannot be checked: ${/** @type {Error} */ (error).message}`);
  }
  const operator = getAddress(config.operator);
  if (signer !== operator) {
    throw new ReceiptError(`the receipt is signed by ${signer}, not by the operator ${operator}`);
  }
  return { operator, message };
}

// ---------------------------------------------------------------------------------------------
// One signature for a selection: ContributionBatch (docs/formats.md, "Batch consent").
// contentsRoot is the root of @openzeppelin/merkle-tree's StandardMerkleTree.of(
// [[contentHash] for each conversation], ["bytes32"]), written out here so that the extension
// needs no bundler; tests/clients/test_batch_js.py holds it equal to the library (v1.0.8) and to
// ledger.batch_consent:
//  - leaf = keccak256(keccak256(abi.encode(bytes32))), and abi.encode of one bytes32 is itself;
//  - the leaves are sorted by hash, ascending (a stable sort: equal hashes keep their order);
//  - the tree is one array of 2n - 1 nodes: sorted leaf j is node 2n - 2 - j, node i has children
//    2i + 1 and 2i + 2, and a node is keccak256 of its children in ascending order;
//  - a proof is the siblings from the leaf up to the root.

const HASH32 = /^0x[0-9a-fA-F]{64}$/;

/** @param {string} contentHash */
function contentsLeaf(contentHash) {
  if (typeof contentHash !== "string" || !HASH32.test(contentHash)) {
    throw new TypeError(`a contentHash is 0x and 64 hex digits, not ${describe(contentHash)}`);
  }
  return keccak256(keccak256(contentHash.toLowerCase()));
}

/** @param {string} a @param {string} b */
function nodeHash(a, b) {
  return a <= b ? keccak256(concat([a, b])) : keccak256(concat([b, a]));
}

/**
 * The tree's nodes and the node of each value, as @openzeppelin/merkle-tree builds them.
 * @param {string[]} contentHashes in submission order
 * @returns {{tree: string[], treeIndex: number[]}}
 */
function contentsTree(contentHashes) {
  if (!Array.isArray(contentHashes) || contentHashes.length === 0) {
    throw new BatchSizeError("a batch holds at least one contentHash");
  }
  const leaves = contentHashes.map((hash, valueIndex) => ({ hash: contentsLeaf(hash), valueIndex }));
  leaves.sort((x, y) => (x.hash < y.hash ? -1 : x.hash > y.hash ? 1 : 0));
  const size = 2 * leaves.length - 1;
  const tree = new Array(size);
  const treeIndex = new Array(leaves.length);
  leaves.forEach(({ hash, valueIndex }, j) => {
    tree[size - 1 - j] = hash;
    treeIndex[valueIndex] = size - 1 - j;
  });
  for (let i = size - 1 - leaves.length; i >= 0; i--) tree[i] = nodeHash(tree[2 * i + 1], tree[2 * i + 2]);
  return { tree, treeIndex };
}

/**
 * `contentsRoot` of a batch: the root of the OpenZeppelin tree of these contentHashes.
 * @param {string[]} contentHashes 0x-hex, in submission order
 * @returns {string} 0x-hex, lower case
 */
export function contentsRoot(contentHashes) {
  return contentsTree(contentHashes).tree[0];
}

/**
 * The proof of item `index`: the siblings from its leaf to contentsRoot (what
 * `tree.getProof(index)` of @openzeppelin/merkle-tree answers).
 * @param {string[]} contentHashes 0x-hex, in submission order
 * @param {number} index
 * @returns {string[]}
 */
export function batchItemProof(contentHashes, index) {
  const { tree, treeIndex } = contentsTree(contentHashes);
  if (!Number.isInteger(index) || index < 0 || index >= contentHashes.length) {
    throw new RangeError(`item ${index} is not in a batch of ${contentHashes.length}`);
  }
  const proof = [];
  for (let i = treeIndex[index]; i > 0; i = (i - 1) >> 1) proof.push(tree[i % 2 === 1 ? i + 1 : i - 1]);
  return proof;
}

/**
 * The root an item's proof leads to (OpenZeppelin's MerkleProof.processProof over its leaf).
 * @param {string} contentHash
 * @param {string[]} proof
 */
function rootFromProof(contentHash, proof) {
  return proof.reduce((node, sibling) => {
    if (typeof sibling !== "string" || !HASH32.test(sibling)) {
      throw new BatchConsentError(`a proof element is not 32 bytes of 0x-hex: ${describe(sibling)}`,
        "batch-proof-mismatch");
    }
    return nodeHash(node, sibling.toLowerCase());
  }, contentsLeaf(contentHash));
}

/**
 * The signed-batch body of POST /v1/contributions:batch: the contributor's one EIP-712
 * ContributionBatch consent (§3) to share exactly these conversations under these terms.
 * @param {TallyConfig} config from fetchConfig (its eip712.batch types)
 * @param {unknown[]} conversations canonical conversations (redactForSubmission's), sent as given
 * @param {TypedDataSigner} signer
 * @param {{nonce?: bigint | number | string, issuedAt?: number, images?: Uint8Array[]}} [options] defaults: a random
 *   256-bit nonce, now
 * @returns {Promise<SignedBatchBody>}
 * @throws {BatchSizeError} for no conversation or more than config.limits.maxBatch
 * @throws {ConversationError} for a conversation that cannot be normalised
 */
export async function signBatch(config, conversations, signer, options = {}) {
  const most = config.limits?.maxBatch;
  if (!Array.isArray(conversations) || conversations.length === 0
      || (typeof most === "number" && conversations.length > most)) {
    throw new BatchSizeError(`a signed batch carries 1 to ${most ?? "limits.maxBatch"} conversations, `
      + `not ${Array.isArray(conversations) ? conversations.length : describe(conversations)}`);
  }
  const { address: contributor, message, signature } = await signStatement(config, "ContributionBatch",
    "contributor", { contentsRoot: contentsRoot(conversations.map((conversation) => contentHash(conversation))),
      count: conversations.length, termsHash: config.termsHash }, signer, options);
  return {
    contributor,
    conversations,
    count: message.count,
    nonce: message.nonce,
    issuedAt: message.issuedAt,
    termsHash: config.termsHash,
    signature,
    ...(options.images?.length ? { attachments: encodeAttachments(options.images) } : {}),
  };
}

/**
 * Check that a batch-consented contribution (its `consent.batch`) is covered by its
 * ContributionBatch consent, offline: its contentHash and proof lead to contentsRoot, and the
 * batch signature recovers to its contributor.
 * @param {TallyConfig} config
 * @param {ContributionResult} result the 201 answer (or GET /v1/contributions/{id})
 * @returns {{contentsRoot: string, count: number}}
 * @throws {BatchConsentError}
 */
export function checkBatchConsent(config, result) {
  const consent = result.consent;
  const batch = consent?.batch;
  if (!consent || !batch || typeof result.contributor !== "string") {
    throw new BatchConsentError("the answer carries no batch consent", "batch-proof-mismatch");
  }
  if (!Array.isArray(batch.proof) || !Number.isInteger(batch.count) || batch.count < 1) {
    throw new BatchConsentError("the batch consent has no proof or count", "batch-proof-mismatch");
  }
  const longest = batch.count > 1 ? (batch.count - 1).toString(2).length : 0;
  if (batch.proof.length > longest) {
    throw new BatchConsentError(`the proof has ${batch.proof.length} hashes; a batch of ${batch.count} needs at most `
      + `${longest}`, "batch-proof-mismatch");
  }
  const reached = rootFromProof(result.contentHash, batch.proof);
  if (reached !== String(batch.contentsRoot).toLowerCase()) {
    throw new BatchConsentError(`contentHash ${result.contentHash} and its proof lead to ${reached}, not to `
      + `contentsRoot ${batch.contentsRoot}`, "batch-proof-mismatch");
  }
  const message = {
    contributor: result.contributor, contentsRoot: batch.contentsRoot, count: batch.count,
    termsHash: consent.termsHash, nonce: String(consent.nonce), issuedAt: consent.issuedAt,
  };
  let signer;
  try {
    const { domain, types } = typedData(config, "ContributionBatch", message);
    signer = verifyTypedData(domain, types, message, consent.signature);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw new BatchConsentError(`the batch signature cannot be checked: ${/** @type {Error} */ (error).message}`,
      "batch-signer-mismatch");
  }
  if (signer !== getAddress(result.contributor)) {
    throw new BatchConsentError(`the ContributionBatch signature recovers to ${signer}, not to the contributor `
      + `${result.contributor}`, "batch-signer-mismatch");
  }
  return { contentsRoot: reached, count: batch.count };
}

/**
 * The whole flow, as the extension runs it: config, terms, redaction, consent, submission,
 * receipt. What is signed and submitted is the redacted canonical conversation
 * (`redactForSubmission`); `findings` says what was replaced.
 * @param {string} api
 * @param {unknown} conversation any accepted input
 * @param {TypedDataSigner} signer
 * @param {{nonce?: bigint | number | string, issuedAt?: number}} [options]
 * @returns {Promise<{config: TallyConfig, body: SubmissionBody, result: ContributionResult,
 *   findings: import("./personal-data.mjs").PersonalDataFinding[]}>}
 * @throws {ConversationError | ApiError | ReceiptError | ConfigError}
 */
export async function contribute(api, conversation, signer, options = {}) {
  const config = await fetchConfig(api);
  await fetchTerms(api, config);
  const { conversation: redacted, findings } = redactForSubmission(conversation);
  const body = await signContribution(config, redacted, signer, options);
  const result = await submit(api, body);
  checkReceipt(config, result, { contentHash: contentHash(redacted), contributor: body.contributor });
  return { config, body, result, findings };
}
