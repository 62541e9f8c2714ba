"""The embedded default store: a blockstore of files under a directory (e.g. `./.tally/blocks`).

Blocks are the very blocks `ipfs add --cid-version=1 --raw-leaves` would make (see `unixfs`), so
the same content can later be exported as a CAR and imported into any IPFS node unchanged.

On disk, like Kubo's flatfs: one file per block, named by the base32 of its multihash (not of the
CID, so a CIDv0 and a CIDv1 of the same bytes find the same file), sharded into directories by
the next-to-last two characters (`next-to-last/2`: the leading characters are the same for every
sha2-256 multihash, the last one carries few bits). Writes are atomic (temporary file in the same
directory, fsync, rename): a crash leaves either the whole block or no block, never half of one.
Every read re-hashes the block; a mismatch raises `ContentCorruptedError` and nothing is served.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ledger.content.car import distinct_blocks, encode_car
from ledger.content.cids import RAW, Cid, parse_cid
from ledger.content.errors import ContentCorruptedError, ContentNotFoundError
from ledger.content.unixfs import Readable, child_links, collect_dag, file_dag, read_file, stream_file_dag


class LocalBlockStore:
    """A `ContentStore` on the local file system. Safe for several threads and processes: a
    block's file only ever appears whole, and two writers of one block write identical bytes."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        """`root`: the directory that holds the blocks (created if missing); `fsync=False` trades
        durability after a power loss for speed (tests, throw-away stores)."""
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync

    # ---- paths

    def _path(self, cid: Cid) -> Path:
        name = base64.b32encode(cid.multihash).decode("ascii").lower().rstrip("=")
        return self.root / name[-3:-1] / f"{name}.data"

    # ---- blocks

    def put_block(self, cid: Cid, block: bytes | memoryview) -> None:
        """Store one block under its CID after checking that it hashes to it."""
        cid.verify(block)
        path = self._path(cid)
        if path.exists():
            try:
                cid.verify(path.read_bytes())
                return  # already there and intact: put is idempotent
            except (ContentCorruptedError, OSError):
                pass  # a damaged copy is replaced by the good one we hold
        path.parent.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(block)
                if self._fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if self._fsync:
            # The rename is durable only once the directory entry is on disk.
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def _read_block(self, cid: Cid) -> bytes:
        try:
            block = self._path(cid).read_bytes()
        except FileNotFoundError:
            raise ContentNotFoundError(str(cid), "no such block in the local store") from None
        cid.verify(block)
        return block

    def get_block(self, cid: str) -> bytes:
        return self._read_block(parse_cid(cid))

    def has_block(self, cid: str) -> bool:
        return self._path(parse_cid(cid)).exists()

    # ---- files (ContentStore)

    def put(self, data: bytes) -> str:
        dag = file_dag(data)
        # Children before parents: a reader never finds a root whose blocks are still missing.
        for cid, block in reversed(dag.blocks):
            self.put_block(cid, block)
        return str(dag.root)

    def put_file(self, handle: Readable) -> str:
        """`put(handle.read())` without holding the file: its blocks are written as they are
        read, leaves before the nodes that link them (`unixfs.stream_file_dag`)."""
        return str(stream_file_dag(handle, self.put_block))

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        return [self.put(item) for item in items]

    def get(self, cid: str) -> bytes:
        return read_file(parse_cid(cid), self._read_block)

    def has(self, cid: str) -> bool:
        """Whether every block of the DAG is present; internal nodes are read (and verified) to
        find their links, leaves only checked for presence."""
        stack = [parse_cid(cid)]
        while stack:
            current = stack.pop()
            if not self._path(current).exists():
                return False
            if current.codec != RAW:
                try:
                    stack.extend(child_links(current, self._read_block(current)))
                except ContentCorruptedError:
                    return False
        return True

    def iter_dag(self, cid: str) -> list[tuple[Cid, bytes]]:
        """Every block of the DAG of `cid`, verified, root first in depth-first pre-order."""
        return collect_dag(parse_cid(cid), self._read_block)

    def export_car(self, cids: Sequence[str]) -> bytes:
        roots = [parse_cid(cid) for cid in cids]
        return encode_car(roots, distinct_blocks(
            pair for root in roots for pair in collect_dag(root, self._read_block)))
