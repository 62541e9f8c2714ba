// The JS client's image CIDs and version-2 normalisation for sizes the test names, over bytes
// made the same way in Python ((i * 7 + 3) % 251): stdin {sizes}, stdout {cids, canonical}.
import { canonicalBytes, imageCid, normalise } from "../../clients/js/tally-client.mjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { sizes } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const bytes = (/** @type {number} */ n) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 1) out[i] = (i * 7 + 3) % 251;
  return out;
};
const cids = sizes.map((/** @type {number} */ n) => imageCid(bytes(n)));
// A conversation naming a multi-block (dag-pb) image and a raw one.
const conversation = { messages: [{ role: "user", content: "Draw two boats." },
  { role: "assistant", content: "Here they are.", images: [cids[cids.length - 1], cids[0]] }] };
process.stdout.write(JSON.stringify({ cids, canonical: new TextDecoder().decode(canonicalBytes(normalise(conversation))) }));
