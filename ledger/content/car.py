"""CARv1 archives (https://ipld.io/specs/transport/car/carv1/), written and read by hand.

Layout: `varint(len(header)) header` then, per block, `varint(len(cid) + len(block)) cid block`,
where `header` is the dag-cbor map `{"roots": [CID, ...], "version": 1}` and each CID is in binary
form (CIDv0 as its bare multihash). dag-cbor (https://ipld.io/specs/codecs/dag-cbor/spec/) encodes
a CID as tag 42 over a byte string of `0x00 ‖ binary CID`, and orders map keys length-first, so
`roots` precedes `version`. Only the small subset of CBOR that a CARv1 header uses is implemented.

Used to pin many objects in one `dag/import` request, to read `dag/export` answers, and for the
trustless gateway's `application/vnd.ipld.car` responses.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from ledger.content import cbor
from ledger.content.cids import Cid, decode_varint, encode_varint, parse_link
from ledger.content.errors import CarFormatError, CborError, InvalidCidError, VarintError

_CID_TAG = 42


def _cbor_text(text: str) -> bytes:
    raw = text.encode("utf-8")
    return cbor.encode_head(cbor.TEXT, len(raw)) + raw


def _cbor_cid(cid: Cid) -> bytes:
    payload = b"\x00" + cid.binary
    return cbor.encode_head(cbor.TAG, _CID_TAG) + cbor.encode_head(cbor.BYTES, len(payload)) + payload


def encode_header(roots: Sequence[Cid]) -> bytes:
    return (
        cbor.encode_head(cbor.MAP, 2)
        + _cbor_text("roots")
        + cbor.encode_head(cbor.ARRAY, len(roots))
        + b"".join(_cbor_cid(root) for root in roots)
        + _cbor_text("version")
        + cbor.encode_head(cbor.UINT, 1)
    )


def distinct_blocks(blocks: Iterable[tuple[Cid, bytes]]) -> list[tuple[Cid, bytes]]:
    """Each block once, where it first appears: the `dups=n` order of a CAR of several DAGs that
    share blocks. Blocks are told apart by digest, so a CIDv0 and a CIDv1 of one block are one."""
    out: list[tuple[Cid, bytes]] = []
    seen: set[bytes] = set()
    for cid, block in blocks:
        if cid.digest not in seen:
            seen.add(cid.digest)
            out.append((cid, block))
    return out


def encode_car(roots: Sequence[Cid], blocks: Iterable[tuple[Cid, bytes]]) -> bytes:
    """A CARv1 archive with `roots` and `blocks` in the given order (the caller dedups, with
    `distinct_blocks` when DAGs may share blocks)."""
    header = encode_header(roots)
    out = bytearray(encode_varint(len(header)) + header)
    for cid, block in blocks:
        binary = cid.binary
        out += encode_varint(len(binary) + len(block))
        out += binary
        out += block
    return bytes(out)


class _Reader:
    """A cursor over bytes whose every failure is a `CarFormatError`."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.buf)

    def varint(self) -> int:
        try:
            value, self.pos = decode_varint(self.buf, self.pos)
        except VarintError as exc:
            raise CarFormatError(str(exc)) from None
        return value

    def cbor_head(self) -> tuple[int, int]:
        try:
            major, argument, self.pos = cbor.decode_head(self.buf, self.pos)
        except CborError as exc:
            raise CarFormatError(str(exc)) from None
        return major, argument

    def take(self, length: int) -> bytes:
        if self.pos + length > len(self.buf):
            raise CarFormatError("truncated CAR")
        chunk = self.buf[self.pos : self.pos + length]
        self.pos += length
        return chunk


_MAX_HEADER_DEPTH = 4
"""A CARv1 header nests map > roots array > tag 42 > byte string; deeper is not a header (and
must not recurse without bound)."""


def _cbor_item(reader: _Reader, depth: int = 1) -> object:
    """Decode one CBOR item of the kinds a CAR header holds (uint, text, bytes, array, map,
    tag 42); anything else is not a CARv1 header."""
    if depth > _MAX_HEADER_DEPTH:
        raise CarFormatError("CBOR nested deeper than a CAR header")
    major, value = reader.cbor_head()
    if major == cbor.UINT:
        return value
    if major == cbor.BYTES:
        return reader.take(value)
    if major == cbor.TEXT:
        try:
            return reader.take(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CarFormatError(f"CBOR text that is not UTF-8: {exc}") from None
    if major == cbor.ARRAY:
        return [_cbor_item(reader, depth + 1) for _ in range(value)]
    if major == cbor.MAP:
        items: dict[str, object] = {}
        for _ in range(value):
            key = _cbor_item(reader, depth + 1)
            if not isinstance(key, str):
                raise CarFormatError("non-string map key in CAR header")
            items[key] = _cbor_item(reader, depth + 1)
        return items
    if major == cbor.TAG and value == _CID_TAG:
        payload = _cbor_item(reader, depth + 1)
        if not isinstance(payload, bytes) or not payload.startswith(b"\x00"):
            raise CarFormatError("bad CID in CAR header")
        return _link(payload[1:])
    raise CarFormatError(f"unexpected CBOR major type {major} in CAR header")


def _link(binary: bytes) -> Cid:
    try:
        return parse_link(binary)
    except InvalidCidError as exc:
        raise CarFormatError(str(exc)) from exc


def _section_cid(section: bytes) -> tuple[Cid, int]:
    """Split the CID off the front of a block section; returns the CID and its length."""
    if section[:2] == b"\x12\x20":
        length = 34
    else:
        reader = _Reader(section)
        if reader.varint() != 1:
            raise CarFormatError("unsupported CID version in CAR section")
        reader.varint()  # codec
        reader.varint()  # multihash code
        digest_len = reader.varint()
        length = reader.pos + digest_len
    if length > len(section):
        raise CarFormatError("CAR section shorter than its CID")
    return _link(section[:length]), length


def _header_roots(header_bytes: bytes) -> list[Cid]:
    reader = _Reader(header_bytes)
    header = _cbor_item(reader)
    if not reader.at_end():
        raise CarFormatError("trailing bytes after the CAR header")
    if not isinstance(header, dict) or header.get("version") != 1:
        raise CarFormatError("not a CARv1 header")
    roots = header.get("roots")
    if not isinstance(roots, list) or not all(isinstance(root, Cid) for root in roots):
        raise CarFormatError("CAR header without a list of root CIDs")
    return [root for root in roots if isinstance(root, Cid)]


def decode_car(car: bytes) -> tuple[list[Cid], Iterator[tuple[Cid, bytes]]]:
    """Parse a CARv1 archive: its roots and an iterator over `(cid, block)` sections.

    Whatever the bytes, the only error raised, here or while iterating, is `CarFormatError`.
    Blocks are NOT verified here; the stores verify each one against its CID before use (and
    raise `ContentCorruptedError` naming the CID).
    """
    reader = _Reader(car)
    roots = _header_roots(reader.take(reader.varint()))

    def sections() -> Iterator[tuple[Cid, bytes]]:
        while not reader.at_end():
            section = reader.take(reader.varint())
            cid, length = _section_cid(section)
            yield cid, section[length:]

    return roots, sections()
