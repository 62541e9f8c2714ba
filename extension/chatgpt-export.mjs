// ChatGPT's data export as the user has it (Settings → Data controls → Export): the ZIP file
// ChatGPT mails a link to, its conversations.json taken out of it, or one conversation as JSON.
//
// The ZIP holds conversations.json and the files of the conversations' images: uploads at its
// root as `file-<id>-<original name>`, DALL-E generations under `dalle-generations/`, each named
// from the file id of its `image_asset_pointer`. An image is found by that id, anywhere in the
// archive, exactly as `tally submit` finds it (tally/exports.py, docs/formats.md §2); an image
// whose file the export lacks stays "[image]" text, as there.
import { ImageUnavailableError, fileIdOf, imagePointers, megabytes, sniffMediaType } from "./chatgpt-images.mjs";
import { ZipArchive, ZipError, looksLikeZip } from "./zip.mjs";

/** Why a file cannot be read as an export, in words for the page. */
export class ExportError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "ExportError";
  }
}

/**
 * @typedef {object} ExportFile
 * @property {unknown[]} conversations  the export's array, or the one conversation the file holds
 * @property {((conversation: unknown, most?: number) => Promise<import("./chatgpt-images.mjs").DownloadedImage[]>) | null} images
 *   the images of a conversation the archive holds (null: a JSON file, which holds none)
 */

/** The last component of a path in the archive. @param {string} name */
const baseName = (name) => name.slice(name.lastIndexOf("/") + 1);

/**
 * What a picked file holds: a ChatGPT export ZIP, or JSON (an export's array, or one conversation).
 * @param {Blob} file
 * @returns {Promise<ExportFile>}
 * @throws {ExportError}
 */
export async function readExportFile(file) {
  if (!(await looksLikeZip(file))) return { conversations: parsed(await file.text(), "the file"), images: null };
  try {
    const archive = await ZipArchive.open(file);
    const main = archive.members.find((m) => baseName(m.name) === "conversations.json");
    if (!main) throw new ExportError("this ZIP holds no conversations.json: it is not a ChatGPT data export");
    /** @type {Map<string, import("./zip.mjs").ZipMember>} the other members by their last name, as Python's dict keeps them */
    const files = new Map();
    for (const member of archive.members) if (member !== main) files.set(baseName(member.name), member);
    const bytes = /** @type {Uint8Array} */ (await archive.read(main));
    return {
      conversations: parsed(decoded(bytes), "its conversations.json"),
      images: (conversation, most) => imagesOf(archive, files, conversation, most),
    };
  } catch (error) {
    if (error instanceof ZipError) throw new ExportError(`This ZIP cannot be read: ${error.message}.`);
    throw error;
  }
}

/** @param {Uint8Array} bytes */
function decoded(bytes) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    if (error instanceof RangeError) {
      throw new ExportError(`its conversations.json (${megabytes(bytes.length)}) is too large for the browser to read at once`);
    }
    throw new ExportError("its conversations.json is not UTF-8 text");
  }
}

/**
 * The conversations of JSON text: an array of them, or one.
 * @param {string} text @param {string} what how the words name the text
 */
export function parsed(text, what) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ExportError(`${what[0].toUpperCase()}${what.slice(1)} is not JSON: ${/** @type {Error} */ (error).message}`);
  }
  return Array.isArray(value) ? value : [value];
}

/**
 * The images of `conversation`'s active branch that the archive holds, each at most `most` bytes
 * (Tally's `limits.maxImageBytes`) and a PNG, JPEG, WebP or GIF; one without its file is left to
 * the normaliser, which writes "[image]".
 * @param {ZipArchive} archive
 * @param {Map<string, import("./zip.mjs").ZipMember>} files
 * @param {unknown} conversation
 * @param {number} [most]
 * @returns {Promise<import("./chatgpt-images.mjs").DownloadedImage[]>}
 */
async function imagesOf(archive, files, conversation, most = undefined) {
  const pointers = imagePointers(conversation);
  /** @type {import("./chatgpt-images.mjs").DownloadedImage[]} */
  const out = [];
  for (const [i, pointer] of pointers.entries()) {
    const fileId = /** @type {string} */ (fileIdOf(pointer));
    const which = `image ${i + 1} of ${pointers.length} (${fileId})`;
    const name = [...files.keys()].find((n) => n === fileId || n.startsWith(`${fileId}-`) || n.startsWith(`${fileId}.`));
    if (name === undefined) continue;
    const bytes = await archive.read(/** @type {import("./zip.mjs").ZipMember} */ (files.get(name)), most);
    if (bytes === null) {
      throw new ImageUnavailableError(`${which} is larger than the ${megabytes(/** @type {number} */ (most))} `
        + "Tally takes for one image (limits.maxImageBytes)", "too-large");
    }
    const mediaType = sniffMediaType(bytes);
    if (mediaType === null) {
      throw new ImageUnavailableError(`${which} is not a PNG, JPEG, WebP or GIF image, the only kinds Tally takes`,
        "unsupported");
    }
    out.push({ pointer, fileId, bytes, mediaType });
  }
  return out;
}
