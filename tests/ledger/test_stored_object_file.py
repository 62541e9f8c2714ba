"""An object recorded from a file (``outbox.add_object_file``: one streamed binary COPY on
PostgreSQL, a zero blob written in place on SQLite) is the row an INSERT of its bytes makes, read
back alike by the outbox and the shared store."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from ledger.content import LocalBlockStore, cid_of
from ledger.db import make_engine, make_sessionmaker
from ledger.migrate import upgrade
from ledger.models import StoredObject
from ledger.outbox import COPY_SIZE, SharedStore, add_object_file, harden

# Over two COPY writes and not a multiple of one, every byte value, a NUL and a backslash included.
DATA = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range((2 * COPY_SIZE + 12345) // 32 + 1))


def _columns(row: StoredObject) -> tuple[object, ...]:
    return (row.cid, row.kind, row.size, bytes(row.data or b""), row.created_at, row.durable_at, row.pinned_at,
            row.pin_root, row.released_at, row.pin_attempts, row.next_pin_at, row.last_error)


def test_a_row_written_from_a_file_is_the_row_of_its_bytes(db_url: str, tmp_path: Path) -> None:
    upgrade(db_url)
    sessions = make_sessionmaker(make_engine(db_url))
    written, inserted = DATA, DATA[:-7] + b"\\\x00abc\x00\x01\xff"
    with sessions() as session, session.begin():
        add_object_file(session, cid=cid_of(written), kind="manifest", handle=io.BytesIO(written),
                        size=len(written), now=1_700_000_000)
        session.add(StoredObject(cid=cid_of(inserted), kind="manifest", size=len(inserted), data=inserted,
                                 created_at=1_700_000_000, durable_at=None, pin_attempts=0,
                                 next_pin_at=1_700_000_000))
    with sessions() as session:
        rows = {row.cid: _columns(row) for row in session.scalars(select(StoredObject))}
    assert rows[cid_of(written)][3] == written
    assert rows[cid_of(written)][:3] == (cid_of(written), "manifest", len(written))
    assert rows[cid_of(written)][4:] == rows[cid_of(inserted)][4:]  # the same state as an INSERT's

    # The outbox writes it out, and another host's shared store serves it from the database.
    with sessions() as session, session.begin():
        assert harden(session, LocalBlockStore(tmp_path / "cache", fsync=False), now=1_700_000_001) == 2
    assert SharedStore(LocalBlockStore(tmp_path / "other", fsync=False), sessions).get(cid_of(written)) == written


def test_an_empty_object_is_an_empty_row(db_url: str) -> None:
    upgrade(db_url)
    sessions = make_sessionmaker(make_engine(db_url))
    with sessions() as session, session.begin():
        add_object_file(session, cid=cid_of(b""), kind="manifest", handle=io.BytesIO(b""), size=0, now=5)
    with sessions() as session:
        row = session.get(StoredObject, cid_of(b""))
        assert row is not None and row.size == 0 and row.data is not None and bytes(row.data) == b""


def test_a_file_shorter_than_announced_records_nothing(db_url: str) -> None:
    upgrade(db_url)
    sessions = make_sessionmaker(make_engine(db_url))
    with pytest.raises(ValueError, match=r"short|announced"), sessions() as session, session.begin():
        add_object_file(session, cid=cid_of(DATA), kind="manifest", handle=io.BytesIO(DATA[:-1]),
                        size=len(DATA), now=1)
    with sessions() as session:
        assert session.scalar(select(StoredObject.cid)) is None
