"""The `ContentStore` interface shared by the local blockstore and the IPFS node store.

A store holds content-addressed UnixFS file DAGs (`put(data)` returns `cid_of(data)`) and serves
them back only after checking every block against its CID, so a caller never has to trust the
backend. Implementations: `LocalBlockStore` (embedded default) and `IpfsStore` (Kubo RPC API).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ledger.content.unixfs import Readable


@runtime_checkable
class ContentStore(Protocol):
    """Synchronous content-addressed storage of byte strings as IPFS UnixFS file DAGs.

    Errors are `ledger.content.errors.ContentError` subclasses: `ContentNotFoundError`,
    `ContentCorruptedError`, `InvalidCidError`, `StoreUnavailableError`.
    """

    def put(self, data: bytes) -> str:
        """Store `data` and return its CID, `cid_of(data)`. Idempotent."""
        ...

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        """Store several objects (as few round trips as the backend allows); CIDs in order."""
        ...

    def get(self, cid: str) -> bytes:
        """The file bytes of `cid` (CIDv0 or CIDv1), every block verified against its CID."""
        ...

    def get_block(self, cid: str) -> bytes:
        """One verified block (for a trustless gateway's `application/vnd.ipld.raw`)."""
        ...

    def has(self, cid: str) -> bool:
        """Whether the whole DAG of `cid` is present."""
        ...

    def export_car(self, cids: Sequence[str]) -> bytes:
        """A CARv1 with `cids` as roots and every block of their DAGs (each block once)."""
        ...


@dataclass(frozen=True, slots=True)
class PinnedBatch:
    """Objects pinned to IPFS together, in one request.

    `root` is a basic UnixFS directory naming each object by its CID (`<cid>` -> the object's
    DAG) and is the batch's one recursive pin; the objects are pinned through it. Anyone holding
    the objects can rebuild the root (`unixfs.directory_node`), and any gateway serves an object
    as `/ipfs/<cid>` or `/ipfs/<root>/<cid>`.
    """

    root: str
    cids: tuple[str, ...]
    """The objects' CIDs, in the order they were given (a repeated object repeats its CID)."""


class ReadableFile(Readable, Protocol):
    """A binary file read from its current position: into a buffer or as ``bytes``."""

    def read(self, size: int = -1, /) -> bytes: ...


@runtime_checkable
class FileStore(Protocol):
    """A store that takes a file without holding it whole (``LocalBlockStore``, ``SharedStore``)."""

    def put_file(self, handle: ReadableFile) -> str:
        """Store the rest of ``handle``'s bytes and return their CID, as ``put`` would."""
        ...


def put_file(store: ContentStore, handle: ReadableFile) -> str:
    """Store the rest of ``handle`` in ``store``; its CID. Streamed where the store can take a
    file; otherwise (a remote node's store) read whole and ``put``."""
    if isinstance(store, FileStore):
        return store.put_file(handle)
    return store.put(handle.read())
