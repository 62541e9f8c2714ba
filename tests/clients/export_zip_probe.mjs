// The extension's ZIP reader (extension/zip.mjs) and export reader (extension/chatgpt-export.mjs)
// on files Python wrote: stdin {archives: [path], exports: [path]}; stdout, for each archive, its
// members (name and the SHA-256 of its bytes; of an archive of more than SAMPLED members, only the
// first and last SAMPLED / 2 are read, each read costing two reads of the file) or the error its opening or a read gave, and for
// each export, each conversation's contentHash with the images the export holds (or the error).
import { createHash } from "node:crypto";
import { openAsBlob } from "node:fs";
import { readExportFile } from "../../extension/chatgpt-export.mjs";
import { ZipArchive, looksLikeZip } from "../../extension/zip.mjs";
import { contentHash, normalise } from "../../clients/js/tally-client.mjs";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const sha256 = (/** @type {Uint8Array} */ data) => createHash("sha256").update(data).digest("hex");
const SAMPLED = 1000;
const failure = (/** @type {any} */ error) => ({ error: `${error.name}: ${error.message}` });

const archives = [];
for (const path of input.archives) {
  const blob = await openAsBlob(path);
  try {
    const archive = await ZipArchive.open(blob);
    const members = [];
    const count = archive.members.length;
    for (const [i, member] of archive.members.entries()) {
      if (count > SAMPLED && i >= SAMPLED / 2 && i < count - SAMPLED / 2) {
        members.push({ name: member.name });
        continue;
      }
      try {
        members.push({ name: member.name, sha256: sha256(/** @type {Uint8Array} */ (await archive.read(member))) });
      } catch (error) {
        members.push({ name: member.name, ...failure(error) });
      }
    }
    archives.push({ looksLikeZip: await looksLikeZip(blob), members });
  } catch (error) {
    archives.push({ looksLikeZip: await looksLikeZip(blob), ...failure(error) });
  }
}

const exports = [];
for (const path of input.exports) {
  try {
    const { conversations, images } = await readExportFile(await openAsBlob(path));
    const hashes = [];
    for (const conversation of conversations) {
      try {
        const found = images ? await images(conversation, input.maxImageBytes) : [];
        const byPointer = Object.fromEntries(found.map((i) => [i.pointer, i.bytes]));
        hashes.push({ contentHash: contentHash(normalise(conversation, { images: byPointer })),
          mediaTypes: found.map((i) => i.mediaType) });
      } catch (error) {
        hashes.push(failure(error));
      }
    }
    exports.push({ conversations: hashes });
  } catch (error) {
    exports.push(failure(error));
  }
}
process.stdout.write(JSON.stringify({ archives, exports }));
