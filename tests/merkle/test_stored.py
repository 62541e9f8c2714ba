"""The log stored as tiles, on SQLite and PostgreSQL, against the in-memory log."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.db import Base, make_engine
from ledger.merkle import errors, log
from ledger.merkle.memory import MemoryLog
from ledger.merkle.stored import TILE_WIDTH, MerkleLogHead, MerkleLogTile, StoredLog


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    Base.metadata.create_all(engine, tables=[MerkleLogHead.__table__, MerkleLogTile.__table__])  # type: ignore[list-item]
    yield engine
    engine.dispose()


def _leaves(rng: random.Random, k: int) -> list[bytes]:
    return [rng.randbytes(32) for _ in range(k)]


def _tile_rows(size: int) -> int:
    """Tiles a log of ``size`` leaves has: ceil(hashes / 256) for levels 0, 8, 16, ..."""
    rows, hashes = 0, size
    while hashes:
        rows += -(-hashes // TILE_WIDTH)
        hashes //= TILE_WIDTH
    return rows


# Batches that start, fill and overflow tiles at tree levels 0, 8 and 16.
BATCHES = [1, 1, 3, 250, 1, 256, 512, 1, 700, 5000, 58811, 1, 70000, 2]


def test_appends_match_the_memory_log_and_proofs_verify(engine: sa.Engine) -> None:
    rng = random.Random(1)
    memory = MemoryLog()
    with Session(engine) as session:
        stored = StoredLog(session)
        assert stored.size() == 0 and stored.root() == log.EMPTY_ROOT
        for k in BATCHES:
            batch = _leaves(rng, k)
            assert stored.append(batch) == memory.append(batch)
            assert stored.size() == memory.size()
        session.commit()

    with Session(engine) as session:
        stored = StoredLog(session)
        n = stored.size()
        assert n == sum(BATCHES) == 135_539
        assert session.scalar(sa.select(sa.func.count()).select_from(MerkleLogTile)) == _tile_rows(n)
        root = stored.root()
        assert root == memory.root()
        for size in [1, 255, 256, 257, 65535, 65536, 65537, n - 1, *rng.sample(range(1, n), 20)]:
            assert stored.root(size) == memory.root(size)
            for i in {0, size - 1, rng.randrange(size)}:
                proof = stored.inclusion_proof(i, size)
                assert proof == memory.inclusion_proof(i, size)
                log.verify_inclusion(memory.leaf_hash(i), i, size, proof, memory.root(size))
            for first in {0, 1, size, rng.randint(1, size)}:
                proof = stored.consistency_proof(first, size)
                assert proof == memory.consistency_proof(first, size)
                log.verify_consistency(first, size, memory.root(first), memory.root(size), proof)
        i = rng.randrange(n)
        log.verify_inclusion(stored.leaf_hash(i), i, n, stored.inclusion_proof(i), root)
        log.verify_consistency(100, n, stored.root(100), root, stored.consistency_proof(100))
        assert stored.leaf_hashes(250, 1300) == [memory.leaf_hash(j) for j in range(250, 1300)]
        assert stored.leaf_hashes(n - 3) == [memory.leaf_hash(j) for j in range(n - 3, n)]


def test_nothing_is_committed_by_the_log(engine: sa.Engine) -> None:
    rng = random.Random(2)
    first, second = _leaves(rng, 300), _leaves(rng, 40)
    with Session(engine) as session:
        root = StoredLog(session).append(first)
        session.commit()
    with Session(engine) as session:
        stored = StoredLog(session)
        stored.append(second)
        assert stored.size() == 340
        session.rollback()
        # (Another session only now: SQLite's BEGIN IMMEDIATE lets one transaction at a time.)
        with Session(engine) as other:
            assert StoredLog(other).size() == 300
        assert stored.size() == 300 and stored.root() == root
        # The rolled-back leaves left no trace: appending other ones gives their tree.
        third = _leaves(rng, 40)
        assert stored.append(third) == log.root(first + third)


def test_logs_are_independent_by_name(engine: sa.Engine) -> None:
    rng = random.Random(3)
    a, b = _leaves(rng, 700), _leaves(rng, 5)
    with Session(engine) as session:
        StoredLog(session, "a").append(a)
        StoredLog(session, "b").append(b)
        assert StoredLog(session, "a").root() == log.root(a)
        assert StoredLog(session, "b").root() == log.root(b)
        assert StoredLog(session, "b").inclusion_proof(4) == log.inclusion_proof(b, 4, 5)
        assert StoredLog(session, "c").size() == 0


def test_a_concurrent_append_is_refused(engine: sa.Engine) -> None:
    class Stale(StoredLog):
        """Reads the head as it was before someone else's append."""

        def _head(self, *, for_update: bool = False) -> tuple[int, int, bytes] | None:
            head = super()._head(for_update=for_update)
            assert head is not None
            return head[0], 10, log.root(first[:10])

    rng = random.Random(4)
    first = _leaves(rng, 20)
    with Session(engine) as session:
        StoredLog(session).append(first)
        with pytest.raises(errors.ConcurrentAppendError):
            Stale(session).append(_leaves(rng, 3))


def test_bad_requests_are_refused(engine: sa.Engine) -> None:
    rng = random.Random(5)
    with Session(engine) as session:
        stored = StoredLog(session)
        with pytest.raises(ValueError):
            stored.append([b"x" * 31])
        assert stored.size() == 0
        stored.append(_leaves(rng, 10))
        assert stored.append([]) == stored.root()
        for call in (
            lambda: stored.inclusion_proof(10),
            lambda: stored.inclusion_proof(0, 11),
            lambda: stored.consistency_proof(5, 11),
            lambda: stored.consistency_proof(6, 5),
            lambda: stored.root(11),
        ):
            with pytest.raises(ValueError):
                call()
        with pytest.raises(IndexError):
            stored.leaf_hash(10)
