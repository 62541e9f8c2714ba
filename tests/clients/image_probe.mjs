// The JS client on conversations with images, for tests/clients/test_js_images.py.
// stdin: {"items": [{"conversation", "images": {pointer: base64}} ...], "blobs": [base64...]};
// stdout: {"answers": [{canonical, hash, cids} | {error}], "cids": [...], "attachments": {...}}.
import { contentHash, canonicalize, encodeAttachments, imageCid, imageCids, normalise } from "../../clients/js/tally-client.mjs";
import { RULES_V3_IMAGES, score } from "../../clients/js/scoring.mjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { items, blobs } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const bytes = (text) => new Uint8Array(Buffer.from(text, "base64"));
const answers = items.map(({ conversation, images }) => {
  const given = Object.fromEntries(Object.entries(images ?? {}).map(([k, v]) => [k, bytes(v)]));
  try {
    const canonical = normalise(conversation, { images: given });
    // The hash of the canonical form, which normalises to itself.
    return { canonical: canonicalize(canonical), hash: contentHash(canonical), cids: imageCids(canonical),
      score: score(canonical) };
  } catch (error) {
    return { error: error.code ?? String(error) };
  }
});
const images = blobs.map(bytes);
process.stdout.write(JSON.stringify({ answers, cids: images.map(imageCid), attachments: encodeAttachments(images),
  rules: RULES_V3_IMAGES }));
