// What the extension makes of a conversation's downloaded images before anything is signed
// (extension/share.mjs, on the vendored client the build ships): the version-2 canonical form
// with the images' CIDs, the quality-v3 estimate, Tally's published image limits per
// conversation, and the one signed request's limit over the whole selection. Run by
// tests/clients/test_chatgpt_reader.py (node --test) after `node extension/build.mjs`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { checkedImages, prepare } from "../../extension/share.mjs";
import { imageCid, score } from "../../extension/vendor/tally-client.mjs";

const parts = JSON.parse(readFileSync(new URL("./fixtures/chatgpt-backend/image-messages.json", import.meta.url), "utf8"));
const POINTER = parts.generated.content.parts[0].asset_pointer;

/** A user's request, the generation (the recorded message) and the answer. */
function conversation() {
  const text = (/** @type {string} */ role, /** @type {string} */ words) =>
    ({ author: { role }, content: { content_type: "text", parts: [words] }, metadata: role === "assistant" ? { model_slug: "gpt-4o" } : {} });
  return {
    current_node: "a", default_model_slug: "gpt-4o",
    mapping: {
      u: { id: "u", parent: null, children: ["g"], message: { id: "u", ...text("user", "Paint me a lighthouse, please.") } },
      g: { id: "g", parent: "u", children: ["a"], message: { id: "g", ...structuredClone(parts.generated) } },
      a: { id: "a", parent: "g", children: [], message: { id: "a", ...text("assistant", "Here is your lighthouse.") } },
    },
  };
}

/** Bytes that start as a PNG does (the server sniffs magic bytes; the CID is of whatever bytes). */
const picture = (/** @type {number} */ size, /** @type {number} */ seed) => {
  const data = new Uint8Array(size).map((_, i) => (i * 31 + seed * 7) % 251);
  data.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return data;
};

test("a conversation with its image is version 2, named by the image's CID, scored by quality-v3", () => {
  const bytes = picture(300_000, 1);
  const prepared = prepare(conversation(), [{ pointer: POINTER, fileId: "f", bytes, mediaType: "image/png" }],
    { maxImageBytes: 4 << 20, maxContributionImageBytes: 8 << 20 });
  assert.equal(prepared.error, null);
  const canonical = /** @type {any} */ (prepared.canonical);
  assert.equal(canonical.v, 2);
  assert.deepEqual(canonical.messages.map((/** @type {any} */ m) => m.images ?? []), [[], [imageCid(bytes)], []]);
  assert.equal(canonical.messages[1].content, parts.generated.content.parts[0].metadata.dalle.prompt);
  assert.deepEqual(prepared.images.map((i) => [i.cid, i.mediaType, i.bytes.length]), [[imageCid(bytes), "image/png", 300_000]]);
  const scored = score(canonical);
  assert.equal(scored.version, "quality-v3");
  assert.equal(prepared.points, scored.points);
  // Without its bytes the image stays "[image]": version 1, another contentHash.
  assert.equal(/** @type {any} */ (prepare(conversation()).canonical).v, 1);
  assert.notEqual(prepare(conversation()).contentHash, prepared.contentHash);
});

test("images above Tally's published limits leave the conversation out, in words", () => {
  const image = [{ pointer: POINTER, fileId: "f", bytes: picture(5000, 2), mediaType: "image/png" }];
  const one = prepare(conversation(), image, { maxImageBytes: 4999 });
  assert.equal(one.canonical, null);
  assert.match(/** @type {string} */ (one.error), /^image bafkrei\w+ is 5000 bytes; Tally takes at most 4999 bytes for one image \(limits.maxImageBytes\)$/);
  const together = prepare(conversation(), image, { maxImageBytes: 5000, maxContributionImageBytes: 4999 });
  assert.match(/** @type {string} */ (together.error), /^its images are .* \(limits.maxContributionImageBytes\)$/);
});

test("the selection goes as one request only within limits.maxBatchBodyBytes; each image once", () => {
  const bytes = picture(30_000, 3);
  const image = [{ pointer: POINTER, fileId: "f", bytes, mediaType: "image/png" }];
  const a = { title: "A", prepared: prepare(conversation(), image) };
  const b = { title: "B", prepared: prepare({ ...conversation(), title: "again" }, image) };
  const limits = { maxImageBytes: 4 << 20, maxContributionImageBytes: 8 << 20, maxBatchBodyBytes: 16 << 20 };
  const config = /** @type {any} */ ({ limits });
  assert.deepEqual(checkedImages(config, [a, b]), [bytes]);
  assert.throws(() => checkedImages(/** @type {any} */ ({ limits: { ...limits, maxBatchBodyBytes: 40_000 } }), [a, b]),
    /make a request of 4\d KB; Tally takes at most 39 KB in one signed selection \(limits.maxBatchBodyBytes\): select fewer/);
  // A limit Tally published after the preview still holds before signing.
  assert.throws(() => checkedImages(/** @type {any} */ ({ limits: { ...limits, maxImageBytes: 100 } }), [a]),
    /^Error: “A” cannot be shared: image bafkrei\w+ is/);
});
