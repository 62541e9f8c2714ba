// Runs the JS personal-data detector over many inputs in one node process, for comparison with
// ledger.personal_data. stdin: {"mode": "texts" | "conversations" | "tables" | "timed", "items"?: [...]};
// stdout: JSON, one answer per item.
import * as detector from "../../clients/js/personal-data.mjs";
import { ConversationError, contentHash, redactForSubmission } from "../../clients/js/tally-client.mjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { mode, items } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

/** The redacted text and the spans, as [kind, start, end] in code points. */
function texts(values) {
  return values.map((text) => {
    const { text: redacted, spans } = detector.redactText(text);
    const found = detector.findPersonalData(text);
    if (JSON.stringify(found) !== JSON.stringify(spans)) throw new Error("findPersonalData and redactText disagree");
    return { redacted, spans: spans.map((s) => [s.kind, s.start, s.end]) };
  });
}

/** What a client submits for each conversation, its findings and its contentHash, or the refusal's code. */
function conversations(values) {
  return values.map((conversation) => {
    try {
      const { conversation: submitted, findings } = redactForSubmission(conversation);
      return {
        submitted, findings: detector.publicFindings(findings), contentHash: contentHash(submitted),
        spans: findings.map((f) => [f.kind, f.message, f.start, f.end]),
      };
    } catch (error) {
      if (error instanceof ConversationError) return { error: error.code };
      throw error;
    }
  });
}

/** Every table and pattern the detector runs on, as plain JSON. */
function tables() {
  return {
    patterns: Object.fromEntries(Object.entries(detector.PATTERNS).map(([name, re]) => [
      name, { source: re.source.replaceAll("\\/", "/"), ignoreCase: re.flags.includes("i") }])),
    ibanLengths: Object.fromEntries(detector.IBAN_LENGTHS),
    reservedDomains: [...detector.RESERVED_DOMAINS],
    reservedTlds: [...detector.RESERVED_TLDS],
    fileExtensions: [...detector.FILE_EXTENSIONS].sort(),
    testCards: [...detector.PUBLISHED_TEST_CARDS].sort(),
    nonPublicIpv4: detector.NON_PUBLIC_IPV4,
    wellKnownIpv4: [...detector.WELL_KNOWN_IPV4].sort(),
    wellKnownIpv6: detector.WELL_KNOWN_IPV6,
    placeholders: detector.PLACEHOLDERS,
    kinds: detector.PERSONAL_DATA_KINDS,
    tokenPrefixes: detector.TOKEN_PREFIXES,
    ethereumKeyWords: detector.ETHEREUM_KEY_WORDS,
  };
}

/** Milliseconds each text takes, the best of five runs as on the Python side: one run can
 * carry a garbage collection or the compilation of a pattern and be several times too slow. */
function timed(values) {
  return values.map((text) => {
    let best = Infinity;
    for (let run = 0; run < 5; run += 1) {
      const started = performance.now();
      detector.findPersonalData(text);
      best = Math.min(best, performance.now() - started);
    }
    return best;
  });
}

const modes = { texts, conversations, tables, timed };
process.stdout.write(JSON.stringify(modes[mode](items)));
