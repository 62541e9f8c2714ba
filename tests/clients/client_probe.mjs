// Runs the Tally JS client over many inputs in one node process, for comparison with Python.
// stdin: {"mode": "hash" | "text" | "jcs" | "whitespace" | "unicode", "items"?: [...]}; stdout: JSON.
import {
  canonicalize, canonicalBytes, ConversationError, contentHash, normaliseText, PYTHON_WHITESPACE, pyStrip,
} from "../../clients/js/tally-client.mjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { mode, items } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

/** Each input's contentHash and canonical text, or the code of the error that refused it. */
function hashes(conversations) {
  return conversations.map((conversation) => {
    try {
      const bytes = canonicalBytes(conversation);
      return { hash: contentHash(conversation), canonical: new TextDecoder().decode(bytes) };
    } catch (error) {
      if (error instanceof ConversationError) return { error: error.code, name: error.name };
      return { crash: String(error?.stack ?? error) };
    }
  });
}

/**
 * As hashes(), for conversations given as JSON text ({text, path}: the value at `path` in the
 * parsed text), so that node parses the very bytes Python parsed: numbers such as 1e400, which
 * Python reads as inf and cannot write back as JSON, arrive as written.
 */
function textHashes(items) {
  return hashes(items.map(({ text, path }) => path.reduce((value, key) => value[key], JSON.parse(text))));
}

function jcs(values) {
  return values.map((value) => {
    try {
      return { text: canonicalize(value) };
    } catch (error) {
      return { error: error.name };
    }
  });
}

/** Every code point that pyStrip removes on its own (surrogates have no place in text). */
function whitespace() {
  const stripped = [];
  for (let cp = 0; cp < 0x110000; cp++) {
    if (cp >= 0xd800 && cp < 0xe000) continue;
    if (pyStrip(String.fromCodePoint(cp)) === "") stripped.push(cp);
  }
  return { stripped, constant: PYTHON_WHITESPACE };
}

// normaliseText of probes around every code point, reported where it changes the probe. The
// probes see a code point's decomposition and composition ("c", "c\u0301") and its combining
// class ("a\u0345c": U+0345 has the highest class, so any lower non-zero class reorders). The
// engine's own decompositions are probed too, to see compositions the reference does not know.
const PROBES = { self: (c) => c, acute: (c) => `${c}\u0301`, ypogegrammeni: (c) => `a\u0345${c}` };

function unicode() {
  const changed = {};
  const extra = {};
  for (let cp = 0; cp < 0x110000; cp++) {
    if (cp >= 0xd800 && cp < 0xe000) continue;
    const c = String.fromCodePoint(cp);
    for (const [name, probe] of Object.entries(PROBES)) {
      const text = probe(c);
      const out = normaliseText(text);
      if (out !== text) changed[`${name}:${cp}`] = out;
    }
    const decomposed = c.normalize("NFD");
    if (decomposed !== c) {
      extra[`nfd:${cp}`] = decomposed;
      const out = normaliseText(decomposed);
      if (out !== decomposed) changed[`nfd:${cp}`] = out;
    }
  }
  return { changed, extra };
}

const answer = {
  hash: () => hashes(items), text: () => textHashes(items), jcs: () => jcs(items), whitespace, unicode,
}[mode]();
process.stdout.write(JSON.stringify(answer));
