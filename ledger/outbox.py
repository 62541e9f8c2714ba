"""The content outbox: from "in the database" to "durable on disk" to "pinned on IPFS".

Intake never waits on storage: it commits the object's bytes with the contribution
(``stored_objects``) and writes no file (``OutboxStore``). The shared database is the store of
record of every object (contributions, manifests, snapshots) until the IPFS node holds it: no
host's disk ever is, so any host serves any object and any host can take over the leader's work
(docs/architecture.md, "Several hosts"). These functions, run by a scheduled job, finish the
journey in batches:

* ``harden``: write the blocks into this host's cache; with a shared blockstore directory
  configured (``TALLY_SHARED_BLOCKS_DIR``), also there, flush the file system once for the whole
  batch and drop the bytes from the database (that directory is then their store of record);
* ``pin_due``: pin a batch of objects to IPFS in one request, under one pin on a directory of
  the batch (``PinnedBatch``, recorded as each object's ``pin_root``); on failure, back off
  exponentially per object (1 s, 2 s, 4 s ... up to 5 minutes) and try again later;
* ``release_erased``: take erased contributions' envelopes off IPFS (crypto-shredding already made
  them unreadable; this lets the node reclaim the space) by pinning their batch again without them;
* ``drop_pinned``: drop from the database the bytes of objects pinned ``TALLY_PINNED_RETENTION``
  seconds ago or more (the IPFS node is their store of record from then on).

``SharedStore`` reads an object from this host's cache, else the database, else the shared
blockstore, else the IPFS node (only for objects the database says are pinned), checking the CID
each time, and keeps what it fetched in the cache.

Every step is idempotent (a CID is a CID), so a crash anywhere only repeats work.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import CompoundSelect, func, insert, literal_column, select, update
from sqlalchemy.orm import Session, sessionmaker

from ledger.content import (
    Cid,
    ContentCorruptedError,
    ContentError,
    ContentNotFoundError,
    ContentStore,
    PinnedBatch,
    ReadableFile,
    cid_of,
    dag_blocks,
    parse_cid,
    put_file,
)
from ledger.content.car import encode_car
from ledger.content.unixfs import stream_file_dag
from ledger.models import Contribution, ContributionImage, StoredObject

log = logging.getLogger("tally.outbox")

MAX_BACKOFF = 300


class Pinner(Protocol):
    def pin_many(self, items: Sequence[bytes]) -> list[PinnedBatch]: ...

    def unpin(self, cid: str) -> None: ...


def _erased() -> CompoundSelect[str]:
    """The CIDs of erased contributions and of their images' envelopes: never pinned again, and
    released from IPFS."""
    return select(Contribution.cid).where(Contribution.erased_at.is_not(None)).union(
        select(ContributionImage.stored_cid).join(Contribution, Contribution.id == ContributionImage.contribution_id)
        .where(Contribution.erased_at.is_not(None), Contribution.encrypted.is_(True)))


@dataclass(frozen=True, slots=True)
class PinReport:
    pinned: int
    failed: int
    error: str | None = None


COPY_SIZE = 1 << 20
"""Bytes of an object sent per write of its ``COPY``."""

_COPY_OBJECT = ("COPY stored_objects (cid, kind, size, created_at, durable_at, pin_attempts, next_pin_at, data) "
                "FROM STDIN (FORMAT BINARY)")


def add_object_file(session: Session, *, cid: str, kind: str, handle: ReadableFile, size: int, now: int) -> None:
    """Record the object ``cid`` of ``size`` bytes, read from ``handle``, as due to be written out
    and pinned: the row ``session.add(StoredObject(..., data=...))`` would insert, in the
    session's transaction.

    On PostgreSQL the row is sent with one binary ``COPY`` whose ``data`` field is written
    ``COPY_SIZE`` bytes at a time as they are read, so that neither this process nor libpq ever
    holds the object whole (an INSERT's parameter is the whole value, escaped, in libpq's
    buffer: twice a 72 MB manifest). On SQLite the row is inserted with ``zeroblob(size)`` and
    ``data`` then written in place through the incremental blob I/O, the same pieces at a time.
    Either way the row is an ordinary one: the outbox, the gateway and the pinning read its
    ``data`` as any other.
    """
    session.flush()  # the row is written on the session's connection, in its transaction, at once
    if session.get_bind().dialect.name == "sqlite":
        _write_blob_row(session, cid=cid, kind=kind, handle=handle, size=size, now=now)
        return
    # PostgreSQL's binary COPY: signature, flags, header extension; one tuple of 8 fields, each
    # its length then its bytes (-1: NULL; bigint 8 bytes, integer 4, text its UTF-8), the
    # last being ``data``; then -1 fields for the end.
    fields = [cid.encode(), kind.encode(), struct.pack("!q", size), struct.pack("!q", now), None,
              struct.pack("!i", 0), struct.pack("!q", now)]
    head = bytearray(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!iih", 0, 0, len(fields) + 1))
    for value in fields:
        head += struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)) + value
    head += struct.pack("!i", size)
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(_COPY_OBJECT) as copy:
        copy.write(bytes(head))
        for chunk in _pieces(handle, size):
            copy.write(chunk)
        copy.write(struct.pack("!h", -1))


def _write_blob_row(session: Session, *, cid: str, kind: str, handle: ReadableFile, size: int, now: int) -> None:
    """SQLite's half of :func:`add_object_file`: the row with ``size`` zero bytes, then its
    ``data`` overwritten in place (``sqlite3.Connection.blobopen``), in the same transaction."""
    rowid: int = session.execute(insert(StoredObject).values(
        cid=cid, kind=kind, size=size, data=func.zeroblob(size), created_at=now, durable_at=None, pin_attempts=0,
        next_pin_at=now).returning(literal_column("rowid"))).scalar_one()
    if not size:
        return  # nothing to write, and no blob of length 0 to open
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    with driver.blobopen(StoredObject.__tablename__, "data", rowid) as blob:
        for chunk in _pieces(handle, size):
            blob.write(chunk)


def _pieces(handle: ReadableFile, size: int) -> Iterator[bytes]:
    """``size`` bytes of ``handle`` in pieces of at most ``COPY_SIZE``; a ``ValueError`` if it
    ends sooner."""
    remaining = size
    while remaining:
        chunk = handle.read(min(COPY_SIZE, remaining))
        if not chunk:
            raise ValueError(f"the object ended {remaining} bytes short of the {size} announced")
        yield chunk
        remaining -= len(chunk)


def harden(session: Session, cache: ContentStore, *, now: int, batch: int = 1000,
           shared: ContentStore | None = None, flush: Callable[[], None] = os.sync) -> int:
    """Write out up to ``batch`` objects not written yet; the number hardened.

    Each goes into this host's ``cache``. The database keeps the bytes (it is their store of
    record until they are pinned), unless ``shared`` (a blockstore every host mounts) is given:
    then they are written there too, flushed, and dropped from the database.
    """
    rows = session.execute(
        select(StoredObject.cid, StoredObject.data).where(StoredObject.durable_at.is_(None))
        .order_by(StoredObject.created_at).limit(batch)
    ).all()
    if not rows:
        return 0
    for cid, data in rows:
        if data is None:
            continue
        for target in (cache,) if shared is None else (cache, shared):
            try:
                target.get(cid)  # present and intact?
            except ContentError:
                if target.put(data) != cid:
                    raise ContentError(cid, "the stored bytes do not hash to their CID") from None
    hardened = update(StoredObject).where(StoredObject.cid.in_([cid for cid, _ in rows]))
    if shared is None:
        session.execute(hardened.values(durable_at=now))
        return len(rows)
    # One sync(2) for the batch instead of two fsyncs per block: it returns once every dirty
    # page of the file system is on disk, these blocks included.
    flush()
    session.execute(hardened.values(durable_at=now, data=None))
    return len(rows)


def drop_pinned(session: Session, *, now: int, retention: int | None, batch: int = 5000) -> int:
    """Drop from the database the bytes of up to ``batch`` objects pinned at least ``retention``
    seconds ago (None: keep them for ever); the number dropped. The IPFS node holds them. The
    envelopes of erased contributions released from the node that long ago go too (unreadable
    since their erasure, they are kept nowhere)."""
    if retention is None:
        return 0
    cutoff = now - retention
    cids = list(session.scalars(
        select(StoredObject.cid).where((StoredObject.pinned_at <= cutoff) | (StoredObject.released_at <= cutoff),
                                       StoredObject.data.is_not(None))
        .limit(batch)))
    if cids:
        session.execute(update(StoredObject).where(StoredObject.cid.in_(cids)).values(data=None))
    return len(cids)


def pin_due(session: Session, local: ContentStore, pinner: Pinner, *, now: int, batch: int = 500) -> PinReport:
    """Pin up to ``batch`` due objects to IPFS in one request."""
    due = session.execute(
        select(StoredObject.cid, StoredObject.pin_attempts)
        .where(StoredObject.pinned_at.is_(None), StoredObject.durable_at.is_not(None),
               StoredObject.next_pin_at <= now, StoredObject.cid.not_in(_erased()))
        .order_by(StoredObject.created_at).limit(batch)
    ).all()
    rows = [cid for cid, _ in due]
    if not rows:
        return PinReport(0, 0)
    try:
        items = [local.get(cid) for cid in rows]
        batches = pinner.pin_many(items)
        if [cid for pinned in batches for cid in pinned.cids] != rows:
            raise ContentError(",".join(rows[:3]), "the node returned other CIDs than ours")
    except Exception as exc:  # the node is down, slow, or refused: back off, keep everything
        message = f"{type(exc).__name__}: {exc}"[:500]
        by_attempts: dict[int, list[str]] = {}
        for cid, attempts in due:
            by_attempts.setdefault(attempts, []).append(cid)
        for attempts, cids in by_attempts.items():
            session.execute(update(StoredObject).where(StoredObject.cid.in_(cids)).values(
                pin_attempts=attempts + 1, next_pin_at=now + min(MAX_BACKOFF, 2**attempts), last_error=message))
        log.warning("pinning %d objects failed (%s); retrying with backoff", len(rows), message)
        return PinReport(0, len(rows), message)
    for pinned in batches:
        session.execute(update(StoredObject).where(StoredObject.cid.in_(set(pinned.cids)))
                        .values(pinned_at=now, pin_root=pinned.root, last_error=None))
    return PinReport(len(rows), 0)


def release_erased(session: Session, local: ContentStore, pinner: Pinner, *, now: int, batches: int = 10) -> int:
    """Take the envelopes of erased contributions off IPFS; the number released.

    Each batch holding one is pinned again without it (the survivors' bytes, read locally, in one
    request: a new directory and a new root) and then its old root is unpinned. Objects pinned on
    their own (before batch directories) are unpinned. Up to ``batches`` batches per call.
    The order (pin the new root, unpin the old, then record both) makes a crash harmless: the
    next call rebuilds the same new root from the database and repeats idempotent calls. (Were
    another object of that batch erased in between, the root pinned before the crash would stay
    pinned, and that envelope with it: unreadable, but not reclaimed.)
    """
    rows = session.execute(
        select(StoredObject.cid, StoredObject.pin_root, StoredObject.pinned_at)
        .where(StoredObject.released_at.is_(None), StoredObject.cid.in_(_erased()))
    ).all()
    by_root: dict[str, list[str]] = {}
    released: list[str] = []
    for cid, root, pinned_at in rows:
        if pinned_at is None:
            released.append(cid)  # never reached the node (pin_due skips it now)
        elif root is None:
            pinner.unpin(cid)
            released.append(cid)
        elif len(by_root) < batches or root in by_root:
            by_root.setdefault(root, []).append(cid)
    moves: list[tuple[list[str], str]] = []
    for root, gone in by_root.items():
        survivors = list(session.scalars(
            select(StoredObject.cid).where(StoredObject.pin_root == root, StoredObject.cid.not_in(gone))
            .order_by(StoredObject.created_at)
        ))
        if survivors:
            pinned = pinner.pin_many([local.get(cid) for cid in survivors])
            moves += [(list(batch.cids), batch.root) for batch in pinned]
        pinner.unpin(root)
        released += gone
    for cids, root in moves:
        session.execute(update(StoredObject).where(StoredObject.cid.in_(cids)).values(pin_root=root))
    if released:
        session.execute(update(StoredObject).where(StoredObject.cid.in_(released))
                        .values(pinned_at=None, pin_root=None, released_at=now))
        log.info("released %d erased objects from IPFS", len(released))
    return len(released)


def unpinned_for_epoch(session: Session, number: int, manifest_cid: str) -> int:
    """How many of an epoch's objects (its contributions and its manifest) are not pinned yet;
    erased contributions do not count (their envelopes are not pinned any more)."""
    cids = select(Contribution.cid).where(Contribution.epoch == number, Contribution.erased_at.is_(None))
    return int(session.scalar(
        select(func.count()).select_from(StoredObject)
        .where(StoredObject.pinned_at.is_(None),
               (StoredObject.cid == manifest_cid) | StoredObject.cid.in_(cids))
    ) or 0)


def storage_state(session: Session, cids: Sequence[str]) -> dict[str, str]:
    """``pinned`` or ``local`` for each CID."""
    pinned = set(session.scalars(select(StoredObject.cid).where(
        StoredObject.cid.in_(list(cids)), StoredObject.pinned_at.is_not(None))))
    return {cid: "pinned" if cid in pinned else "local" for cid in cids}


class SharedStore:
    """A ``ContentStore`` every host of a deployment reads alike (docs/architecture.md, "Several
    hosts").

    ``get`` tries this host's ``cache`` (a ``LocalBlockStore``), then the bytes in the shared
    database, then the ``shared`` blockstore directory, then the IPFS node, each answer checked
    against its CID; what came from elsewhere is kept in the cache. The node is asked only for
    objects the database records as pinned, so an unknown CID never waits on its timeout.
    ``remote`` makes one node client per thread (``IpfsStore`` is not thread-safe). ``put``
    writes the cache only: an object's durability is its ``stored_objects`` row.
    """

    def __init__(self, cache: ContentStore, sessions: sessionmaker[Session], *,
                 shared: ContentStore | None = None, remote: Callable[[], ContentStore] | None = None) -> None:
        self.local = cache
        self.sessions = sessions
        self.shared = shared
        self._remote = remote
        self._clients = threading.local()

    def _node(self) -> ContentStore | None:
        if self._remote is None:
            return None
        client: ContentStore | None = getattr(self._clients, "node", None)
        if client is None:
            client = self._clients.node = self._remote()
        return client

    def put(self, data: bytes) -> str:
        return self.local.put(data)

    def put_file(self, handle: ReadableFile) -> str:
        return put_file(self.local, handle)

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        return self.local.put_many(items)

    def probe(self) -> None:
        """Write and read back the empty block: the local blockstore works (for readiness)."""
        self.local.get(self.local.put(b""))

    def _cache(self, data: bytes) -> None:
        try:
            self.local.put(data)
        except (ContentError, OSError) as exc:  # a full or read-only cache only costs speed
            log.warning("cannot keep an object in the local cache (%s)", exc)

    def _elsewhere(self, cid: str) -> bytes:
        with self.sessions() as session:
            row = session.execute(select(StoredObject.data, StoredObject.pinned_at)
                                  .where(StoredObject.cid == cid)).first()
        if row is None:
            raise ContentNotFoundError(cid, "not stored here")
        data, pinned_at = row
        if data is not None:
            if cid_of(data) != cid:
                raise ContentCorruptedError(cid, "committed bytes do not hash to their CID")
            return bytes(data)
        if self.shared is not None:
            try:
                return self.shared.get(cid)
            except ContentNotFoundError:
                pass
        node = self._node() if pinned_at is not None else None
        if node is None:
            raise ContentNotFoundError(cid, "not in the database, the shared blockstore or a pinned batch")
        data = node.get(cid)  # IpfsStore checks every block against its CID
        if cid_of(data) != cid:
            raise ContentCorruptedError(cid, "the IPFS node answered bytes of another CID")
        return data

    def get(self, cid: str) -> bytes:
        try:
            return self.local.get(cid)
        except (ContentNotFoundError, ContentCorruptedError):  # a damaged cached copy is replaced
            data = self._elsewhere(cid)
        self._cache(data)
        return data

    def get_block(self, cid: str) -> bytes:
        try:
            return self.local.get_block(cid)
        except (ContentNotFoundError, ContentCorruptedError):
            pass
        try:
            data = self.get(cid)  # an object's root block: the whole object, now in the cache
        except ContentNotFoundError:
            if self.shared is None:
                raise
            return self.shared.get_block(cid)  # an inner block of a large object
        return dict(dag_blocks(data))[cid]

    def has(self, cid: str) -> bool:
        if self.local.has(cid):
            return True
        try:
            self.get(cid)
            return True
        except ContentError:
            return False

    def export_car(self, cids: Sequence[str]) -> bytes:
        try:
            return self.local.export_car(cids)
        except (ContentNotFoundError, ContentCorruptedError):
            blocks: list[tuple[Cid, bytes]] = []
            seen: set[str] = set()
            for root in cids:
                for cid, block in dag_blocks(self.get(root)):
                    if cid not in seen:
                        seen.add(cid)
                        blocks.append((parse_cid(cid), block))
            return encode_car([parse_cid(c) for c in cids], blocks)


class OutboxStore(SharedStore):
    """Intake's content store: it writes no file on the request path.

    ``put`` only names the bytes (their CID); intake commits the bytes themselves in
    ``stored_objects``, in the transaction that acknowledges the contribution, and ``harden``
    writes the blocks out in batches moments later. Reads are a ``SharedStore``'s.
    """

    def put(self, data: bytes) -> str:
        return cid_of(data)

    def put_file(self, handle: ReadableFile) -> str:
        return str(stream_file_dag(handle, lambda _cid, _block: None))

    def put_many(self, items: Sequence[bytes]) -> list[str]:
        return [cid_of(data) for data in items]
