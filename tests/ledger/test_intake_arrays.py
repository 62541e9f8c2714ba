"""A batch's rows on PostgreSQL as one statement a table of array parameters
(``ledger.intake_postgresql.insert_as_arrays``) are the rows SQLAlchemy's bulk inserts write
(``ledger.intake.insert_rows``): the same contributions, ids, stored objects, journal and band
keys, and the same refusals of a value the columns cannot hold or of a repeated contentHash."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from ledger.db import make_engine, make_sessionmaker
from ledger.intake import insert_rows
from ledger.intake_postgresql import insert_as_arrays
from ledger.migrate import upgrade
from ledger.models import Contribution
from tests.support import postgres

NOW = 1_760_000_000
TABLES = {"contributions": "id", "stored_objects": "cid", "journal_transfers": "id", "journal_entries": "id",
          "near_duplicate_keys": "key, contribution_id"}

Insert = Callable[[Session, Sequence[tuple[Contribution, bytes, Sequence[int]]], int], None]


def _row(i: int, **overrides: Any) -> Contribution:
    """A contribution of every shape a batch holds: a single consent or a batch item, points or
    none (no accrual), public or sealed, with or without a sketch and a client address."""
    digest = hashlib.sha256(b"row%d" % i).digest()
    fields: dict[str, Any] = dict(
        content_hash=digest, contributor="0x" + f"{i % 3:040x}", nonce=str(10**70 + i), issued_at=NOW - i,
        terms_hash=b"\x07" * 32, signature=bytes([i % 256]) * 65, cid=f"bafy{digest.hex()}", size=100 + i,
        model=None if i % 4 == 0 else "gpt-4", message_count=2 + i, points=0 if i % 5 == 0 else 1000 * i,
        score={"points": 1000 * i, "parts": {"length": i / 7, "nested": [1, "é", None]}, "version": "quality-v2"},
        scorer_version="quality-v2", accepted_at=NOW, receipt_signature=bytes([255 - i % 256]) * 65,
        near_duplicate_sketch=None if i % 3 == 0 else b"\x02" + digest * 16,
        client_address=None if i % 2 else "203.0.113.7",
        batch_root=None if i % 2 == 0 else b"\x09" * 32, batch_count=None if i % 2 == 0 else 7,
        batch_proof=None if i % 2 == 0 else digest * 3,
        wrapped_key=None if i % 3 else b"\x05" * 61, encrypted=i % 3 == 0, erased_at=None)
    fields.update(overrides)
    return Contribution(**fields)


def _items(count: int, **overrides: Any) -> list[tuple[Contribution, bytes, Sequence[int]]]:
    return [(_row(i, **overrides), b"bytes of %d" % i * (i + 1),
             [] if i % 3 == 0 else [i * 100 + k - 2**62 for k in range(16)]) for i in range(count)]


@pytest.fixture
def two_ledgers() -> Iterator[tuple[Callable[[], Session], Callable[[], Session]]]:
    with postgres.temporary_database() as first, postgres.temporary_database() as second:
        engines = []
        for url in (first, second):
            upgrade(url)
            engines.append(make_engine(url))
        try:
            yield make_sessionmaker(engines[0]), make_sessionmaker(engines[1])
        finally:
            for engine in engines:
                engine.dispose()


def _dump(session: Session) -> dict[str, list[Any]]:
    return {table: [tuple(row) for row in session.execute(text(f"SELECT * FROM {table} ORDER BY {order}"))]
            for table, order in TABLES.items()}


def _written(sessions: Callable[[], Session], insert: Insert) -> tuple[list[int], dict[str, list[Any]]]:
    """A batch of 12, then one of 1 (other rows: a second batch's ids follow the first's)."""
    ids: list[int] = []
    with sessions() as session:
        for items in (_items(12), [(_row(1001), b"another", [7, 8])]):
            with session.begin():
                insert(session, items, NOW)
            ids += [row.id for row, _, _ in items]
        return ids, _dump(session)


@pytest.mark.postgres
def test_the_array_statements_write_the_rows_the_bulk_inserts_write(two_ledgers: tuple[Any, Any]) -> None:
    bulk, arrays = two_ledgers
    expected_ids, expected = _written(bulk, insert_rows)
    ids, written = _written(arrays, insert_as_arrays)
    assert ids == expected_ids == list(range(1, 14))
    assert written == expected
    assert len(written["contributions"]) == 13 and len(written["journal_entries"]) == 2 * 10
    assert len(written["near_duplicate_keys"]) == 16 * 8 + 2


@pytest.mark.postgres
@pytest.mark.parametrize("insert", [insert_rows, insert_as_arrays], ids=["bulk", "arrays"])
def test_a_repeated_content_hash_and_a_value_too_long_are_refused_as_before(
        two_ledgers: tuple[Any, Any], insert: Insert) -> None:
    sessions, _ = two_ledgers
    with sessions() as session:
        with session.begin():
            insert(session, _items(3), NOW)
        with pytest.raises(IntegrityError), session.begin():
            insert(session, [(_row(7), b"new", []), (_row(1), b"again", [])], NOW)
        # Too long for VARCHAR(42): refused, not cut to fit.
        with pytest.raises(DataError), session.begin():
            insert(session, [(_row(8, contributor="0x" + "ab" * 30), b"long", [])], NOW)
        with session.begin():
            assert session.scalar(text("SELECT count(*) FROM contributions")) == 3
            assert session.scalar(text("SELECT count(*) FROM stored_objects")) == 3
