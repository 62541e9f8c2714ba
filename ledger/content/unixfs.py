"""UnixFS file DAGs exactly as `ipfs add` builds them, and the dag-pb/UnixFS protobuf by hand.

Specs implemented:
- dag-pb (https://ipld.io/specs/codecs/dag-pb/spec/): `PBNode {repeated PBLink Links = 2;
  optional bytes Data = 1}`, `PBLink {optional bytes Hash = 1; optional string Name = 2;
  optional uint64 Tsize = 3}`. Canonical form: Links before Data, link fields in order 1, 2, 3.
- UnixFS v1 (https://specs.ipfs.tech/unixfs/): `Data {required DataType Type = 1; optional bytes
  Data = 2; optional uint64 filesize = 3; repeated uint64 blocksizes = 4; ...}` (proto2, so
  `blocksizes` is NOT packed: one tag per value).
- The importer of Kubo (boxo/ipld/unixfs/importer/balanced) and js-ipfs (ipfs-unixfs-importer) with
  their defaults: fixed 256 KiB chunks (`size-262144`), balanced layout with at most 174 links per
  node (`helpers.DefaultLinksPerBlock`), links with an empty `Name` that is present on the wire,
  `Tsize` = the block's size plus its children's `Tsize`.

With `--cid-version=1 --raw-leaves` (our form): leaves are `raw` blocks; a file of at most one chunk
(including the empty file) IS its raw leaf (`bafk...`); bigger files get dag-pb nodes of UnixFS
type File carrying `filesize` and one `blocksizes` entry per link (`bafy...`). Without those flags
(CIDv0, used only to check known answers and to read old content): leaves are dag-pb File nodes
that carry the chunk in UnixFS `Data`.

The balanced layout, as Kubo writes it top-down (fill a node of depth d with up to 174 children of
depth d-1, then make it the first child of a new root of depth d+1), yields the same tree as
grouping bottom-up: leaves in runs of 174 under new nodes, those nodes in runs of 174, and so on
until one node remains. We group bottom-up; an extra level appears exactly when a level has more
than 174 nodes, and a last run of a single node still gets its own parent, as in Kubo.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from ledger.content.cids import (
    DAG_PB,
    RAW,
    Cid,
    cid_for_block,
    cid_v0_for_block,
    decode_varint,
    encode_varint,
    parse_link,
)
from ledger.content.errors import ContentCorruptedError, ContentError
from ledger.errors import InvalidInputError

CHUNK_SIZE = 262_144
"""Kubo's default chunker `size-262144` (256 KiB)."""

MAX_LINKS = 174
"""Kubo's `helpers.DefaultLinksPerBlock`: links per node of the balanced layout."""

# UnixFS DataType enum values (unixfs.proto).
UNIXFS_RAW = 0
UNIXFS_DIRECTORY = 1
UNIXFS_FILE = 2

_WIRE_VARINT = 0
_WIRE_LEN = 2


class NotAFileError(ContentError, InvalidInputError):
    """The CID names a UnixFS node that is not a file (a directory, symlink, HAMT shard...): ask
    for a file's CID."""


# --------------------------------------------------------------------------------------------
# Protobuf, the subset dag-pb and UnixFS need.


def _key(field_number: int, wire_type: int) -> bytes:
    return encode_varint(field_number << 3 | wire_type)


def _len_field(field_number: int, payload: bytes) -> bytes:
    return _key(field_number, _WIRE_LEN) + encode_varint(len(payload)) + payload


def _varint_field(field_number: int, value: int) -> bytes:
    return _key(field_number, _WIRE_VARINT) + encode_varint(value)


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield `(field_number, wire_type, value)` for each field; only varint and length-delimited
    wire types occur in dag-pb and UnixFS, anything else is malformed."""
    pos = 0
    while pos < len(buf):
        key, pos = decode_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == _WIRE_VARINT:
            value, pos = decode_varint(buf, pos)
            yield number, wire, value
        elif wire == _WIRE_LEN:
            length, pos = decode_varint(buf, pos)
            if pos + length > len(buf):
                raise ValueError("truncated length-delimited field")
            yield number, wire, buf[pos : pos + length]
            pos += length
        else:
            raise ValueError(f"unexpected wire type {wire}")


@dataclass(frozen=True, slots=True)
class PBLink:
    """One dag-pb link. `name` is always written, even empty, as Kubo and js-ipfs do."""

    cid: Cid
    tsize: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class PBNode:
    links: tuple[PBLink, ...]
    data: bytes | None


def encode_pbnode(links: tuple[PBLink, ...] | list[PBLink], data: bytes | None) -> bytes:
    """dag-pb canonical encoding: every link (field 2) first, then Data (field 1)."""
    out = bytearray()
    for link in links:
        body = (
            _len_field(1, link.cid.binary)
            + _len_field(2, link.name.encode("utf-8"))
            + _varint_field(3, link.tsize)
        )
        out += _len_field(2, body)
    if data is not None:
        out += _len_field(1, data)
    return bytes(out)


def decode_pbnode(block: bytes) -> PBNode:
    """Decode a dag-pb block; raises ValueError on anything the dag-pb spec does not allow."""
    links: list[PBLink] = []
    data: bytes | None = None
    for number, wire, value in _fields(block):
        if number == 2 and wire == _WIRE_LEN and isinstance(value, bytes):
            if data is not None:
                raise ValueError("dag-pb: Links after Data")
            links.append(_decode_pblink(value))
        elif number == 1 and wire == _WIRE_LEN and isinstance(value, bytes) and data is None:
            data = value
        else:
            raise ValueError(f"dag-pb: unexpected field {number}")
    return PBNode(tuple(links), data)


def _decode_pblink(buf: bytes) -> PBLink:
    cid: Cid | None = None
    name, tsize = "", 0
    for number, wire, value in _fields(buf):
        if number == 1 and wire == _WIRE_LEN and isinstance(value, bytes):
            cid = parse_link(value)
        elif number == 2 and wire == _WIRE_LEN and isinstance(value, bytes):
            name = value.decode("utf-8")
        elif number == 3 and wire == _WIRE_VARINT and isinstance(value, int):
            tsize = value
        else:
            raise ValueError(f"dag-pb link: unexpected field {number}")
    if cid is None:
        raise ValueError("dag-pb link without Hash")
    return PBLink(cid, tsize, name)


@dataclass(frozen=True, slots=True)
class UnixFSData:
    type: int
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: tuple[int, ...] = field(default=())


def encode_unixfs(meta: UnixFSData) -> bytes:
    """UnixFS `Data` message; absent optional fields are left out, as Kubo's proto.Marshal does."""
    out = _varint_field(1, meta.type)
    if meta.data is not None:
        out += _len_field(2, meta.data)
    if meta.filesize is not None:
        out += _varint_field(3, meta.filesize)
    for size in meta.blocksizes:
        out += _varint_field(4, size)
    return out


def decode_unixfs(buf: bytes) -> UnixFSData:
    type_: int | None = None
    data: bytes | None = None
    filesize: int | None = None
    blocksizes: list[int] = []
    for number, _wire, value in _fields(buf):
        if number == 1 and isinstance(value, int):
            type_ = value
        elif number == 2 and isinstance(value, bytes):
            data = value
        elif number == 3 and isinstance(value, int):
            filesize = value
        elif number == 4 and isinstance(value, int):
            blocksizes.append(value)
        elif number == 4 and isinstance(value, bytes):
            # A packed encoding of the same repeated field is legal protobuf on read.
            pos = 0
            while pos < len(value):
                size, pos = decode_varint(value, pos)
                blocksizes.append(size)
        # Other fields (hashType, fanout, mode, mtime) do not change a file's bytes.
    if type_ is None:
        raise ValueError("UnixFS Data without Type")
    return UnixFSData(type_, data, filesize, tuple(blocksizes))


# --------------------------------------------------------------------------------------------
# Building: the balanced layout.


@dataclass(frozen=True, slots=True)
class _Node:
    cid: Cid
    block: bytes | None  # None when the caller only wants the CID (cid_of's fast path)
    filesize: int  # file bytes under this node
    tsize: int  # cumulative block bytes under this node (dag-pb link Tsize)
    children: tuple[_Node, ...] = ()


@dataclass(frozen=True, slots=True)
class FileDag:
    """A file's DAG: its root CID and every block, root first, then depth-first pre-order (the
    order of `ipfs dag export`), each distinct block once."""

    root: Cid
    blocks: list[tuple[Cid, bytes]]
    tsize: int = 0
    """The cumulative size of the DAG's blocks, what a directory's link to this file carries."""


def _leaf(chunk: memoryview, *, raw_leaves: bool, cid_version: int, keep: bool) -> _Node:
    if raw_leaves:
        digest = hashlib.sha256(chunk).digest()
        block = bytes(chunk) if keep else None
        return _Node(Cid(1, RAW, digest), block, len(chunk), len(chunk))
    meta = UnixFSData(UNIXFS_FILE, bytes(chunk) if len(chunk) else None, len(chunk))
    node_block = encode_pbnode((), encode_unixfs(meta))
    cid = cid_v0_for_block(node_block) if cid_version == 0 else cid_for_block(DAG_PB, node_block)
    return _Node(cid, node_block if keep else None, len(chunk), len(node_block))


def _parent(children: list[_Node], *, cid_version: int, keep: bool) -> _Node:
    meta = UnixFSData(
        UNIXFS_FILE,
        None,
        sum(child.filesize for child in children),
        tuple(child.filesize for child in children),
    )
    links = [PBLink(child.cid, child.tsize) for child in children]
    block = encode_pbnode(links, encode_unixfs(meta))
    cid = cid_v0_for_block(block) if cid_version == 0 else cid_for_block(DAG_PB, block)
    return _Node(
        cid,
        block if keep else None,
        meta.filesize or 0,
        len(block) + sum(child.tsize for child in children),
        tuple(children) if keep else (),
    )


def _build(data: bytes, *, cid_version: int, raw_leaves: bool, keep: bool) -> _Node:
    if cid_version not in (0, 1):
        raise ValueError("CID version must be 0 or 1")
    if cid_version == 0 and raw_leaves:
        raise ValueError("raw leaves need CIDv1 (CIDv0 is always dag-pb)")
    view = memoryview(data)
    # An empty file still gets one (empty) leaf, as in both importers.
    level = [
        _leaf(view[start : start + CHUNK_SIZE], raw_leaves=raw_leaves,
              cid_version=cid_version, keep=keep)
        for start in range(0, max(len(data), 1), CHUNK_SIZE)
    ]
    # A single chunk is its own root (no parent node), even when it is empty.
    while len(level) > 1:
        level = [
            _parent(level[start : start + MAX_LINKS], cid_version=cid_version, keep=keep)
            for start in range(0, len(level), MAX_LINKS)
        ]
    return level[0]


def file_cid(data: bytes, *, cid_version: int = 1, raw_leaves: bool = True) -> Cid:
    """The root CID `ipfs add` gives `data` (defaults: `--cid-version=1 --raw-leaves`)."""
    if raw_leaves and len(data) <= CHUNK_SIZE:
        return Cid(1, RAW, hashlib.sha256(data).digest())
    return _build(data, cid_version=cid_version, raw_leaves=raw_leaves, keep=False).cid


def file_dag(data: bytes, *, cid_version: int = 1, raw_leaves: bool = True) -> FileDag:
    """The root CID and every block of the DAG `ipfs add` builds for `data`."""
    root = _build(data, cid_version=cid_version, raw_leaves=raw_leaves, keep=True)
    blocks: list[tuple[Cid, bytes]] = []
    seen: set[bytes] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node.cid.digest in seen:
            continue  # identical chunks (e.g. runs of zeros) are one block
        seen.add(node.cid.digest)
        assert node.block is not None  # keep=True kept every block
        blocks.append((node.cid, node.block))
        stack.extend(reversed(node.children))
    return FileDag(root.cid, blocks, root.tsize)


class Readable(Protocol):
    """A binary file read into a caller's buffer (`io.BufferedReader`, a temporary file...)."""

    def readinto(self, buffer: memoryview, /) -> int | None: ...


def stream_file_dag(handle: Readable, put: Callable[[Cid, bytes | memoryview], None]) -> Cid:
    """The root CID of `file_dag(handle.read())` (`--cid-version=1 --raw-leaves`), read from
    `handle` one chunk at a time, calling `put(cid, block)` for every block, children before
    their parents (a block repeated in the file is put each time it occurs).

    The file is never held whole: each 256 KiB chunk is read into one reused buffer and its raw
    leaf is put as a view of it (valid only during the call), so a large file costs one chunk
    and its leaves' CIDs; the parents are built from those exactly as `_build` builds them.
    """
    buffer = bytearray(CHUNK_SIZE)
    view = memoryview(buffer)
    level: list[_Node] = []
    while True:
        filled = _fill(handle, view)
        if not filled and level:
            break
        chunk = view[:filled]
        leaf = _Node(Cid(1, RAW, hashlib.sha256(chunk).digest()), None, filled, filled)
        put(leaf.cid, chunk)
        level.append(leaf)
        if filled < CHUNK_SIZE:
            break
    while len(level) > 1:
        level = [_parent(level[start : start + MAX_LINKS], cid_version=1, keep=True)
                 for start in range(0, len(level), MAX_LINKS)]
        for node in level:
            assert node.block is not None  # keep=True
            put(node.cid, node.block)
    return level[0].cid


def _fill(handle: Readable, view: memoryview) -> int:
    """Read into `view` until it is full or the file ends (a read may return fewer bytes)."""
    filled = 0
    while filled < len(view):
        got = handle.readinto(view[filled:])
        if not got:
            break
        filled += got
    return filled


MAX_DIRECTORY_ENTRIES = 1000
"""The most entries `directory_node` puts in one basic directory. js-ipfs shards a directory
(HAMT) above 1,000 entries and Kubo above an estimated 256 KiB of links; at or below this size
both build a basic directory, so ours is the directory either node would build."""


def directory_node(entries: dict[str, tuple[Cid, int]]) -> tuple[Cid, bytes]:
    """A basic UnixFS directory (dag-pb, CIDv1) linking `name -> (cid, tsize)`; returns its CID
    and block.

    As both importers write it (`ipfs add --wrap-with-directory --cid-version=1`): links sorted by
    the bytes of their UTF-8 names, each with the child's cumulative `Tsize`, then UnixFS `Data`
    of type Directory and nothing else (no mode, no mtime).
    """
    if len(entries) > MAX_DIRECTORY_ENTRIES:
        raise ValueError(f"{len(entries)} entries: a basic directory holds at most {MAX_DIRECTORY_ENTRIES}")
    for name in entries:
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"not a directory entry name: {name!r}")
    ordered = sorted(entries.items(), key=lambda item: item[0].encode("utf-8"))
    links = [PBLink(cid, tsize, name) for name, (cid, tsize) in ordered]
    block = encode_pbnode(links, encode_unixfs(UnixFSData(UNIXFS_DIRECTORY)))
    return cid_for_block(DAG_PB, block), block


# --------------------------------------------------------------------------------------------
# Reading: walk a file DAG, verifying every block against its CID.


def child_links(cid: Cid, block: bytes) -> tuple[Cid, ...]:
    """The CIDs a block links to: none for raw blocks, the dag-pb links otherwise."""
    if cid.codec != DAG_PB:
        return ()
    try:
        return tuple(link.cid for link in decode_pbnode(block).links)
    except ValueError as exc:
        raise ContentCorruptedError(str(cid), f"not a valid dag-pb block: {exc}") from exc


def collect_dag(root: Cid, fetch: Callable[[Cid], bytes]) -> list[tuple[Cid, bytes]]:
    """Every block of the DAG under `root`, each verified against its CID, root first in
    depth-first pre-order, each distinct block once (the order of a CAR from `dag export`)."""
    out: list[tuple[Cid, bytes]] = []
    seen: set[bytes] = set()
    stack = [root]
    while stack:
        current = stack.pop()
        if current.digest in seen:
            continue
        seen.add(current.digest)
        block = fetch(current)
        current.verify(block)
        out.append((current, block))
        stack.extend(reversed(child_links(current, block)))
    return out


def read_file(root: Cid, fetch: Callable[[Cid], bytes]) -> bytes:
    """Reassemble the bytes of the UnixFS file (or raw block) `root`.

    `fetch(cid)` returns a block's bytes (or raises `ContentNotFoundError`); this function checks
    each block against its CID before using it, so a store that serves bad bytes is caught here
    whatever the transport. Sizes recorded in the nodes are checked too.
    """
    out = bytearray()
    _read_into(root, fetch, out)
    return bytes(out)


def _read_into(cid: Cid, fetch: Callable[[Cid], bytes], out: bytearray) -> int:
    block = fetch(cid)
    cid.verify(block)
    if cid.codec == RAW:
        out += block
        return len(block)
    if cid.codec != DAG_PB:
        raise NotAFileError(f"{cid} is neither a raw block nor a dag-pb node")
    try:
        node = decode_pbnode(block)
        meta = decode_unixfs(node.data or b"")
    except ValueError as exc:
        raise ContentCorruptedError(str(cid), f"not a dag-pb/UnixFS node: {exc}") from exc
    if meta.type not in (UNIXFS_FILE, UNIXFS_RAW):
        raise NotAFileError(f"{cid} is a UnixFS node of type {meta.type}, not a file")
    written = 0
    if meta.data:
        out += meta.data
        written += len(meta.data)
    if node.links and len(meta.blocksizes) != len(node.links):
        raise ContentCorruptedError(str(cid), "blocksizes do not match the links")
    for link, expected in zip(node.links, meta.blocksizes, strict=False):
        got = _read_into(link.cid, fetch, out)
        if got != expected:
            raise ContentCorruptedError(str(link.cid), f"{got} bytes where {expected} expected")
        written += got
    if meta.filesize is not None and meta.filesize != written:
        raise ContentCorruptedError(str(cid), f"filesize {meta.filesize}, content {written} bytes")
    return written


# --------------------------------------------------------------------------------------------
# The public, string-typed entry points.


def cid_of(data: bytes) -> str:
    """The CIDv1 (base32) that `ipfs add --cid-version=1 --raw-leaves` prints for `data`.

    `bafk...` (a raw block) up to 256 KiB, including the empty file; `bafy...` (a dag-pb UnixFS
    root over raw leaves, balanced layout, 174 links per node) above.
    """
    return str(file_cid(data))


def dag_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """Every block of `data`'s DAG as `(cid, block)`, root first, depth-first, each block once:
    what a node holds after `ipfs add --cid-version=1 --raw-leaves`, in `dag export` order."""
    return [(str(cid), block) for cid, block in file_dag(data).blocks]
