// The images of a ChatGPT conversation, downloaded as chatgpt.com itself shows them, so that a
// conversation is shared with its pictures (canonical version 2, docs/formats.md §2) rather than
// with "[image]" in their place.
//
// An image is an `image_asset_pointer` part: `file-service://file-<id>` (uploads, older DALL-E
// generations) or `sediment://file_<id>` (newer uploads and image generations). For each one:
//   GET /backend-api/files/download/{file id}?conversation_id={id}&inline=false (bearer token)
//     -> {"status": "success", "download_url": "https://…", "file_name": …, …}
//        or {"status": "error", "error_code": …, "error_message": …}
//   (a sediment:// file it answers 404 for: GET /backend-api/conversation/{id}/attachment/{file id}/download)
//   GET download_url: a signed link on *.oaiusercontent.com (no token, no cookies), or a
//     chatgpt.com/backend-api/estuary/content?id=file_… link (the session, as for the backend).
// The shapes are recorded in tests/clients/fixtures/chatgpt-backend/ with their sources. Only GETs.
import { ChatGptError } from "./chatgpt.mjs";

/** The schemes of an `asset_pointer` that names a file of ChatGPT's file service. */
export const POINTER_SCHEMES = Object.freeze(["file-service://", "sediment://"]);

/** Where a signed download link may point besides chatgpt.com itself (the manifest's host permission). */
export const FILE_HOST_SUFFIX = ".oaiusercontent.com";

/** Why an image cannot be shared; the conversation holding it is left out, with these words. */
export class ImageUnavailableError extends Error {
  /**
   * @param {string} message
   * @param {"missing" | "expired" | "too-large" | "unsupported" | "refused"} reason
   */
  constructor(message, reason) {
    super(message);
    this.name = "ImageUnavailableError";
    this.reason = reason;
  }
}

/**
 * @typedef {object} DownloadedImage
 * @property {string} pointer    the part's asset_pointer, the key `normalise(obj, {images})` takes
 * @property {string} fileId
 * @property {Uint8Array} bytes
 * @property {string} mediaType  sniffed from the bytes, as the server does (ledger.attachments)
 */

/**
 * PNG, JPEG, WebP or GIF by their magic bytes (the WHATWG MIME sniffing signatures), else null:
 * exactly what ledger.attachments.sniff_media_type accepts.
 * @param {Uint8Array} data
 * @returns {string | null}
 */
export function sniffMediaType(data) {
  const starts = (/** @type {number[]} */ magic, at = 0) => magic.every((b, i) => data[at + i] === b);
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (starts([0xff, 0xd8, 0xff])) return "image/jpeg";
  if (starts([0x47, 0x49, 0x46, 0x38, 0x37, 0x61]) || starts([0x47, 0x49, 0x46, 0x38, 0x39, 0x61])) return "image/gif";
  if (data.length >= 12 && starts([0x52, 0x49, 0x46, 0x46]) && starts([0x57, 0x45, 0x42, 0x50], 8)) return "image/webp";
  return null;
}

/** A size in words: "4.0 MB", "300 KB", "150 bytes" (binary units, as the limits are set). @param {number} bytes */
export function megabytes(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  return bytes >= 1024 ? `${Math.round(bytes / 1024)} KB` : `${bytes} bytes`;
}

/**
 * A size and the limit it breaks, in words that tell them apart: exact bytes when rounding would
 * show them equal.
 * @param {number} size @param {number} limit
 * @returns {[string, string]}
 */
export function sizeAndLimit(size, limit) {
  const words = [megabytes(size), megabytes(limit)];
  return words[0] === words[1] ? [`${size} bytes`, `${limit} bytes`] : [words[0], words[1]];
}

/** @param {unknown} value @returns {value is Record<string, any>} */
const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The file id a pointer names (`file-service://file-abc` -> `file-abc`), or null for another scheme.
 * @param {unknown} pointer
 */
export function fileIdOf(pointer) {
  if (typeof pointer !== "string") return null;
  const scheme = POINTER_SCHEMES.find((s) => pointer.startsWith(s));
  if (!scheme) return null;
  const id = pointer.slice(scheme.length).split("?")[0];
  return /^[A-Za-z0-9_-]+$/.test(id) ? id : null;
}

/**
 * The image pointers of the messages the normaliser reads: the active branch (from current_node up
 * the parent links; every node when there is none), without the messages ChatGPT hides. In branch
 * order, each pointer once.
 * @param {unknown} conversation a GET /backend-api/conversation/{id} answer
 * @returns {string[]}
 */
export function imagePointers(conversation) {
  const mapping = isObject(conversation) && isObject(conversation.mapping) ? conversation.mapping : {};
  /** @type {unknown[]} */
  let nodes = [];
  const current = isObject(conversation) ? conversation.current_node : undefined;
  if (typeof current === "string" && Object.hasOwn(mapping, current)) {
    const seen = new Set();
    for (let id = /** @type {unknown} */ (current); typeof id === "string" && Object.hasOwn(mapping, id) && !seen.has(id);) {
      seen.add(id);
      nodes.push(mapping[id]);
      id = isObject(mapping[id]) ? mapping[id].parent : null;
    }
    nodes.reverse();
  } else {
    nodes = Object.values(mapping);
  }
  /** @type {string[]} */
  const out = [];
  for (const node of nodes) {
    const message = isObject(node) ? node.message : null;
    if (!isObject(message)) continue;
    const hidden = isObject(message.metadata) ? message.metadata.is_visually_hidden_from_conversation : undefined;
    if (hidden && !(Array.isArray(hidden) && hidden.length === 0) && !(isObject(hidden) && Object.keys(hidden).length === 0)) continue;
    const parts = isObject(message.content) && Array.isArray(message.content.parts) ? message.content.parts : [];
    for (const part of parts) {
      if (!isObject(part) || part.content_type !== "image_asset_pointer") continue;
      if (fileIdOf(part.asset_pointer) !== null && !out.includes(part.asset_pointer)) out.push(part.asset_pointer);
    }
  }
  return out;
}

/**
 * The body of `response`, refused beyond `most` bytes without reading further (a Content-Length
 * above it is refused before reading at all).
 * @param {Response} response
 * @param {number} most
 * @returns {Promise<Uint8Array | null>} null when larger than `most`
 */
async function readAtMost(response, most) {
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > most) {
    await response.body?.cancel();
    return null;
  }
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  /** @type {Uint8Array[]} */
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > most) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/**
 * Downloads a conversation's images with the reader's session: its token, its 401 refresh and its
 * rate-limit back-off (ChatGptHistory.backend and .request).
 */
export class ChatGptImages {
  /**
   * @param {import("./chatgpt.mjs").ChatGptHistory} history
   */
  constructor(history) {
    this.history = history;
  }

  /**
   * Every image of `conversation`'s active branch, each at most `maxImageBytes` (Tally's
   * `limits.maxImageBytes`; unchecked while Tally's limits are unknown).
   * @param {Record<string, any>} conversation
   * @param {string} conversationId
   * @param {number} [maxImageBytes]
   * @returns {Promise<DownloadedImage[]>}
   * @throws {ImageUnavailableError | ChatGptError}
   */
  async of(conversation, conversationId, maxImageBytes = undefined) {
    const pointers = imagePointers(conversation);
    /** @type {DownloadedImage[]} */
    const out = [];
    for (const [i, pointer] of pointers.entries()) {
      out.push(await this.image(pointer, conversationId, maxImageBytes, `image ${i + 1} of ${pointers.length}`));
    }
    return out;
  }

  /**
   * One image: its download link from the file API, then its bytes. A link that is refused (403,
   * 410: it expired) is asked for once more before the image counts as expired.
   * @param {string} pointer
   * @param {string} conversationId
   * @param {number | undefined} most
   * @param {string} [which] how the words name the image
   * @returns {Promise<DownloadedImage>}
   */
  async image(pointer, conversationId, most = undefined, which = "an image") {
    const fileId = /** @type {string} */ (fileIdOf(pointer));
    if (fileId === null) throw new ImageUnavailableError(`${which} (${pointer}) is not a ChatGPT file`, "refused");
    for (let attempt = 0; ; attempt += 1) {
      const link = await this.downloadUrl(pointer, fileId, conversationId, which);
      const response = await this.fetchLink(link);
      if ((response.status === 403 || response.status === 410) && attempt === 0) continue;
      if (response.status === 403 || response.status === 410) {
        throw new ImageUnavailableError(`the download link ChatGPT gives for ${which} (${fileId}) has expired `
          + `(HTTP ${response.status}, twice); try again later`, "expired");
      }
      if (response.status === 404) {
        throw new ImageUnavailableError(`${which} (${fileId}) is no longer stored by ChatGPT (HTTP 404)`, "missing");
      }
      if (!response.ok) {
        throw new ImageUnavailableError(`ChatGPT's file storage answered HTTP ${response.status} for ${which} (${fileId})`, "refused");
      }
      const bytes = await readAtMost(response, most ?? Number.MAX_SAFE_INTEGER);
      if (bytes === null) {
        throw new ImageUnavailableError(`${which} (${fileId}) is larger than the ${megabytes(/** @type {number} */ (most))} `
          + "Tally takes for one image (limits.maxImageBytes)", "too-large");
      }
      const mediaType = sniffMediaType(bytes);
      if (mediaType === null) {
        throw new ImageUnavailableError(`${which} (${fileId}) is not a PNG, JPEG, WebP or GIF image, the only kinds `
          + "Tally takes", "unsupported");
      }
      return { pointer, fileId, bytes, mediaType };
    }
  }

  /**
   * The signed link of a file: GET /backend-api/files/download/{id}; for a `sediment://` file the
   * file API does not know, GET /backend-api/conversation/{id}/attachment/{file id}/download,
   * where newer ChatGPT pages ask for a conversation's own files (the same answer).
   * @param {string} pointer
   * @param {string} fileId
   * @param {string} conversationId
   * @param {string} which
   * @returns {Promise<URL>}
   */
  async downloadUrl(pointer, fileId, conversationId, which) {
    const query = new URLSearchParams({ conversation_id: conversationId, inline: "false" });
    const paths = [`/backend-api/files/download/${encodeURIComponent(fileId)}?${query}`];
    if (pointer.startsWith("sediment://")) {
      paths.push(`/backend-api/conversation/${encodeURIComponent(conversationId)}/attachment/${encodeURIComponent(fileId)}/download`);
    }
    const gone = `${which} (${fileId}) is no longer stored by ChatGPT (deleted, or in another account)`;
    let body;
    for (const [i, path] of paths.entries()) {
      try {
        body = await this.history.backend(path, gone);
        break;
      } catch (error) {
        if (!(error instanceof ChatGptError && error.state === "refused")) throw error;
        if (error.message === gone && i + 1 < paths.length) continue;
        throw new ImageUnavailableError(error.message, error.message === gone ? "missing" : "refused");
      }
    }
    if (body?.status === "error" || typeof body?.download_url !== "string") {
      const code = typeof body?.error_code === "string" ? `: ${body.error_code}` : "";
      throw new ImageUnavailableError(`ChatGPT gives no download link for ${which} (${fileId})${code}`, "missing");
    }
    let link;
    try {
      link = new URL(body.download_url, this.history.origin);
    } catch {
      throw new ImageUnavailableError(`ChatGPT's download link for ${which} (${fileId}) is not a URL`, "refused");
    }
    const own = link.origin === new URL(this.history.origin).origin;
    if (!own && !(link.protocol === "https:" && link.hostname.endsWith(FILE_HOST_SUFFIX))) {
      throw new ImageUnavailableError(`ChatGPT's download link for ${which} (${fileId}) points to ${link.host}, `
        + "which is not ChatGPT's file storage", "refused");
    }
    return link;
  }

  /**
   * GET a download link: on chatgpt.com with the session and token, elsewhere with neither (the
   * link is signed; the token is never sent to another host). Rate limits are waited out.
   * @param {URL} link
   */
  async fetchLink(link) {
    if (link.origin !== new URL(this.history.origin).origin) return this.history.request(link.href, { credentials: "omit" });
    for (let attempt = 0; ; attempt += 1) {
      const token = this.history.token ?? (await this.history.accessToken());
      const response = await this.history.request(link.href, { credentials: "include", headers: { authorization: `Bearer ${token}` } });
      if (response.status !== 401 || attempt > 0) return response;
      this.history.token = null; // expired meanwhile: the session gives a fresh one
    }
  }
}

/**
 * Why a conversation's images break Tally's published limits (GET /v1/config `limits`), in words,
 * or null: one image above `maxImageBytes`, or its distinct images (by CID, as the server counts
 * them) above `maxContributionImageBytes` together.
 * @param {Map<string, Uint8Array>} images by CID
 * @param {{maxImageBytes?: number, maxContributionImageBytes?: number} | undefined} limits
 * @returns {string | null}
 */
export function imageLimitProblem(images, limits) {
  let total = 0;
  for (const [cid, bytes] of images) {
    if (limits?.maxImageBytes !== undefined && bytes.length > limits.maxImageBytes) {
      const [size, most] = sizeAndLimit(bytes.length, limits.maxImageBytes);
      return `image ${cid} is ${size}; Tally takes at most ${most} for one image (limits.maxImageBytes)`;
    }
    total += bytes.length;
  }
  if (limits?.maxContributionImageBytes !== undefined && total > limits.maxContributionImageBytes) {
    const [size, most] = sizeAndLimit(total, limits.maxContributionImageBytes);
    return `its images are ${size} together; Tally takes at most ${most} of images for one conversation `
      + "(limits.maxContributionImageBytes)";
  }
  return null;
}
