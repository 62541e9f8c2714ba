"""Content addressing and storage: CIDs exactly as IPFS computes them, and verified stores.

- `cid_of(data)`: the CIDv1 of `ipfs add --cid-version=1 --raw-leaves` (UnixFS, dag-pb, balanced
  layout; see `unixfs`); `dag_blocks(data)`: every block of that DAG.
- `cids`: CID parsing and canonical text, varints and base58btc; `cbor`: CBOR heads; `car`:
  CARv1 archives, written and read by hand (a damaged archive raises `CarFormatError`, nothing
  else).
- `ContentStore`: the store interface (`put_file`: a file stored without holding it whole, where
  the store can); `LocalBlockStore` (embedded default) and `IpfsStore` (a
  Kubo-compatible node through its RPC API), which pins objects in batches (`PinnedBatch`).
- `envelope`: per-object AES-256-GCM encryption with wrapped data keys (crypto-shredding).
- Errors (`errors`): `ContentError` and its subclasses, each also on a category base of
  `ledger.errors` (bad input, not found, unavailable, verification, invariant).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledger.content.cids import Cid, parse_cid
from ledger.content.errors import (
    CarFormatError,
    ContentCorruptedError,
    ContentError,
    ContentNotFoundError,
    InvalidCidError,
    StoreUnavailableError,
    UnsupportedCidError,
)
from ledger.content.local import LocalBlockStore
from ledger.content.store import ContentStore, FileStore, PinnedBatch, ReadableFile, put_file
from ledger.content.unixfs import NotAFileError, cid_of, dag_blocks

if TYPE_CHECKING:
    from ledger.content.ipfs import IpfsStore

__all__ = [
    "CarFormatError",
    "Cid",
    "ContentCorruptedError",
    "ContentError",
    "ContentNotFoundError",
    "ContentStore",
    "FileStore",
    "InvalidCidError",
    "IpfsStore",
    "LocalBlockStore",
    "NotAFileError",
    "PinnedBatch",
    "ReadableFile",
    "StoreUnavailableError",
    "UnsupportedCidError",
    "cid_of",
    "dag_blocks",
    "parse_cid",
    "put_file",
]


def __getattr__(name: str) -> Any:
    # IpfsStore is imported on first use only: ipfshttpclient is slow to import and warns at import
    # time, and most users of `ledger.content` (hashing, the local store) never talk to a node.
    if name == "IpfsStore":
        from ledger.content.ipfs import IpfsStore

        return IpfsStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
