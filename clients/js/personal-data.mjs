/**
 * Personal data in conversation text: what it is, where it is, and the text without it.
 *
 * The same detector as the Python module `ledger.personal_data` (the reference), which intake
 * runs on every submission: the same patterns, the same checks in the same order, spans in code
 * points. tests/personal_data holds the two together on one corpus and on real conversations.
 * A client redacts before signing, so what the contributor signs is what is stored, and the
 * server finds nothing to refuse. docs/personal-data.md says what is detected and what is not.
 *
 * The patterns are ASCII-only and run without the `u` flag, where JavaScript and Python agree:
 * no \b, \s, \d or \w (their Unicode sets differ), `i` only on ASCII words (the `u` flag would
 * fold the Kelvin sign into k, Python's re.ASCII does not), no negated class that consumes text
 * (it would take half an astral character here, a whole one there).
 *
 * @module personal-data
 */

/** @typedef {"email" | "phone" | "card" | "iban" | "ip" | "secret"} PersonalDataKind */
/** @typedef {{kind: PersonalDataKind, start: number, end: number}} PersonalDataSpan */
/**
 * A value of `kind` in message `message` (its index in the canonical conversation; null is the
 * model name), at `start:end` of that text in code points.
 * @typedef {{kind: PersonalDataKind, message: number | null, start: number, end: number}} PersonalDataFinding
 */
/** @typedef {{role: string, content: string, images?: string[]}} RedactableMessage */
/** @typedef {{v: 1 | 2, model: string | null, messages: RedactableMessage[]}} RedactableConversation */

/** @type {readonly PersonalDataKind[]} */
export const PERSONAL_DATA_KINDS = Object.freeze(["email", "phone", "card", "iban", "ip", "secret"]);

/** @type {Readonly<Record<PersonalDataKind, string>>} */
export const PLACEHOLDERS = Object.freeze({
  email: "[email]", phone: "[phone]", card: "[card]", iban: "[iban]", ip: "[ip]", secret: "[secret]",
});

// ---------------------------------------------------------------------------------------------
// Checks the patterns cannot express.

/** The Luhn (mod 10) check digit of payment card numbers holds. @param {string} digits */
export function luhnValid(digits) {
  let total = 0;
  for (let position = 0; position < digits.length; position++) {
    let value = digits.charCodeAt(digits.length - 1 - position) - 48;
    if (position % 2 === 1) value = value > 4 ? value * 2 - 9 : value * 2;
    total += value;
  }
  return total % 10 === 0;
}

/** Issued by a card network (Mastercard's 2221-2720, or 3, 4, 5, 6). @param {string} digits */
export function cardNetworkPrefix(digits) {
  const first = digits[0];
  if (first === "2") {
    const bin = Number(digits.slice(0, 4));
    return bin >= 2221 && bin <= 2720;
  }
  return "3456".includes(first);
}

/** Test numbers the networks and payment processors publish. */
export const PUBLISHED_TEST_CARDS = Object.freeze(new Set([
  "4111111111111111", "4242424242424242", "4012888888881881", "4222222222222", "4000056655665556",
  "5555555555554444", "5105105105105100", "5200828282828210", "2223003122003222", "378282246310005",
  "371449635398431", "6011111111111117", "6011000990139424", "3056930009020004", "36227206271667",
  "3566002020360505", "6200000000000005",
]));

/** ISO 13616 lengths of the IBAN of each country of the SWIFT registry. @type {ReadonlyMap<string, number>} */
export const IBAN_LENGTHS = new Map(Object.entries({
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27,
  BR: 29, BY: 28, CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28,
  EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23,
  GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27,
  JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25,
  MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18,
  NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33,
  SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28,
  TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
}));

/** A registered country's length and the ISO 7064 mod 97-10 check. @param {string} compact */
export function ibanValid(compact) {
  const iban = compact.toUpperCase();
  if (IBAN_LENGTHS.get(iban.slice(0, 2)) !== iban.length) return false;
  let remainder = 0;
  for (const char of iban.slice(4) + iban.slice(0, 4)) {
    const value = char <= "9" ? char.charCodeAt(0) - 48 : char.charCodeAt(0) - 55;
    remainder = (remainder * (value > 9 ? 100 : 10) + value) % 97;
  }
  return remainder === 1;
}

/** RFC 2606 second-level names, with every name under them. */
export const RESERVED_DOMAINS = Object.freeze(["example.com", "example.net", "example.org"]);
/** RFC 2606 top-level names (and RFC 6761's localhost). */
export const RESERVED_TLDS = Object.freeze(["example", "test", "invalid", "localhost"]);

/** @param {string} domain */
function lastLabel(domain) {
  return domain.slice(domain.lastIndexOf(".") + 1);
}

/** A name reserved for documentation and testing. @param {string} domain */
export function reservedDomain(domain) {
  const name = domain.toLowerCase();
  if (RESERVED_TLDS.includes(lastLabel(name))) return true;
  return RESERVED_DOMAINS.some((reserved) => name === reserved || name.endsWith(`.${reserved}`));
}

/** Top-level names that are file names: logo@2x.png is an image variant, not a mailbox. */
export const FILE_EXTENSIONS = Object.freeze(new Set([
  "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "avif", "heic",
  "css", "scss", "js", "mjs", "cjs", "jsx", "ts", "tsx", "json", "html", "htm", "txt", "yml", "yaml",
  "xml", "lock", "log", "map", "vue",
]));

/** The domain of an address someone could receive mail at. @param {string} domain */
export function mailboxDomain(domain) {
  return !reservedDomain(domain) && !FILE_EXTENSIONS.has(lastLabel(domain).toLowerCase());
}

/** IPv4 networks that are not one host's public address, as [network, prefix length]. */
export const NON_PUBLIC_IPV4 = Object.freeze([
  [0x00000000, 8], [0x0a000000, 8], [0x64400000, 10], [0x7f000000, 8], [0xa9fe0000, 16],
  [0xac100000, 12], [0xc0000000, 24], [0xc0000200, 24], [0xc0586300, 24], [0xc0a80000, 16],
  [0xc6120000, 15], [0xc6336400, 24], [0xcb007100, 24], [0xe0000000, 4], [0xf0000000, 4],
]);

/** Public resolvers everyone is told to use: services, not people. */
export const WELL_KNOWN_IPV4 = Object.freeze(new Set([
  "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222",
  "208.67.220.220",
]));

/**
 * A globally routable unicast address, not a public service, not ending in .0, not four one-digit
 * numbers (a section or a version number, see ledger.personal_data.public_ipv4).
 * @param {number[]} octets
 */
export function publicIpv4(octets) {
  if (octets[3] === 0 || octets.every((o) => o < 10)) return false;
  // Unsigned arithmetic: the bitwise operators of JavaScript are signed 32-bit.
  const value = octets[0] * 2 ** 24 + octets[1] * 2 ** 16 + octets[2] * 2 ** 8 + octets[3];
  for (const [network, prefix] of NON_PUBLIC_IPV4) {
    const size = 2 ** (32 - prefix);
    if (Math.floor(value / size) === Math.floor(network / size)) return false;
  }
  return !WELL_KNOWN_IPV4.has(octets.join("."));
}

const HEX_DIGITS = new Set("0123456789abcdefABCDEF");

/**
 * The four octets of a dotted IPv4 address without leading zeros, or null.
 * @param {string} text
 * @returns {number[] | null}
 */
export function ipv4Octets(text) {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !p || p.length > 3 || (p.length > 1 && p[0] === "0"))) return null;
  if (parts.some((p) => [...p].some((c) => !(c >= "0" && c <= "9")))) return null;
  const octets = parts.map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

/**
 * The eight 16-bit groups of an IPv6 address, or null when `text` is not one.
 * @param {string} text
 * @returns {number[] | null}
 */
export function ipv6Groups(text) {
  let head = text;
  /** @type {number[]} */
  let tail = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const octets = ipv4Octets(text.slice(lastColon + 1));
    if (octets === null) return null;
    tail = [(octets[0] << 8) | octets[1], (octets[2] << 8) | octets[3]];
    head = `${text.slice(0, lastColon + 1)}0`; // a stand-in group, dropped below
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const parts = halves.map((half) => (half ? half.split(":") : []));
  if (parts.some((half) => half.some((p) => p.length < 1 || p.length > 4 || [...p].some((c) => !HEX_DIGITS.has(c))))) {
    return null;
  }
  const groups = parts.map((half) => half.map((p) => parseInt(p, 16)));
  if (tail.length) groups[groups.length - 1] = groups[groups.length - 1].slice(0, -1);
  const size = groups.reduce((n, g) => n + g.length, 0) + tail.length;
  if (groups.length === 1) return size === 8 ? [...groups[0], ...tail] : null;
  if (size > 7) return null;
  return [...groups[0], ...new Array(8 - size).fill(0), ...groups[1], ...tail];
}

/** Public resolvers again, as eight groups. */
export const WELL_KNOWN_IPV6 = Object.freeze([
  [0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888], [0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8844],
  [0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1111], [0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1001],
  [0x2620, 0x00fe, 0, 0, 0, 0, 0, 0x00fe], [0x2620, 0x00fe, 0, 0, 0, 0, 0, 0x0009],
]);

/** Global unicast outside the documentation prefixes. @param {number[]} groups */
export function publicIpv6(groups) {
  const first = groups[0];
  if (first >> 13 !== 1) return false;
  if ((first === 0x2001 && groups[1] === 0x0db8) || first >> 4 === 0x3ff) return false;
  return !WELL_KNOWN_IPV6.some((known) => known.every((g, i) => g === groups[i]));
}

// ---------------------------------------------------------------------------------------------
// The patterns: the strings of ledger.personal_data, character for character (a test compares
// PATTERNS with the Python table; a regex literal writes / as \/). See there for why each
// starts as it does, and for what the hints are.

const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,63})(?![A-Za-z0-9@-]|\.[A-Za-z0-9])/g;
const PHONE_INTERNATIONAL = /(?:\+(?<![0-9A-Za-z+_]\+)|0(?<![0-9A-Za-z+_]0)(?<![^A-Za-z][0-9][ .\/-]0)(?<!^[0-9][ .\/-]0)0)[1-9](?:[ .-]?[0-9]|[ .-]?\([0-9]{1,4}\)){6,16}(?![0-9A-Za-z_]|[.-][0-9])/g;
const PHONE_NANP = /(?:1(?<![0-9A-Za-z+_.\/-]1)(?<![^A-Za-z][0-9][ .\/-]1)(?<!^[0-9][ .\/-]1)[ .-][2-9]|[2-9](?<![0-9A-Za-z+_.\/-][2-9])(?<![^A-Za-z][0-9][ .\/-][2-9])(?<!^[0-9][ .\/-][2-9]))[0-9]{2}([ .-])[2-9][0-9]{2}\1[0-9]{4}(?![0-9A-Za-z_]|[.\/-][0-9]|\1[0-9])/g;
const PHONE_NANP_AREA = /(?:1(?<![0-9A-Za-z+_.\/-]1)(?<![^A-Za-z][0-9][ .\/-]1)(?<!^[0-9][ .\/-]1)[ .-]?\(|\((?<![0-9A-Za-z+_.\/-]\()(?<![^A-Za-z][0-9][ .\/-]\()(?<!^[0-9][ .\/-]\())[2-9][0-9]{2}\)[ ]?[2-9][0-9]{2}([ .-])[0-9]{4}(?![0-9A-Za-z_]|[.\/-][0-9]|\1[0-9])/g;
const PHONE_TRUNK = /0(?<![0-9A-Za-z+_.\/-]0)(?<![^A-Za-z][0-9][ .\/-]0)(?<!^[0-9][ .\/-]0)[1-9][0-9]{0,4}([ .\/-])[0-9]{2,8}(?:\1[0-9]{2,8}){0,4}(?![0-9A-Za-z_]|[.\/-][0-9]|\1[0-9])/g;
const PHONE_TRUNK_AREA = /\((?<![0-9A-Za-z+_.\/-]\()(?<![^A-Za-z][0-9][ .\/-]\()(?<!^[0-9][ .\/-]\()0[1-9][0-9]{0,4}\)[ ]?[0-9]{2,8}(?:[ -][0-9]{2,8}){0,3}(?![0-9A-Za-z_]|[.\/-][0-9]|[ -][0-9]{2})/g;
const CARD = /[2-6](?<![0-9A-Za-z_.][2-6])(?:[0-9]{12,18}|(?<![^A-Za-z][0-9][ -][2-6])(?<!^[0-9][ -][2-6])[0-9]{3}([ -])[0-9]{4,6}\1[0-9]{4,5}(?:\1[0-9]{1,4}){0,2})(?![0-9A-Za-z_]|\.[0-9])/g;
const IBAN = /[A-Z](?<![0-9A-Za-z_][A-Z])[A-Z][0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)(?![0-9A-Za-z_])/g;
const NUMBER_HINT = /[0-9][0-9 ().+\/-]{5,}[0-9]/;
const IPV4 = /[0-9](?<![0-9A-Za-z_.-][0-9])[0-9]{0,2}(?:\.[0-9]{1,3}){3}(?![0-9A-Za-z_]|\.[0-9])/g;
const IPV6 = /(?<![0-9A-Za-z_:.-])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|[0-9]{1,3}(?:\.[0-9]{1,3}){3})?(?![0-9A-Za-z_:]|\.[0-9])/g;
const IPV6_HINT = /:[0-9A-Fa-f]{0,4}:/;
const TOKENS = /(?<![0-9A-Za-z_-])(?:sk-[A-Za-z0-9_-]{20,300}|[rs]k_(?:live|test)_[A-Za-z0-9]{20,200}|gh[pousr]_[A-Za-z0-9]{36,80}|github_pat_[A-Za-z0-9_]{40,120}|(?:AKIA|ASIA)[A-Z0-9]{16}|xox[a-z]-[A-Za-z0-9-]{10,200}|AIza[A-Za-z0-9_-]{35})(?![0-9A-Za-z_-])/g;
const JWT = /(?<![0-9A-Za-z_-])eyJ[A-Za-z0-9_-]{8,4000}\.[A-Za-z0-9_-]{8,8000}\.[A-Za-z0-9_-]{16,2000}(?![0-9A-Za-z_-])/g;
const PEM_PRIVATE_KEY = /-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY-----(?:[A-Za-z0-9+\/=:,\\ \t\r\n-]{0,20000}?-----END \1PRIVATE KEY-----|[A-Za-z0-9+\/=:,\\ \t\r\n-]{0,20000})/g;
const PEM_BODY_RUN = /[A-Za-z0-9+\/]{40}/;
const AWS_SECRET = /(?<![0-9A-Za-z_])aws_secret_access_key[\"']?[ \t]*[:=][ \t]*[\"']?[A-Za-z0-9\/+]{40}(?![0-9A-Za-z\/+=])/gi;
const ETHEREUM_KEY = /(?<![0-9A-Za-z])(?:(?:private|priv|secret|signing)[ _-]?keys?|(?:from_key|wallet|privateKeyToAccount|fromPrivateKey)\(|accounts[\"']?[ \t]*:[ \t]*\[)[\t -\/:-@\[-`{-~]{0,6}(?:(?:is|was|as|of|hex)[\t -\/:-@\[-`{-~]{1,6}){0,2}(?:0x)?[0-9A-Fa-f]{64}(?![0-9A-Za-z])/gi;
export const TOKEN_PREFIXES = Object.freeze(["sk-", "sk_live_", "sk_test_", "rk_live_", "rk_test_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "AKIA", "ASIA", "xox", "AIza"]);
export const ETHEREUM_KEY_WORDS = Object.freeze(["key", "wallet(", "accounts"]);

/** Every pattern by name, as in ledger.personal_data.PATTERNS. */
export const PATTERNS = Object.freeze({
  EMAIL, PHONE_INTERNATIONAL, PHONE_NANP, PHONE_NANP_AREA, PHONE_TRUNK, PHONE_TRUNK_AREA,
  CARD, IBAN, NUMBER_HINT, IPV4, IPV6, IPV6_HINT,
  TOKENS, JWT, PEM_PRIVATE_KEY, PEM_BODY_RUN, AWS_SECRET, ETHEREUM_KEY,
});

const HEX_KEY_LENGTH = 64;

/** @param {string} text */
function digitsOf(text) {
  return text.replace(/[^0-9]/g, "");
}

/**
 * A generated key, not a placeholder or a name (see ledger.personal_data.token_like).
 * @param {string} value
 */
export function tokenLike(value) {
  if (!/[0-9]/.test(value) || value.endsWith("EXAMPLE")) return false;
  if (value.startsWith("sk-")) return /[a-z]/.test(value) && /[A-Z]/.test(value);
  return true;
}

// ---------------------------------------------------------------------------------------------
// One detector per kind: [start, end] of each value, in UTF-16 code units of `text`.

/** @typedef {Array<[number, number]>} UnitSpans */

/** @param {RegExp} pattern @param {string} text */
function matches(pattern, text) {
  return [...text.matchAll(pattern)].map((m) => ({ value: m[0], start: /** @type {number} */ (m.index), groups: m }));
}

/** @param {string} text @returns {UnitSpans} */
export function emailAddresses(text) {
  /** @type {UnitSpans} */
  const out = [];
  if (!text.includes("@")) return out;
  for (const { value, start, groups } of matches(EMAIL, text)) {
    const local = value.slice(0, value.indexOf("@"));
    if (mailboxDomain(groups[1]) && local !== "git") out.push([start, start + value.length]);
  }
  return out;
}

/** Numbers set aside for fiction (NANP 555-01xx, Ofcom's drama ranges). @param {string} digits */
export function fictionalPhone(digits) {
  const national = digits.length === 11 && digits[0] === "1" ? digits.slice(1) : digits;
  if (national.length === 10 && national.slice(3, 6) === "555" && national.slice(6, 8) === "01") return true;
  const uk = digits.startsWith("44") ? `0${digits.slice(2)}` : digits;
  return uk.startsWith("02079460") || uk.startsWith("07700900");
}

/** @param {string} value */
export function internationalGrouping(value) {
  if (value.startsWith("00") && ![..." .-("].some((c) => value.includes(c))) return false;
  return value.split(".").length - 1 !== 1;
}

/**
 * `candidate`, then it without its last group, and so on (ledger.personal_data.group_prefixes).
 * @param {string} candidate
 * @returns {string[]}
 */
export function groupPrefixes(candidate) {
  const out = [candidate];
  for (let at = candidate.length - 2; at > 0; at--) {
    if (" .-".includes(candidate[at]) && "0123456789(".includes(candidate[at + 1])) out.push(candidate.slice(0, at));
  }
  return out;
}

/** @param {string} value */
export function internationalNumber(value) {
  const digits = digitsOf(value);
  const total = value.startsWith("00") ? digits.length - 2 : digits.length;
  const international = digits.startsWith("00") ? digits.slice(2) : digits;
  return total >= 8 && total <= 15 && internationalGrouping(value) && !fictionalPhone(international);
}

/** @param {string} text @returns {UnitSpans} */
export function phoneNumbers(text) {
  /** @type {UnitSpans} */
  const out = [];
  for (const { value, start } of matches(PHONE_INTERNATIONAL, text)) {
    const number = groupPrefixes(value).find(internationalNumber);
    if (number !== undefined) out.push([start, start + number.length]);
  }
  for (const pattern of [PHONE_NANP, PHONE_NANP_AREA]) {
    for (const { value, start } of matches(pattern, text)) {
      if (!fictionalPhone(digitsOf(value))) out.push([start, start + value.length]);
    }
  }
  for (const pattern of [PHONE_TRUNK, PHONE_TRUNK_AREA]) {
    for (const { value, start } of matches(pattern, text)) {
      const digits = digitsOf(value);
      if (digits.length >= 10 && digits.length <= 12 && !fictionalPhone(digits)) out.push([start, start + value.length]);
    }
  }
  return out;
}

/** @param {string} candidate */
export function cardNumber(candidate) {
  const digits = digitsOf(candidate);
  return digits.length >= 13 && digits.length <= 19 && cardNetworkPrefix(digits) && luhnValid(digits)
    && !PUBLISHED_TEST_CARDS.has(digits);
}

/** @param {string} text @returns {UnitSpans} */
export function cardNumbers(text) {
  /** @type {UnitSpans} */
  const out = [];
  for (const { value, start } of matches(CARD, text)) {
    const number = groupPrefixes(value).find(cardNumber);
    if (number !== undefined) out.push([start, start + number.length]);
  }
  return out;
}

/** How much of an IBAN-shaped run is a valid IBAN (whole groups dropped from the end). @param {string} candidate */
export function ibanLength(candidate) {
  if (!candidate.includes(" ")) return ibanValid(candidate) ? candidate.length : 0;
  const groups = candidate.split(" ");
  for (let count = groups.length; count > 3; count--) {
    if (ibanValid(groups.slice(0, count).join(""))) return groups.slice(0, count).join(" ").length;
  }
  return 0;
}

/** @param {string} text @returns {UnitSpans} */
export function ibans(text) {
  /** @type {UnitSpans} */
  const out = [];
  for (const { value, start } of matches(IBAN, text)) {
    const length = ibanLength(value);
    if (length) out.push([start, start + length]);
  }
  return out;
}

/** Public IPv4 addresses. @param {string} text @returns {UnitSpans} */
export function ipv4Addresses(text) {
  /** @type {UnitSpans} */
  const out = [];
  for (const { value, start } of matches(IPV4, text)) {
    const octets = ipv4Octets(value);
    if (octets !== null && publicIpv4(octets)) out.push([start, start + value.length]);
  }
  return out;
}

/** Public IPv6 addresses. @param {string} text @returns {UnitSpans} */
export function ipv6Addresses(text) {
  /** @type {UnitSpans} */
  const out = [];
  if (!IPV6_HINT.test(text)) return out;
  for (const { value, start } of matches(IPV6, text)) {
    const groups = ipv6Groups(value);
    if (groups !== null && publicIpv6(groups)) out.push([start, start + value.length]);
  }
  return out;
}

/** @param {string} text @returns {UnitSpans} */
export function secrets(text) {
  /** @type {UnitSpans} */
  const out = [];
  // Each pattern is tried only on text holding what it cannot match without.
  if (TOKEN_PREFIXES.some((prefix) => text.includes(prefix))) {
    for (const { value, start } of matches(TOKENS, text)) {
      if (tokenLike(value)) out.push([start, start + value.length]);
    }
  }
  if (text.includes("eyJ")) {
    for (const { value, start } of matches(JWT, text)) out.push([start, start + value.length]);
  }
  if (text.includes("PRIVATE KEY-----")) {
    for (const { value, start } of matches(PEM_PRIVATE_KEY, text)) {
      if (PEM_BODY_RUN.test(value)) out.push([start, start + value.length]);
    }
  }
  const lowered = text.toLowerCase();
  if (lowered.includes("aws_secret_access_key")) {
    for (const { value, start } of matches(AWS_SECRET, text)) {
      if (!value.endsWith("EXAMPLEKEY")) out.push([start + value.length - 40, start + value.length]);
    }
  }
  if (ETHEREUM_KEY_WORDS.some((word) => lowered.includes(word))) {
    for (const { value, start } of matches(ETHEREUM_KEY, text)) {
      const end = start + value.length;
      const hexStart = end - HEX_KEY_LENGTH;
      const prefixed = value.slice(-HEX_KEY_LENGTH - 2, -HEX_KEY_LENGTH).toLowerCase() === "0x";
      out.push([prefixed ? hexStart - 2 : hexStart, end]);
    }
  }
  return out;
}

/**
 * Every detector, its kind, and whether it finds only values that hold a NUMBER_HINT run; in the
 * order overlaps are settled (ledger.personal_data.DETECTORS).
 * @type {ReadonlyArray<[PersonalDataKind, (text: string) => UnitSpans, boolean]>}
 */
const DETECTORS = [
  ["secret", secrets, false], ["email", emailAddresses, false], ["iban", ibans, false],
  ["card", cardNumbers, true], ["ip", ipv4Addresses, true], ["ip", ipv6Addresses, false],
  ["phone", phoneNumbers, true],
];

// ---------------------------------------------------------------------------------------------
// Text and conversations.

/**
 * Every value in `text`, none overlapping, in UTF-16 code units (what slicing needs).
 * @param {string} text
 * @returns {PersonalDataSpan[]}
 */
function unitSpans(text) {
  const numbers = NUMBER_HINT.test(text);
  /** @type {Map<PersonalDataKind, Map<string, [number, number]>>} */
  const candidates = new Map();
  for (const [kind, detect, needsNumber] of DETECTORS) {
    const found = candidates.get(kind) ?? new Map();
    candidates.set(kind, found);
    if (numbers || !needsNumber) for (const [s, e] of detect(text)) found.set(`${s}:${e}`, [s, e]);
  }
  // The chosen spans, sorted and disjoint: only the last one starting before a candidate's end can
  // overlap it, found by bisection.
  /** @type {PersonalDataSpan[]} */
  const chosen = [];
  for (const [kind, spans] of candidates) {
    for (const [start, end] of [...spans.values()].sort((a, b) => a[0] - b[0] || b[1] - a[1])) {
      let low = 0;
      let high = chosen.length;
      while (low < high) {
        const middle = (low + high) >> 1;
        if (chosen[middle].start < end) low = middle + 1;
        else high = middle;
      }
      if (low === 0 || chosen[low - 1].end <= start) chosen.splice(low, 0, { kind, start, end });
    }
  }
  return chosen;
}

/** Code unit offsets to code point offsets (Python's string indices). @param {string} text */
function toCodePoints(text) {
  if (!/[\uD800-\uDFFF]/.test(text)) return (/** @type {number} */ unit) => unit;
  /** @type {number[]} */
  const points = new Array(text.length + 1);
  let count = 0;
  for (let unit = 0; unit < text.length; unit++) {
    points[unit] = count;
    // The low half of a pair belongs to the code point its high half starts.
    const inPair = isLow(text.charCodeAt(unit)) && unit > 0 && isHigh(text.charCodeAt(unit - 1));
    if (!inPair) count++;
  }
  points[text.length] = count;
  return (/** @type {number} */ unit) => points[unit];
}

/** @param {number} code */
function isHigh(code) {
  return code >= 0xd800 && code <= 0xdbff;
}

/** @param {number} code */
function isLow(code) {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * Every value of every kind in `text`, in order, none overlapping; spans in code points.
 * @param {string} text
 * @returns {PersonalDataSpan[]}
 */
export function findPersonalData(text) {
  const point = toCodePoints(text);
  return unitSpans(text).map(({ kind, start, end }) => ({ kind, start: point(start), end: point(end) }));
}

/**
 * `text` with each value replaced by its kind's placeholder, and where the values were.
 * @param {string} text
 * @returns {{text: string, spans: PersonalDataSpan[]}}
 */
export function redactText(text) {
  const spans = unitSpans(text);
  let out = "";
  let at = 0;
  for (const span of spans) {
    out += text.slice(at, span.start) + PLACEHOLDERS[span.kind];
    at = span.end;
  }
  out += text.slice(at);
  const point = toCodePoints(text);
  return { text: out, spans: spans.map(({ kind, start, end }) => ({ kind, start: point(start), end: point(end) })) };
}

/**
 * The personal data of a canonical conversation: the model name's, then each message's.
 * @param {RedactableConversation} conversation
 * @returns {PersonalDataFinding[]}
 */
export function findingsIn(conversation) {
  /** @type {PersonalDataFinding[]} */
  const found = findPersonalData(conversation.model ?? "").map(({ kind, start, end }) => ({
    kind, message: /** @type {number | null} */ (null), start, end,
  }));
  conversation.messages.forEach((m, index) => {
    found.push(...findPersonalData(m.content).map(({ kind, start, end }) => ({ kind, message: index, start, end })));
  });
  return found;
}

/**
 * The canonical conversation with every value replaced, and what was replaced where. The
 * placeholders are ASCII words in brackets, so the result is still canonical: its contentHash is
 * the one the server computes.
 * @template {RedactableConversation} C
 * @param {C} conversation
 * @returns {{conversation: C, findings: PersonalDataFinding[]}}
 */
export function redactConversation(conversation) {
  /** @type {PersonalDataFinding[]} */
  const findings = [];
  let model = conversation.model;
  if (model !== null) {
    const redacted = redactText(model);
    model = redacted.text;
    findings.push(...redacted.spans.map(({ kind, start, end }) => ({ kind, message: null, start, end })));
  }
  const messages = conversation.messages.map((m, index) => {
    const redacted = redactText(m.content);
    findings.push(...redacted.spans.map(({ kind, start, end }) => ({ kind, message: index, start, end })));
    return { ...m, content: redacted.text };
  });
  return { conversation: { ...conversation, model, messages }, findings };
}

/**
 * Each (kind, message) once, in order of appearance: what a refusal carries, what a page shows.
 * @param {PersonalDataFinding[]} findings
 * @returns {Array<{kind: PersonalDataKind, message: number | null}>}
 */
export function publicFindings(findings) {
  /** @type {Map<string, {kind: PersonalDataKind, message: number | null}>} */
  const seen = new Map();
  for (const { kind, message } of findings) {
    const key = `${kind}:${message}`;
    if (!seen.has(key)) seen.set(key, { kind, message });
  }
  return [...seen.values()];
}

/**
 * `email in message 0 (x2), phone in message 3`: kinds, counts and places, never values.
 * @param {PersonalDataFinding[]} findings
 */
export function describeFindings(findings) {
  /** @type {Map<string, {kind: string, message: number | null, n: number}>} */
  const counts = new Map();
  for (const { kind, message } of findings) {
    const key = `${kind}:${message}`;
    const entry = counts.get(key) ?? { kind, message, n: 0 };
    entry.n++;
    counts.set(key, entry);
  }
  return [...counts.values()]
    .map(({ kind, message, n }) =>
      `${kind} in ${message === null ? "the model name" : `message ${message}`}${n > 1 ? ` (x${n})` : ""}`)
    .join(", ");
}
