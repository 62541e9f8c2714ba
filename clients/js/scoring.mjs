/**
 * The quality-v2 scorer in JavaScript: the same features and points as the Python reference
 * (ledger/scoring/v2.py) for every conversation, read from the same rules (scoring-rules.mjs,
 * generated from ledger/scoring/quality-v2.json) and named by the same rulesHash. The rules are
 * written out in docs/scoring.md; tests/scoring/test_js_scoring.py holds the two scorers together
 * on ShareGPT and on every farming case of the tests.
 *
 * What keeps the two identical:
 *  - characters: which code point is a letter, a digit, white space, and its lower case, come from
 *    the rules' tables, never from the engine's Unicode data (nor Python's);
 *  - counts are of code points, not UTF-16 units;
 *  - points are BigInt arithmetic, every division of non-negative operands (so truncation is the
 *    floor Python takes).
 *
 * @module scoring
 */

import { sha256 } from "./ethers.mjs";
import { RULES_V2 } from "./scoring-rules.mjs";
import { canonicalize, imageCids, normalise } from "./tally-client.mjs";

export const SCORER_VERSION = "quality-v2";
/** The scorer of conversations with images (canonical version 2): ledger/scoring/v3.py. */
export const IMAGE_SCORER_VERSION = "quality-v3";
/** The `images` constants of ledger/scoring/quality-v3.json (held to the file by the tests). */
export const RULES_V3_IMAGES = Object.freeze({ perImage: 20, maxImages: 8, perPrompt: 30, maxPrompts: 8 });

/** The features, in the order they are published. */
export const FEATURES_V2 = Object.freeze(["userNew", "assistantNew", "tokens", "repeated", "novel", "novelTypes",
  "novelSquares", "bigramCollisions", "tokenChars", "otherChars"]);
export const FEATURES_V3 = Object.freeze([...FEATURES_V2, "images", "imagePrompts"]);
export const FEATURES_V1 = Object.freeze(["exchanges", "distinctUserWords", "distinctAssistantWords", "messages",
  "uniqueMessages"]);

/** The rules of quality-v1: its points from its features (its features need Python's \w). */
const RULES_V1 = Object.freeze({ pointsPerExchange: 10n, maxCountedExchanges: 20n, userWordsPerPoint: 10n,
  assistantWordsPerPoint: 40n, maxUserSubstance: 150n, maxAssistantSubstance: 150n, cap: 400n });

/** @type {string | undefined} */
let rulesHashV2;

/**
 * `0x` + SHA-256 of the rules' JCS form, as every manifest names them (scorer.rulesHash) and
 * GET /v1/config publishes them (scorer.rulesHash). Computed on first use: tally-client.mjs,
 * whose canonicalize it needs, re-exports this module.
 * @returns {string}
 */
export function rulesHash() {
  rulesHashV2 ??= sha256(new TextEncoder().encode(canonicalize(RULES_V2)));
  return rulesHashV2;
}

// ---------------------------------------------------------------------------------------------
// Tokens (docs/scoring.md, "Tokens").

/** @param {number} cp */
const escape = (cp) => `\\u{${cp.toString(16)}}`;

/** A regular-expression class body of [first, last] ranges. @param {number[][]} ranges */
const classOf = (ranges) => ranges.map(([a, b]) => (a === b ? escape(a) : `${escape(a)}-${escape(b)}`)).join("");

const chars = RULES_V2.characters;
const WORD = classOf(chars.word);
const SINGLE = classOf(chars.single);
const TOKEN = new RegExp(`[${SINGLE}]|[${WORD}]+`, "gu");
const WORD_CHAR = new RegExp(`[${WORD}${SINGLE}]`, "gu");
const SPACE_CHAR = new RegExp(`[${classOf(chars.space)}]`, "gu");
const HAS_SPACE = new RegExp(`[${classOf(chars.space)}]`, "u");
const DIGITS = new RegExp(`[${classOf(chars.digit)}]+`, "gu");
const STRETCHED = new RegExp(`([${WORD}${SINGLE}])\\1\\1+`, "gu");

/** @type {Map<number, number>} */
const LOWER = new Map();
/** @type {number[][]} */
const mapped = [];
for (const [first, last, delta, step] of chars.lowercase) {
  for (let cp = first; cp <= last; cp += step) {
    LOWER.set(cp, cp + delta);
    mapped.push([cp, cp]);
  }
}
const UPPER = new RegExp(`[${classOf(mapped)}]`, "gu");

/** @param {string} text */
const countOf = (text, /** @type {RegExp} */ pattern) => {
  let n = 0;
  pattern.lastIndex = 0;
  while (pattern.exec(text) !== null) n += 1;
  return n;
};

/** @param {string} text */
function codePoints(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

/**
 * One message's tokens, in order, whether each is joined to the one before it (across punctuation
 * without white space: `self.x`, `don't`), and its characters by kind.
 * @param {string} text
 * @returns {{tokens: string[], joined: boolean[], tokenChars: number, otherChars: number}}
 */
export function tokenize(text) {
  const tokenChars = countOf(text, WORD_CHAR);
  const spaceChars = countOf(text, SPACE_CHAR);
  // Lower case, then digits, then stretched letters, as in Python (ledger/scoring/text.py).
  const lowered = text.replace(UPPER, (ch) => String.fromCodePoint(/** @type {number} */ (LOWER.get(ch.codePointAt(0) ?? 0))));
  const folded = lowered.replace(DIGITS, "0").replace(STRETCHED, "$1$1");
  const tokens = [];
  const joined = [];
  let end = 0;
  for (const match of folded.matchAll(TOKEN)) {
    const start = match.index ?? 0;
    joined.push(tokens.length > 0 && start > end && !HAS_SPACE.test(folded.slice(end, start)));
    tokens.push(match[0]);
    end = start + match[0].length;
  }
  return { tokens, joined, tokenChars, otherChars: codePoints(text) - tokenChars - spaceChars };
}

// ---------------------------------------------------------------------------------------------
// Features and points (docs/scoring.md, "Features" and "Points").

const SEP = "\u0000"; // never in a token: the tokens of a shingle joined

/**
 * The quality-v2 features of a conversation (any accepted input, or a canonical conversation).
 * @param {unknown} obj
 * @returns {Record<string, number>}
 */
export function featuresOf(obj) {
  const conversation = normalise(obj);
  const noveltySize = RULES_V2.shingles.novelty;
  const repetitionSize = RULES_V2.shingles.repetition;
  const free = RULES_V2.freeTokens;
  const seen = new Set();
  /** @type {Record<string, Set<string>>} */
  const seenByRole = { user: new Set(), assistant: new Set() };
  /** @type {Map<string, number>} */
  const typeCounts = new Map();
  /** @type {Map<string, number>} */
  const bigramCounts = new Map();
  /** @type {Record<string, number>} */
  const newTokens = { user: 0, assistant: 0 };
  let tokens = 0;
  let repeated = 0;
  let tokenChars = 0;
  let otherChars = 0;
  for (const message of conversation.messages) {
    const role = message.role;
    if (role !== "user" && role !== "assistant") continue;
    const text = tokenize(message.content);
    tokenChars += text.tokenChars;
    otherChars += text.otherChars;
    const words = text.tokens;
    const count = words.length;
    tokens += count;
    const own = seenByRole[role];
    let novelHere = 0;
    for (let i = 0; i < count; i += 1) {
      const long = words.slice(i, i + repetitionSize).join(SEP);
      if (own.has(long)) repeated += 1;
      else own.add(long);
      const short = words.slice(i, i + noveltySize).join(SEP);
      if (seen.has(short)) continue;
      seen.add(short);
      novelHere += 1;
      const word = words[i];
      typeCounts.set(word, (typeCounts.get(word) ?? 0) + 1);
      if (i + 1 < count && !text.joined[i + 1]) {
        const pair = word + SEP + words[i + 1];
        bigramCounts.set(pair, (bigramCounts.get(pair) ?? 0) + 1);
      }
    }
    newTokens[role] += Math.max(0, novelHere - free[role]);
  }
  let novel = 0;
  let novelSquares = 0;
  for (const n of typeCounts.values()) {
    novel += n;
    novelSquares += n * n;
  }
  let bigramCollisions = 0;
  for (const n of bigramCounts.values()) bigramCollisions += (n * (n - 1)) / 2;
  return { userNew: newTokens.user, assistantNew: newTokens.assistant, tokens, repeated, novel,
    novelTypes: typeCounts.size, novelSquares, bigramCollisions, tokenChars, otherChars };
}

/** The integer square root, rounded down. @param {bigint} n */
export function isqrt(n) {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

const PER_MILLE = 1000n;

/** 1000 numerator / denominator, held to 0..1000. @param {bigint} numerator @param {bigint} denominator */
function share(numerator, denominator) {
  if (numerator <= 0n) return 0n;
  if (numerator >= denominator) return PER_MILLE;
  return (PER_MILLE * numerator) / denominator;
}

/** @param {bigint} value @param {number} full @param {number} zero */
const falling = (value, full, zero) => share(BigInt(zero) - value, BigInt(zero - full));
/** @param {bigint} value @param {number} zero @param {number} full */
const rising = (value, zero, full) => share(value - BigInt(zero), BigInt(full - zero));

/**
 * The length points and each per-mille factor of quality-v2, as numbers.
 * @param {Record<string, number>} f
 * @returns {{length: number, vocabulary: number, order: number, repetition: number, symbols: number}}
 */
export function factorsOf(f) {
  const g = Object.fromEntries(FEATURES_V2.map((name) => [name, BigInt(f[name])]));
  const { weights, length: lengthRules, vocabulary: vocabularyRules, order: orderRules } = RULES_V2;
  const substance = BigInt(weights.user) * g.userNew + BigInt(weights.assistant) * g.assistantNew;
  const offset = BigInt(lengthRules.offset);
  let length = isqrt(BigInt(lengthRules.scale) * substance + offset * offset) - offset;
  if (length > BigInt(lengthRules.cap)) length = BigInt(lengthRules.cap);
  let vocabulary = 0n;
  let order = 0n;
  if (g.novel > 0n) {
    const spread = (PER_MILLE * g.novelTypes ** 4n) / g.novel ** 3n;
    vocabulary = falling(spread, vocabularyRules.full, vocabularyRules.zero);
    const weight = BigInt(orderRules.priorWeight);
    const ratio = ((PER_MILLE * g.bigramCollisions + BigInt(orderRules.priorRatio) * weight) * 2n * g.novel * g.novel)
      / (g.novelSquares * g.novelSquares + 2n * weight * g.novel * g.novel);
    order = rising(ratio, orderRules.zero, orderRules.full);
  }
  const repeats = g.tokens > g.repeated ? (PER_MILLE * g.repeated) / (g.tokens - g.repeated) : 0n;
  const repetition = g.tokens > 0n ? falling(repeats, RULES_V2.repetition.full, RULES_V2.repetition.zero) : 0n;
  const chars = g.tokenChars + g.otherChars;
  const symbolShare = chars > 0n ? (PER_MILLE * g.otherChars) / chars : PER_MILLE;
  const symbols = falling(symbolShare, RULES_V2.symbols.full, RULES_V2.symbols.zero);
  return { length: Number(length), vocabulary: Number(vocabulary), order: Number(order),
    repetition: Number(repetition), symbols: Number(symbols) };
}

/**
 * Features that are exactly those of `version`, each a non-negative integer; throws otherwise.
 * @param {string} version @param {Record<string, unknown>} features
 */
function checked(version, features) {
  const names = version === SCORER_VERSION ? FEATURES_V2 : version === IMAGE_SCORER_VERSION ? FEATURES_V3
    : version === "quality-v1" ? FEATURES_V1 : null;
  if (names === null) throw new Error(`unknown scorer version ${JSON.stringify(version)}`);
  for (const name of names) {
    const value = features[name];
    if (!Number.isSafeInteger(value) || /** @type {number} */ (value) < 0) {
      throw new Error(`${version} feature ${name} ${name in features ? "must be a non-negative integer" : "is missing"}`);
    }
  }
  const extra = Object.keys(features).filter((name) => !names.includes(name)).sort();
  if (extra.length > 0) throw new Error(`${version} has no feature ${extra[0]}`);
  return /** @type {Record<string, number>} */ (features);
}

/**
 * The points `version`'s rules give a conversation with `features` (quality-v2 or quality-v1),
 * as a manifest leaf publishes them: points_from_features of ledger.scoring.
 * @param {string} version @param {Record<string, unknown>} features
 * @returns {number}
 */
export function pointsFromFeatures(version, features) {
  const f = checked(version, features);
  if (version === IMAGE_SCORER_VERSION) {
    const text = pointsFromFeatures(SCORER_VERSION, Object.fromEntries(FEATURES_V2.map((name) => [name, f[name]])));
    const r = RULES_V3_IMAGES;
    return text + r.perImage * Math.min(f.images, r.maxImages) + r.perPrompt * Math.min(f.imagePrompts, r.maxPrompts);
  }
  if (version === SCORER_VERSION) {
    const x = factorsOf(f);
    const language = BigInt(Math.min(x.vocabulary, x.order));
    return Number((BigInt(x.length) * language * BigInt(x.repetition) * BigInt(x.symbols)) / PER_MILLE ** 3n);
  }
  const r = RULES_V1;
  const exchanges = BigInt(f.exchanges) < r.maxCountedExchanges ? BigInt(f.exchanges) : r.maxCountedExchanges;
  const user = BigInt(f.distinctUserWords) / r.userWordsPerPoint;
  const assistant = BigInt(f.distinctAssistantWords) / r.assistantWordsPerPoint;
  const substance = (user < r.maxUserSubstance ? user : r.maxUserSubstance)
    + (assistant < r.maxAssistantSubstance ? assistant : r.maxAssistantSubstance);
  const messages = BigInt(f.messages);
  const raw = messages > 0n ? ((r.pointsPerExchange * exchanges + substance) * BigInt(f.uniqueMessages)) / messages : 0n;
  return Number(raw < r.cap ? raw : r.cap);
}

/**
 * The score a contribution of `obj` gets: `{version, points, features}`, the breakdown the API
 * returns and the manifest leaf publishes.
 * @param {unknown} obj any accepted input
 */
export function score(obj) {
  const canonical = normalise(obj);
  const features = featuresOf(canonical);
  const cids = imageCids(canonical);
  if (cids.length === 0) return { version: SCORER_VERSION, points: pointsFromFeatures(SCORER_VERSION, features), features };
  // quality-v3: the user messages with text answered, before the next user message, with images.
  let imagePrompts = 0;
  let waiting = false;
  for (const message of canonical.messages) {
    if (message.role === "user") waiting = message.content !== "";
    else if (waiting && message.images) {
      imagePrompts += 1;
      waiting = false;
    }
  }
  const withImages = { ...features, images: new Set(cids).size, imagePrompts };
  return { version: IMAGE_SCORER_VERSION, points: pointsFromFeatures(IMAGE_SCORER_VERSION, withImages),
    features: withImages };
}
