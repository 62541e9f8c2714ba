// The extension's download of a conversation's images (extension/chatgpt-images.mjs) against
// scripted answers built from the recorded file-API shapes (fixtures/chatgpt-backend/): the signed
// link and the chatgpt.com estuary link, a file ChatGPT no longer has, a link that expired, an
// image too large, a file that is not an image, and the session's refresh and rate limits on the
// way. Run by tests/clients/test_chatgpt_reader.py (node --test).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { createHash } from "node:crypto";
import { deflateSync } from "node:zlib";
import { ChatGptHistory } from "../../extension/chatgpt.mjs";
import { ChatGptImages, ImageUnavailableError, imageLimitProblem, imagePointers, sniffMediaType }
  from "../../extension/chatgpt-images.mjs";
import { CANONICAL_VERSION_IMAGES, imageCid, normalise } from "../../clients/js/tally-client.mjs";

const fixtures = new URL("./fixtures/chatgpt-backend/", import.meta.url);
const read = (/** @type {string} */ name) => readFileSync(new URL(name, fixtures), "utf8");
const session = JSON.parse(read("session.json"));
const signed = JSON.parse(read("file-download.json"));
const estuary = JSON.parse(read("file-download-estuary.json"));
const failed = JSON.parse(read("file-download-error.json"));
const expiredXml = read("expired-link.xml");
const parts = JSON.parse(read("image-messages.json"));

const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
/** @param {Uint8Array} bytes */
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A real PNG (8-bit RGB, seeded noise so that it does not compress): what ChatGPT stores.
 * @param {number} width @param {number} height @param {number} seed
 */
function png(width, height, seed) {
  const raw = new Uint8Array((width * 3 + 1) * height);
  for (let i = 0; i < raw.length; i += 32) {
    raw.set(createHash("sha256").update(`${seed}:${i}`).digest().subarray(0, Math.min(32, raw.length - i)), i);
  }
  for (let row = 0; row < height; row += 1) raw[row * (width * 3 + 1)] = 0; // filter type None
  /** @param {string} type @param {Uint8Array} data */
  const chunk = (type, data) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
    return out;
  };
  const header = new Uint8Array(13);
  new DataView(header.buffer).setUint32(0, width);
  new DataView(header.buffer).setUint32(4, height);
  header.set([8, 2, 0, 0, 0], 8);
  const pieces = [Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw)), chunk("IEND", new Uint8Array())];
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const UPLOAD = parts.upload.content.parts[0].asset_pointer; // sediment://file_...
const GENERATED = parts.generated.content.parts[0].asset_pointer; // file-service://file-...
const UPLOAD_ID = UPLOAD.split("://")[1];
const GENERATED_ID = GENERATED.split("://")[1];
const PROMPT = parts.generated.content.parts[0].metadata.dalle.prompt;

/** A conversation: a photo asked about, a generation, an old branch and a hidden message with images of their own. */
function conversation() {
  const node = (/** @type {string} */ id, /** @type {string | null} */ parent, /** @type {any} */ message) =>
    ({ id, parent, children: [], message: message && { id, ...message } });
  const text = (/** @type {string} */ role, /** @type {string} */ words, metadata = {}) =>
    ({ author: { role }, content: { content_type: "text", parts: [words] }, metadata });
  const hidden = structuredClone(parts.upload);
  hidden.content.parts[0].asset_pointer = "sediment://file_hidden";
  hidden.metadata = { is_visually_hidden_from_conversation: true };
  const old = structuredClone(parts.generated);
  old.content.parts[0].asset_pointer = "file-service://file-OldBranch";
  return {
    current_node: "a2", default_model_slug: "gpt-4o",
    mapping: {
      root: node("root", null, null),
      h: node("h", "root", hidden),
      u1: node("u1", "h", structuredClone(parts.upload)),
      a1: node("a1", "u1", text("assistant", "A lighthouse on a cliff. I will paint one.", { model_slug: "gpt-4o" })),
      g1: node("g1", "a1", structuredClone(parts.generated)),
      g0: node("g0", "a1", old),
      a2: node("a2", "g1", text("assistant", "Here it is.", { model_slug: "gpt-4o" })),
    },
  };
}

/**
 * A reader whose fetch answers by URL from `routes` (each a list of answers, one a call), recording each request.
 * @param {Record<string, Array<() => Response>>} routes
 */
function images(routes) {
  /** @type {Array<{url: string, init: RequestInit}>} */
  const calls = [];
  /** @type {number[]} */
  const waits = [];
  const history = new ChatGptHistory({
    fetch: async (url, init) => {
      calls.push({ url: String(url), init: init ?? {} });
      const key = Object.keys(routes).find((k) => String(url).startsWith(k));
      const next = key ? routes[key].shift() : undefined;
      if (!next) throw new Error(`unexpected request ${url}`);
      return next();
    },
    sleep: async () => {},
    onWait: (seconds) => waits.push(seconds),
  });
  return { reader: new ChatGptImages(history), calls, waits };
}

const json = (/** @type {number} */ status, /** @type {unknown} */ body, headers = {}) => () =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const bytes = (/** @type {Uint8Array} */ data, status = 200, headers = {}) => () =>
  new Response(data, { status, headers: { "content-type": "image/png", ...headers } });
const SESSION = "https://chatgpt.com/api/auth/session";
const lookup = (/** @type {string} */ id) => `https://chatgpt.com/backend-api/files/download/${id}?`;
const attachment = (/** @type {string} */ conv, /** @type {string} */ id) =>
  `https://chatgpt.com/backend-api/conversation/${conv}/attachment/${id}/download`;
const SIGNED = signed.download_url;
const ESTUARY = estuary.download_url;

test("the active branch's images are downloaded: a signed link without the token, an estuary link with it", async () => {
  const photo = png(40, 30, 1);
  const picture = png(320, 320, 2); // above 256 KiB: its CID is the UnixFS dag-pb root
  const { reader, calls } = images({
    [SESSION]: [json(200, session)],
    [lookup(UPLOAD_ID)]: [json(200, estuary)],
    [lookup(GENERATED_ID)]: [json(200, signed)],
    [ESTUARY]: [bytes(photo)],
    [SIGNED]: [bytes(picture)],
  });
  const conv = conversation();
  assert.deepEqual(imagePointers(conv), [UPLOAD, GENERATED]);
  const got = await reader.of(conv, "conv-1", 4 << 20);
  assert.deepEqual(got.map((i) => [i.pointer, i.fileId, i.mediaType, i.bytes.length]),
    [[UPLOAD, UPLOAD_ID, "image/png", photo.length], [GENERATED, GENERATED_ID, "image/png", picture.length]]);
  assert.deepEqual(got[0].bytes, photo);
  assert.deepEqual(got[1].bytes, picture);
  assert.equal(calls[1].url, `https://chatgpt.com/backend-api/files/download/${UPLOAD_ID}?conversation_id=conv-1&inline=false`);
  assert.equal(/** @type {any} */ (calls[1].init.headers).authorization, `Bearer ${session.accessToken}`);
  const toEstuary = calls.find((c) => c.url === ESTUARY);
  assert.equal(/** @type {any} */ (toEstuary?.init.headers).authorization, `Bearer ${session.accessToken}`);
  const toSigned = calls.find((c) => c.url === SIGNED);
  assert.equal(toSigned?.init.credentials, "omit");
  assert.equal(toSigned?.init.headers, undefined, "the token never goes to another host");
  assert.ok(calls.every((c) => (c.init.method ?? "GET") === "GET"));
  // What the normaliser makes of them: version 2, the CIDs of the bytes, the prompt as text.
  const canonical = normalise(conv, { images: Object.fromEntries(got.map((i) => [i.pointer, i.bytes])) });
  assert.equal(canonical.v, CANONICAL_VERSION_IMAGES);
  assert.deepEqual(canonical.messages.map((m) => m.images ?? []), [[imageCid(photo)], [], [imageCid(picture)], []]);
  assert.match(imageCid(picture), /^bafybei/);
  assert.equal(canonical.messages[2].content, PROMPT);
});

test("a file ChatGPT no longer has is 'missing', in words", async () => {
  const gone = images({ [SESSION]: [json(200, session)], [lookup(UPLOAD_ID)]: [json(404, { detail: "File not found" })],
    [attachment("conv-1", UPLOAD_ID)]: [json(404, { detail: "Not found" })] });
  await assert.rejects(gone.reader.of(conversation(), "conv-1"), (e) => e instanceof ImageUnavailableError
    && e.reason === "missing" && e.message === `image 1 of 2 (${UPLOAD_ID}) is no longer stored by ChatGPT (deleted, or in another account)`);
  assert.equal(gone.calls.length, 3, "the session, the file API, the conversation's attachment path");
  const old = images({ [SESSION]: [json(200, session)], [lookup(GENERATED_ID)]: [json(404, { detail: "File not found" })] });
  await assert.rejects(old.reader.image(GENERATED, "conv-1"), (e) => e instanceof ImageUnavailableError && e.reason === "missing");
  assert.equal(old.calls.length, 2, "a file-service:// file has no attachment path to try");
  const refused = images({ [SESSION]: [json(200, session)], [lookup(UPLOAD_ID)]: [json(200, failed)] });
  await assert.rejects(refused.reader.of(conversation(), "conv-1"), (e) => e instanceof ImageUnavailableError
    && e.reason === "missing" && e.message === `ChatGPT gives no download link for image 1 of 2 (${UPLOAD_ID}): file_not_found`);
  const deleted = images({ [SESSION]: [json(200, session)], [lookup(UPLOAD_ID)]: [json(200, estuary)],
    [ESTUARY]: [() => new Response("Not Found", { status: 404 })] });
  await assert.rejects(deleted.reader.image(UPLOAD, "conv-1"), (e) => e instanceof ImageUnavailableError && e.reason === "missing"
    && /no longer stored by ChatGPT \(HTTP 404\)/.test(e.message));
});

test("a sediment:// file the file API does not know is asked for through the conversation's attachment path", async () => {
  const photo = png(8, 8, 7);
  const { reader, calls } = images({ [SESSION]: [json(200, session)],
    [lookup(UPLOAD_ID)]: [json(404, { detail: "File not found" })], [attachment("conv-1", UPLOAD_ID)]: [json(200, estuary)],
    [ESTUARY]: [bytes(photo)] });
  assert.deepEqual((await reader.image(UPLOAD, "conv-1")).bytes, photo);
  assert.equal(/** @type {any} */ (calls[2].init.headers).authorization, `Bearer ${session.accessToken}`);
});

test("an expired link is asked for once more, then reported as expired", async () => {
  const expired = () => new Response(expiredXml, { status: 403, headers: { "content-type": "application/xml" } });
  const photo = png(8, 8, 3);
  const fresh = images({ [SESSION]: [json(200, session)], [lookup(GENERATED_ID)]: [json(200, signed), json(200, signed)],
    [SIGNED]: [expired, bytes(photo)] });
  assert.deepEqual((await fresh.reader.image(GENERATED, "conv-1")).bytes, photo);
  assert.equal(fresh.calls.filter((c) => c.url.startsWith(lookup(GENERATED_ID))).length, 2);
  const stale = images({ [SESSION]: [json(200, session)], [lookup(GENERATED_ID)]: [json(200, signed), json(200, signed)],
    [SIGNED]: [expired, expired] });
  await assert.rejects(stale.reader.image(GENERATED, "conv-1", undefined, "image 2 of 2"), (e) =>
    e instanceof ImageUnavailableError && e.reason === "expired"
    && e.message === `the download link ChatGPT gives for image 2 of 2 (${GENERATED_ID}) has expired (HTTP 403, twice); try again later`);
});

test("an image above Tally's limit is refused, by its Content-Length or while it streams", async () => {
  const picture = png(64, 64, 4);
  const declared = images({ [SESSION]: [json(200, session)], [lookup(GENERATED_ID)]: [json(200, signed)], [SIGNED]: [bytes(picture)] });
  await assert.rejects(declared.reader.image(GENERATED, "conv-1", picture.length - 1), (e) =>
    e instanceof ImageUnavailableError && e.reason === "too-large"
    && /larger than the 12 KB Tally takes for one image \(limits.maxImageBytes\)/.test(e.message));
  const streamed = () => new Response(new ReadableStream({
    start(controller) {
      controller.enqueue(picture.subarray(0, 100));
      controller.enqueue(picture.subarray(100));
      controller.close();
    },
  }), { status: 200 });
  const undeclared = images({ [SESSION]: [json(200, session)], [lookup(GENERATED_ID)]: [json(200, signed)], [SIGNED]: [streamed] });
  await assert.rejects(undeclared.reader.image(GENERATED, "conv-1", 150), (e) => e instanceof ImageUnavailableError && e.reason === "too-large");
  // Together: the distinct images of one conversation against limits.maxContributionImageBytes.
  const two = new Map([["bafkreia", picture], ["bafkreib", picture]]);
  assert.equal(imageLimitProblem(two, { maxImageBytes: 1 << 20, maxContributionImageBytes: 2 * picture.length }), null);
  assert.match(/** @type {string} */ (imageLimitProblem(two, { maxContributionImageBytes: 2 * picture.length - 1 })),
    new RegExp(`^its images are ${2 * picture.length} bytes together; Tally takes at most ${2 * picture.length - 1} bytes of images for one conversation`));
  assert.match(/** @type {string} */ (imageLimitProblem(two, { maxImageBytes: picture.length - 1 })), /^image bafkreia is /);
});

test("a file that is not a PNG, JPEG, WebP or GIF is refused as unsupported", async () => {
  const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>');
  const { reader } = images({ [SESSION]: [json(200, session)], [lookup(GENERATED_ID)]: [json(200, signed)],
    [SIGNED]: [bytes(svg, 200, { "content-type": "image/png" })] });
  await assert.rejects(reader.image(GENERATED, "conv-1"), (e) => e instanceof ImageUnavailableError && e.reason === "unsupported"
    && /is not a PNG, JPEG, WebP or GIF image/.test(e.message));
  assert.equal(sniffMediaType(png(2, 2, 5)), "image/png");
  assert.equal(sniffMediaType(Uint8Array.from([0xff, 0xd8, 0xff, 0xe0])), "image/jpeg");
  assert.equal(sniffMediaType(new TextEncoder().encode("RIFF\0\0\0\0WEBPVP8 ")), "image/webp");
  assert.equal(sniffMediaType(new TextEncoder().encode("GIF89a")), "image/gif");
  assert.equal(sniffMediaType(new TextEncoder().encode("RIFF\0\0\0\0WAVE")), null);
});

test("the session's refresh and ChatGPT's rate limits apply to the file API as to the history", async () => {
  const photo = png(8, 8, 6);
  const { reader, calls, waits } = images({
    [SESSION]: [json(200, session), json(200, { ...session, accessToken: "fresh" })],
    [lookup(UPLOAD_ID)]: [json(401, { detail: "expired" }), json(429, {}, { "retry-after": "2" }), json(200, estuary)],
    [ESTUARY]: [json(429, {}), bytes(photo)],
  });
  assert.deepEqual((await reader.image(UPLOAD, "conv-1")).bytes, photo);
  assert.deepEqual(waits, [2, 2]);
  assert.equal(/** @type {any} */ (calls.at(-1)?.init.headers).authorization, "Bearer fresh");
});

test("a link to another host than ChatGPT's storage is refused and never fetched", async () => {
  const { reader, calls } = images({ [SESSION]: [json(200, session)],
    [lookup(GENERATED_ID)]: [json(200, { ...signed, download_url: "https://example.org/x.png" })] });
  await assert.rejects(reader.image(GENERATED, "conv-1"), (e) => e instanceof ImageUnavailableError && e.reason === "refused"
    && /points to example.org, which is not ChatGPT's file storage/.test(e.message));
  assert.ok(calls.every((c) => !c.url.startsWith("https://example.org")));
  const plain = images({ [SESSION]: [json(200, session)],
    [lookup(GENERATED_ID)]: [json(200, { ...signed, download_url: "http://files.oaiusercontent.com/x" })] });
  await assert.rejects(plain.reader.image(GENERATED, "conv-1"), (e) => e instanceof ImageUnavailableError && e.reason === "refused");
});
