// Runs the JS scorer (clients/js/scoring.mjs, through tally-client.mjs) over many inputs in one
// node process, for tests/scoring/test_js_scoring.py to compare with Python.
// stdin: {"conversations": [any accepted input...], "features": [[version, features]...]}
// stdout: {"rulesHash", "scores": [{version, points, features} | {error}], "points": [n | {error}]}
import { pointsFromFeatures, rulesHash, score } from "../../clients/js/tally-client.mjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { conversations, features } = JSON.parse(Buffer.concat(chunks).toString("utf8"));

/** @param {() => unknown} f */
const attempt = (f) => {
  try {
    return f();
  } catch (error) {
    return { error: String(error?.message ?? error) };
  }
};

process.stdout.write(JSON.stringify({
  rulesHash: rulesHash(),
  scores: conversations.map((conversation) => attempt(() => score(conversation))),
  points: features.map(([version, f]) => attempt(() => pointsFromFeatures(version, f))),
}));
