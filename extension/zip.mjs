// Reading a ZIP archive where it lies (a File the user picked), as ChatGPT delivers its data
// export: the central directory first, then only the members asked for, each checked against
// its CRC-32. Nothing is unpacked that is not read, so an export of several GB costs the memory
// of its conversations.json and of the images of the conversations looked at.
//
// The format is PKWARE's APPNOTE.TXT (version 6.3.10): §4.3.16 the end of central directory
// record, §4.3.14-15 its ZIP64 form and locator, §4.3.12 a central directory header, §4.5.3 the
// ZIP64 extra field, §4.3.7 a local file header. Members are stored (method 0) or deflated
// (method 8, RFC 1951, which the browser's DecompressionStream("deflate-raw") inflates);
// encrypted members, other methods and archives split over several disks are refused in words.
// tests/clients/test_export_zip.py reads archives Python's zipfile wrote, adversarial ones too.

/** Why an archive, or one of its members, cannot be read. */
export class ZipError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "ZipError";
  }
}

const END = 0x06054b50;
const END64 = 0x06064b50;
const END64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const END_SIZE = 22;
const MOST_COMMENT = 0xffff;
const FLAG_ENCRYPTED = 0x1;

/**
 * @typedef {object} ZipMember
 * @property {string} name          its path in the archive ("dalle-generations/file-….webp")
 * @property {number} method        0 stored, 8 deflated
 * @property {number} flags
 * @property {number} crc32
 * @property {number} compressedSize
 * @property {number} size          its bytes once inflated
 * @property {number} offset        where its local header starts
 */

/** @param {Blob} blob @param {number} start @param {number} end */
async function bytesAt(blob, start, end) {
  if (start < 0 || end > blob.size || start > end) throw new ZipError("the archive is cut short: a record lies past its end");
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

/** @param {DataView} view @param {number} at */
function u64(view, at) {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError("the archive names a size or an offset beyond 2^53 bytes");
  return Number(value);
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC-32 of ZIP (and of PNG, gzip: ISO-HDLC), continuing from `crc`. @param {Uint8Array} data */
export function crc32(data, crc = 0) {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i += 1) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** Whether `blob` starts as a ZIP archive does (a member's local header, or an empty archive's end). @param {Blob} blob */
export async function looksLikeZip(blob) {
  if (blob.size < 4) return false;
  const first = new DataView((await bytesAt(blob, 0, 4)).buffer).getUint32(0, true);
  return first === LOCAL || first === END;
}

export class ZipArchive {
  /** @param {Blob} blob @param {ZipMember[]} members */
  constructor(blob, members) {
    this.blob = blob;
    /** In the order of the central directory; directories left out. */
    this.members = members;
  }

  /**
   * The archive's central directory, read from its end.
   * @param {Blob} blob
   * @returns {Promise<ZipArchive>}
   * @throws {ZipError}
   */
  static async open(blob) {
    const tailStart = Math.max(0, blob.size - END_SIZE - MOST_COMMENT);
    const tail = await bytesAt(blob, tailStart, blob.size);
    const view = new DataView(tail.buffer);
    // The end record is the last one whose comment reaches exactly the end of the file.
    let at = -1;
    for (let i = tail.length - END_SIZE; i >= 0; i -= 1) {
      if (view.getUint32(i, true) === END && i + END_SIZE + view.getUint16(i + 20, true) === tail.length) {
        at = i;
        break;
      }
    }
    if (at < 0) throw new ZipError("this is not a ZIP archive, or it is cut short (no end of central directory)");
    if (view.getUint16(at + 4, true) !== 0 || view.getUint16(at + 6, true) !== 0) {
      throw new ZipError("the archive is split over several files; join them into one ZIP first");
    }
    let count = view.getUint16(at + 10, true);
    let size = view.getUint32(at + 12, true);
    let offset = view.getUint32(at + 16, true);
    if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
      [count, size, offset] = await readEnd64(blob, tailStart + at);
    }
    if (offset + size > tailStart + at) throw new ZipError("the central directory overlaps its end record");
    const directory = await bytesAt(blob, offset, offset + size);
    return new ZipArchive(blob, readDirectory(directory, count));
  }

  /**
   * A member's bytes, inflated and checked against its CRC-32 and size.
   * @param {ZipMember} member
   * @param {number} [most] refused (null) when it would be larger, before anything is inflated
   * @returns {Promise<Uint8Array | null>}
   * @throws {ZipError}
   */
  async read(member, most = Number.MAX_SAFE_INTEGER) {
    if (member.size > most) return null;
    if (member.flags & FLAG_ENCRYPTED) throw new ZipError(`${member.name} is encrypted in the archive`);
    if (member.method !== 0 && member.method !== 8) {
      throw new ZipError(`${member.name} is compressed with method ${member.method}; only stored and deflated members can be read`);
    }
    const header = new DataView((await bytesAt(this.blob, member.offset, member.offset + 30)).buffer);
    if (header.getUint32(0, true) !== LOCAL) throw new ZipError(`${member.name}: no local header where the directory says`);
    const start = member.offset + 30 + header.getUint16(26, true) + header.getUint16(28, true);
    const packed = this.blob.slice(start, start + member.compressedSize);
    if (start + member.compressedSize > this.blob.size) throw new ZipError(`${member.name} is cut short`);
    const data = member.method === 0
      ? new Uint8Array(await packed.arrayBuffer())
      : await inflate(packed, member);
    if (data.length !== member.size || crc32(data) !== member.crc32) {
      throw new ZipError(`${member.name} is damaged in the archive (its size or CRC-32 is not the directory's)`);
    }
    return data;
  }
}

/**
 * The ZIP64 end record's entry count, directory size and offset (APPNOTE §4.3.14-15).
 * @param {Blob} blob @param {number} end where the classic end record starts
 * @returns {Promise<[number, number, number]>}
 */
async function readEnd64(blob, end) {
  if (end < 20) throw new ZipError("the archive's ZIP64 end record is missing");
  const locator = new DataView((await bytesAt(blob, end - 20, end)).buffer);
  if (locator.getUint32(0, true) !== END64_LOCATOR) throw new ZipError("the archive's ZIP64 end record is missing");
  const at = u64(locator, 8);
  const record = new DataView((await bytesAt(blob, at, at + 56)).buffer);
  if (record.getUint32(0, true) !== END64) throw new ZipError("the archive's ZIP64 end record is not where its locator says");
  if (record.getUint32(16, true) !== 0 || record.getUint32(20, true) !== 0) {
    throw new ZipError("the archive is split over several files; join them into one ZIP first");
  }
  return [u64(record, 32), u64(record, 40), u64(record, 48)];
}

/**
 * The members a central directory lists, in its order (directories left out).
 * @param {Uint8Array} directory @param {number} count
 * @returns {ZipMember[]}
 */
function readDirectory(directory, count) {
  const view = new DataView(directory.buffer, directory.byteOffset, directory.byteLength);
  const utf8 = new TextDecoder("utf-8");
  /** @type {ZipMember[]} */
  const members = [];
  let at = 0;
  for (let n = 0; n < count; n += 1) {
    if (at + 46 > directory.length || view.getUint32(at, true) !== CENTRAL) {
      throw new ZipError(`the archive's central directory is damaged at entry ${n + 1} of ${count}`);
    }
    const flags = view.getUint16(at + 8, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    const next = at + 46 + nameLength + extraLength + commentLength;
    if (next > directory.length) throw new ZipError(`the archive's central directory is damaged at entry ${n + 1} of ${count}`);
    // Names not flagged UTF-8 are IBM code page 437; an export's are ASCII, the same in both.
    const name = utf8.decode(directory.subarray(at + 46, at + 46 + nameLength));
    let compressedSize = view.getUint32(at + 20, true);
    let size = view.getUint32(at + 24, true);
    let offset = view.getUint32(at + 42, true);
    // The ZIP64 extra field holds, in this order, each of these that is 0xFFFFFFFF above.
    for (let x = at + 46 + nameLength; x + 4 <= at + 46 + nameLength + extraLength;) {
      const id = view.getUint16(x, true);
      const length = view.getUint16(x + 2, true);
      if (id === 0x0001) {
        let field = x + 4;
        const take = () => {
          if (field + 8 > x + 4 + length) throw new ZipError(`${name}: its ZIP64 extra field is short`);
          const value = u64(view, field);
          field += 8;
          return value;
        };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (offset === 0xffffffff) offset = take();
      }
      x += 4 + length;
    }
    if (!name.endsWith("/")) {
      members.push({ name, method: view.getUint16(at + 10, true), flags,
        crc32: view.getUint32(at + 16, true), compressedSize, size, offset });
    }
    at = next;
  }
  return members;
}

/**
 * A deflated member inflated, refused as damaged as soon as it would exceed its declared size.
 * @param {Blob} packed @param {ZipMember} member
 */
async function inflate(packed, member) {
  const out = new Uint8Array(member.size);
  let length = 0;
  const reader = packed.stream().pipeThrough(new DecompressionStream("deflate-raw")).getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (length + value.length > out.length) {
        throw new ZipError(`${member.name} is damaged in the archive (larger than the directory says)`);
      }
      out.set(value, length);
      length += value.length;
    }
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    if (error instanceof ZipError) throw error;
    throw new ZipError(`${member.name} is damaged in the archive (${/** @type {Error} */ (error).message})`);
  }
  return out.subarray(0, length);
}
