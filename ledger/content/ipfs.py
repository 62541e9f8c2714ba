"""`IpfsStore`: a `ContentStore` on a Kubo-compatible IPFS node, through its RPC API (`/api/v0`).

Specs: the Kubo RPC API (https://docs.ipfs.tech/reference/kubo/rpc/), CARv1 for `dag/import` and
`dag/export`. Tested against js-ipfs 0.66 (see docs/ipfs.md), written for Kubo as well.

Calls go through `ipfshttpclient`, built with `Client(addr)` directly: `ipfshttpclient.connect()`
refuses every daemon newer than 0.8 (`VersionMismatch`), while the endpoints we use have not
changed. How each call tolerates js-ipfs's differences from Kubo:

- CIDs in answers may come back base58btc (`zb2...`) where Kubo says base32: we pass
  `cid-base=base32` and also compare CIDs by their parsed form, never as strings.
- `Size` is a number on js-ipfs and a string on Kubo: we never rely on it.
- `cat`/`block/get`/`dag/export` of absent content hang on js-ipfs (and on Kubo when the network
  cannot find it): every read carries the RPC's own `timeout` argument, shorter than the HTTP one,
  so the node answers "timed out" instead of the connection stalling.
- js-ipfs ignores the global `offline=true` argument that makes Kubo answer "not found" at once
  for a local-only lookup; `has` sends it anyway and bounds the wait with a short `timeout`.
- `ipfshttpclient`'s `dag.imprt` asserts a single answer line, but `dag/import` may answer more
  (one per root, and Kubo's optional `Stats`): we call it with `stream=True` to read them all.

Nothing is trusted: `get` and `get_block` check every block against its CID; `put` checks that the
node computed the CID we did (`CidMismatchError` otherwise).
"""

from __future__ import annotations

import io
import ipaddress
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import ipfshttpclient  # type: ignore[import-untyped]
import ipfshttpclient.exceptions as ipfs_errors  # type: ignore[import-untyped]

from ledger.content.car import decode_car, distinct_blocks, encode_car
from ledger.content.cids import Cid, parse_cid
from ledger.content.errors import (
    CarFormatError,
    CidMismatchError,
    ContentError,
    ContentNotFoundError,
    InvalidCidError,
    StoreUnavailableError,
)
from ledger.content.store import PinnedBatch
from ledger.content.unixfs import (
    MAX_DIRECTORY_ENTRIES,
    collect_dag,
    decode_pbnode,
    directory_node,
    file_cid,
    file_dag,
    read_file,
)

DEFAULT_URL = "http://127.0.0.1:5001"

# Fragments of the error messages of Kubo and js-ipfs that mean "that content is not here".
_NOT_FOUND = ("not found", "could not find", "timed out", "timeout", "no link named", "not exist")
_NOT_PINNED = ("not pinned",)
_BAD_CID = ("invalid cid", "invalid path", "selected encoding not supported", "invalid request")


def url_to_multiaddr(url: str) -> tuple[str, str]:
    """Split `http(s)://host:port/prefix` into the multiaddr and base path `ipfshttpclient` takes
    (`/ip4/127.0.0.1/tcp/5001/http`, `prefix/api/v0`)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = parts.hostname
    try:
        proto = "ip6" if ipaddress.ip_address(host).version == 6 else "ip4"
    except ValueError:
        proto = "dns"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    prefix = parts.path.strip("/")
    if prefix == "api/v0" or prefix.endswith("/api/v0"):
        prefix = prefix[: -len("api/v0")].rstrip("/")  # accept the URL with /api/v0 given too
    base = "/".join(p for p in (prefix, "api/v0") if p)
    return f"/{proto}/{host}/tcp/{port}/{parts.scheme}", base


class _Tolerated(Exception):
    """An error answer of the node that is an expected outcome (see `IpfsStore._errors`)."""


def _seconds(value: float) -> str:
    """A Go duration string for the RPC `timeout` argument (both nodes parse `1.5s`)."""
    return f"{max(value, 0.001):g}s"


class IpfsStore:
    """A `ContentStore` on an IPFS node reached through the Kubo RPC API; everything added is
    pinned. Holds one HTTP session: call `close()` (or use it as a context manager). Create one
    per thread: the underlying `requests` session is not documented as thread-safe."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        username: str | None = None,
        password: str | None = None,
        bearer_token: str | None = None,
        timeout: float = 60.0,
        fetch_timeout: float = 30.0,
        has_timeout: float = 1.0,
        max_batch_items: int = 1000,
        max_batch_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        """
        url: the RPC endpoint as Kubo's `Addresses.API` serves it (`/api/v0` is appended).
        username/password: HTTP basic auth (Kubo's `API.Authorizations`, or a reverse proxy).
        bearer_token: sent as `Authorization: Bearer ...` (exclusive with basic auth).
        timeout: HTTP timeout in seconds of every request (connect and read).
        fetch_timeout: the node's own time limit for finding content (`timeout=` RPC argument);
            kept below `timeout` so the node, not the socket, reports absent content.
        has_timeout: that limit for `has`, which should answer quickly for absent content.
        max_batch_items/max_batch_bytes: `pin_many` splits larger inputs into several requests;
            a batch holds at most `unixfs.MAX_DIRECTORY_ENTRIES` (1,000) objects.
        """
        if not 1 <= max_batch_items <= MAX_DIRECTORY_ENTRIES:
            raise ValueError(f"max_batch_items must be between 1 and {MAX_DIRECTORY_ENTRIES}")
        if bearer_token and (username or password):
            raise ValueError("use basic auth or a bearer token, not both")
        if (username is None) != (password is None):
            raise ValueError("basic auth needs both a username and a password")
        addr, base = url_to_multiaddr(url)
        headers = {"Authorization": f"Bearer {bearer_token}"} if bearer_token else {}
        auth = (username, password) if username is not None else None
        self.url = url
        self._fetch_timeout = min(fetch_timeout, timeout * 0.9)
        self._has_timeout = has_timeout
        self._max_batch_items = max_batch_items
        self._max_batch_bytes = max_batch_bytes
        # chunk_size: the client streams uploads in chunks of this size; its 8 KiB default made
        # a 7 MB CAR upload 40 % slower (docs/ipfs.md, benchmark).
        self._client = ipfshttpclient.Client(
            addr, base, auth=auth, headers=headers, timeout=timeout, session=True,
            chunk_size=1 << 20,
        )

    # ---- lifecycle

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> IpfsStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def version(self) -> dict[str, Any]:
        """The node's `/api/v0/version` answer (a readiness probe)."""
        with self._errors(None):
            return dict(self._client.version())

    # ---- error translation

    @contextmanager
    def _errors(self, cid: str | None, tolerate: tuple[str, ...] = ()) -> Iterator[None]:
        """Map `ipfshttpclient` errors onto our named errors; node errors whose message contains
        one of `tolerate` become `_Tolerated` (an expected answer such as "not pinned")."""
        try:
            yield
        except ipfs_errors.ErrorResponse as exc:
            message = str(exc).lower()
            if any(f in message for f in tolerate):
                raise _Tolerated(message) from exc
            if cid is not None and any(f in message for f in _NOT_FOUND):
                raise ContentNotFoundError(cid, str(exc)) from exc
            if any(f in message for f in _BAD_CID):
                raise InvalidCidError(f"the node rejected {cid!r}: {exc}") from exc
            raise StoreUnavailableError(f"IPFS node at {self.url}: {exc}") from exc
        except ipfs_errors.Error as exc:
            # Connection refused, HTTP timeouts, 401/403 from a proxy, undecodable answers.
            raise StoreUnavailableError(f"IPFS node at {self.url}: {exc}") from exc

    # ---- writing

    def put(self, data: bytes) -> str:
        """`ipfs add --cid-version=1 --raw-leaves --pin` of `data`; returns `cid_of(data)` after
        checking that the node computed the same CID."""
        expected = file_cid(data)
        opts = {"cid-version": 1, "raw-leaves": "true", "pin": "true", "cid-base": "base32"}
        with self._errors(None):
            got = self._client.add_bytes(data, opts=opts)
        if parse_cid(str(got)).to_v1() != expected:
            raise CidMismatchError(str(expected), str(got))
        return str(expected)

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        return [cid for batch in self.pin_many(items) for cid in batch.cids]

    def pin_many(self, items: Sequence[bytes]) -> list[PinnedBatch]:
        """Store and pin many objects in ONE `dag/import` request per batch.

        We build each object's DAG ourselves (the same blocks `ipfs add` would make) and a basic
        UnixFS directory naming every object by its CID, pack them into one CARv1 whose root is
        that directory, and import it with `pin-roots=true`: one round trip and ONE recursive pin
        per batch, instead of a request and a pin per object (see docs/ipfs.md for what the pins
        cost the node). Batches hold at most `max_batch_items` objects and `max_batch_bytes`.
        """
        batches: list[PinnedBatch] = []
        batch: list[bytes] = []
        size = 0
        for item in items:
            if batch and (len(batch) >= self._max_batch_items
                          or size + len(item) > self._max_batch_bytes):
                batches.append(self._import_batch(batch))
                batch, size = [], 0
            batch.append(item)
            size += len(item)
        if batch:
            batches.append(self._import_batch(batch))
        return batches

    def _import_batch(self, items: Sequence[bytes]) -> PinnedBatch:
        dags = [file_dag(item) for item in items]
        # The same object twice is one entry, and blocks shared between objects go in once.
        entries = {str(dag.root): (dag.root, dag.tsize) for dag in dags}
        root, node = directory_node(entries)
        car = encode_car([root], distinct_blocks([(root, node), *(pair for dag in dags for pair in dag.blocks)]))
        cids = [str(dag.root) for dag in dags]
        with self._errors(None):
            answer = list(self._client.dag.imprt(
                io.BytesIO(car), opts={"pin-roots": "true"}, stream=True
            ))
        for line in answer:
            status = line.get("Root") if isinstance(line, Mapping) else None
            if not isinstance(status, Mapping):
                continue  # e.g. Kubo's optional "Stats" line
            if parse_cid(str(status["Cid"]["/"])).to_v1() != root:
                continue
            if status.get("PinErrorMsg"):
                raise StoreUnavailableError(f"{root} imported but not pinned: {status['PinErrorMsg']}")
            return PinnedBatch(str(root), tuple(cids))
        raise StoreUnavailableError(f"dag/import did not report pinning the batch {root}")

    def unpin(self, cid: str) -> None:
        """Remove our recursive pin (after crypto-shredding, so the node may garbage-collect
        the envelope). Unpinning what is not pinned is not an error."""
        parsed = parse_cid(cid)
        try:
            with self._errors(cid, tolerate=_NOT_PINNED):
                self._client.pin.rm(
                    str(parsed), opts={"timeout": _seconds(self._fetch_timeout)}
                )
        except _Tolerated:
            pass

    # ---- reading

    def _export(self, root: Cid) -> dict[bytes, bytes]:
        """One `dag/export` request: the node's blocks of the DAG, keyed by digest, unverified."""
        with self._errors(str(root)):
            car = self._client.dag.export(
                str(root), opts={"timeout": _seconds(self._fetch_timeout)}
            )
        try:
            _, sections = decode_car(bytes(car))
            return {cid.digest: block for cid, block in sections}
        except CarFormatError as exc:
            raise StoreUnavailableError(f"dag/export of {root}: a broken CAR: {exc}") from exc

    @staticmethod
    def _lookup(blocks: Mapping[bytes, bytes]) -> Callable[[Cid], bytes]:
        def fetch(cid: Cid) -> bytes:
            try:
                return blocks[cid.digest]
            except KeyError:
                raise ContentNotFoundError(str(cid), "missing from the node's dag/export") from None

        return fetch

    def get(self, cid: str) -> bytes:
        """Fetch the whole DAG in one `dag/export` request, then verify and reassemble it here."""
        root = parse_cid(cid)
        blocks: dict[bytes, bytes] = self._export(root)
        return read_file(root, self._lookup(blocks))

    def get_block(self, cid: str) -> bytes:
        parsed = parse_cid(cid)
        with self._errors(cid):
            block = bytes(self._client.block.get(
                str(parsed), opts={"timeout": _seconds(self._fetch_timeout)}
            ))
        parsed.verify(block)
        return block

    def is_pinned(self, cid: str) -> bool:
        """Whether the node holds a recursive pin on `cid` (`pin/ls --type=recursive`)."""
        parsed = parse_cid(cid)
        try:
            with self._errors(cid, tolerate=_NOT_PINNED):
                answer = self._client.pin.ls(
                    str(parsed), type="recursive",
                    opts={"timeout": _seconds(self._fetch_timeout)},
                )
        except _Tolerated:
            return False
        keys = answer.get("Keys") or {}
        return any(_same_block(key, parsed) for key in keys)

    def pinned_in(self, root: str, cid: str) -> bool:
        """Whether `cid` is pinned through the batch directory `root` (`PinnedBatch`): the node
        holds a recursive pin on `root`, and `root`'s verified block names `cid`. Cheap on any
        node, unlike `pin/ls <cid>` of an indirect pin, which walks every pinned DAG."""
        if not self.is_pinned(root):
            return False
        wanted = parse_cid(cid).to_v1()
        links = decode_pbnode(self.get_block(root)).links
        return any(link.name == str(wanted) and link.cid.to_v1() == wanted for link in links)

    def has(self, cid: str) -> bool:
        """Whether the node has `cid`: yes if we pinned it (a recursive pin guarantees the whole
        DAG); otherwise whether the node has the root block locally (`block/stat` with `offline`,
        bounded by `has_timeout` because js-ipfs ignores `offline`)."""
        if self.is_pinned(cid):
            return True
        try:
            with self._errors(cid):
                self._client.block.stat(
                    str(parse_cid(cid)), offline=True,
                    opts={"timeout": _seconds(self._has_timeout)},
                )
        except ContentNotFoundError:
            return False
        return True

    def export_car(self, cids: Sequence[str]) -> bytes:
        """A CARv1 of several DAGs (`dag/export` takes one root: one request per root), every
        block verified before it goes into the archive."""
        roots = [parse_cid(cid) for cid in cids]
        return encode_car(roots, distinct_blocks(
            pair for root in roots for pair in collect_dag(root, self._lookup(self._export(root)))))


def _same_block(text: str, cid: Cid) -> bool:
    try:
        return parse_cid(text).to_v1() == cid.to_v1()
    except ContentError:
        return False
