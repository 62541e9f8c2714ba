"""The log stored as tiles, on SQLite and PostgreSQL, against the in-memory log."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.db import Base, make_engine
from ledger.merkle import _compact, errors, log
from ledger.merkle.memory import MemoryLog
from ledger.merkle.stored import PROOFS_AT_ONCE, TILE_WIDTH, MerkleLogHead, MerkleLogRange, MerkleLogTile, StoredLog


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    tables = [MerkleLogHead.__table__, MerkleLogTile.__table__, MerkleLogRange.__table__]
    Base.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
    yield engine
    engine.dispose()


def _leaves(rng: random.Random, k: int) -> list[bytes]:
    return [rng.randbytes(32) for _ in range(k)]


def _tile_rows(size: int) -> int:
    """Tiles a log of ``size`` leaves has: ceil(hashes / 128) for levels 0, 7, 14, ..."""
    rows, hashes = 0, size
    while hashes:
        rows += -(-hashes // TILE_WIDTH)
        hashes //= TILE_WIDTH
    return rows


# Batches that start, fill and overflow tiles at tree levels 0, 7 and 14.
BATCHES = [1, 1, 3, 122, 1, 128, 256, 1, 700, 5000, 58811, 1, 70000, 2, 514]


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
        assert n == sum(BATCHES) == 135_541
        assert session.scalar(sa.select(sa.func.count()).select_from(MerkleLogTile)) == _tile_rows(n)
        root = stored.root()
        assert root == memory.root()
        appended = list(itertools.accumulate(BATCHES))
        edges = [127, 128, 129, 16383, 16384, 16385, 65536, n - 1]
        for size in [*appended, *edges, *rng.sample(range(1, n), 20)]:
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


def _selects(engine: sa.Engine) -> list[str]:
    """Every SELECT the engine runs from now on (not SQLite's BEGIN IMMEDIATE)."""
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: a[2].startswith("SELECT") and seen.append(a[2]))
    return seen


def test_every_append_stores_its_compact_range_and_proofs_there_read_two_statements(engine: sa.Engine) -> None:
    rng = random.Random(6)
    memory = MemoryLog()
    sizes = []
    with Session(engine) as session:
        stored = StoredLog(session)
        for k in (5, 300, 16_000, 1, 7_000):
            batch = _leaves(rng, k)
            stored.append(batch)
            memory.append(batch)
            sizes.append(memory.size())
        session.commit()
        query = sa.select(MerkleLogRange.size, MerkleLogRange.hashes)
        ranges = {size: hashes for size, hashes in session.execute(query)}
    assert sorted(ranges) == sizes
    for size, hashes in ranges.items():
        assert hashes == b"".join(memory.node(*node) for node in _compact.range_nodes(0, size))

    seen = _selects(engine)
    with Session(engine) as session:
        stored = StoredLog(session)
        for size in sizes:
            for i in {0, size - 1, rng.randrange(size)}:
                del seen[:]
                proof = stored.inclusion_proof(i, size)
                # The head and the range in one query, the tiles on the path (if any) in another.
                assert len(seen) <= 2, seen
                assert proof == memory.inclusion_proof(i, size)
            first = rng.randint(1, size)
            assert stored.consistency_proof(first, size) == memory.consistency_proof(first, size)
            assert stored.root(size) == memory.root(size)
        # A size no append ended at has no stored range: its proofs come from tiles alone.
        i, size = 17, sizes[2] - 3
        assert stored.inclusion_proof(i, size) == memory.inclusion_proof(i, size)


def test_many_inclusion_proofs_are_read_together_and_equal_one_at_a_time(engine: sa.Engine) -> None:
    rng = random.Random(7)
    memory = MemoryLog()
    with Session(engine) as session:
        stored = StoredLog(session)
        for k in (40_000, 3):  # three tile levels; the size 40,003 is one an append ended at
            batch = _leaves(rng, k)
            stored.append(batch)
            memory.append(batch)
        session.commit()
    size = memory.size()
    indexes = [*sorted(rng.sample(range(size), 250)), 0, size - 1, 5, 5]  # more than one query's worth
    seen = _selects(engine)
    with Session(engine) as session:
        stored = StoredLog(session)
        proofs = stored.inclusion_proofs(indexes, size)
        assert len(seen) == -(-len(indexes) // PROOFS_AT_ONCE) + 1, seen  # and once, the upper tiles to keep
        assert proofs == [memory.inclusion_proof(i, size) for i in indexes]
        assert proofs == [stored.inclusion_proof(i, size) for i in indexes]
        assert stored.inclusion_proofs([], size) == []
        for bad in ([size], [0, -1]):
            with pytest.raises(ValueError):
                stored.inclusion_proofs(bad, size)


def test_a_rolled_back_append_leaves_no_range(engine: sa.Engine) -> None:
    rng = random.Random(9)
    with Session(engine) as session:
        StoredLog(session).append(_leaves(rng, 200))
        session.commit()
        StoredLog(session).append(_leaves(rng, 50))
        session.rollback()
        assert session.scalars(sa.select(MerkleLogRange.size)).all() == [200]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda h: h[:-32], id="one hash short"),
        pytest.param(lambda h: h + bytes(32), id="one hash too many"),
        pytest.param(lambda h: bytes(32) + h[32:], id="first subtree replaced"),
        pytest.param(lambda h: h[32:] + h[:32], id="subtrees out of order"),
    ],
)
def test_a_damaged_range_is_never_turned_into_a_proof_that_verifies(engine: sa.Engine, damage: Any) -> None:
    rng = random.Random(10)
    leaves = _leaves(rng, 1000)  # 1000 = 512 + 256 + 128 + 64 + 32 + 8: six subtrees
    memory = MemoryLog(leaves)
    with Session(engine) as session:
        root = StoredLog(session).append(leaves)
        session.execute(
            sa.update(MerkleLogRange).values(hashes=damage(session.scalars(sa.select(MerkleLogRange.hashes)).one()))
        )
        stored = StoredLog(session)
        wrong = 0
        for i in range(0, 1000, 37):
            try:
                proof = stored.inclusion_proof(i)
            except LookupError:
                wrong += 1  # a range of the wrong length is refused outright
                continue
            if proof != memory.inclusion_proof(i):  # a proof that does not use the damaged hashes is right
                wrong += 1
                with pytest.raises(errors.ProofError):
                    log.verify_inclusion(leaves[i], i, 1000, proof, root)
        assert wrong


def test_tiles_stay_in_their_row_on_postgresql(engine: sa.Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TOAST")
    with Session(engine) as session:
        StoredLog(session).append(_leaves(random.Random(11), 3 * TILE_WIDTH))
        session.commit()
        storage = session.scalar(sa.text(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = 'merkle_log_tile'::regclass AND attname = 'hashes'"))
        # A full tile's row is read from its heap page alone: nothing of it went to the TOAST table.
        toasted = session.scalar(sa.text(
            "SELECT count(*) FROM merkle_log_tile WHERE pg_column_size(hashes) < length(hashes)"))
    assert storage == "p" and toasted == 0


def test_upper_tiles_kept_in_the_process_follow_a_rolled_back_append(engine: sa.Engine) -> None:
    """Proofs at a size keep that size's upper tiles in the process; after a rolled-back append
    the same size holds other leaves, and its proofs are those of the new leaves."""
    from ledger.merkle.stored import UPPER_TILES

    UPPER_TILES.clear()
    asked: list[dict[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if "merkle_log_tile" in statement:
            asked.extend(context.compiled_parameters)

    sa.event.listen(engine, "before_cursor_execute", record)
    rng = random.Random(11)
    first, gone, second = _leaves(rng, 20_000), _leaves(rng, 20_000), _leaves(rng, 20_000)
    size = 40_000
    with Session(engine) as session:
        StoredLog(session).append(first)
        session.commit()
    with Session(engine) as session:
        stored = StoredLog(session)
        stored.append(gone)
        expected = MemoryLog()
        expected.append(first + gone)
        assert stored.inclusion_proof(33_000, size) == expected.inclusion_proof(33_000, size)
        asked.clear()
        for i in (5, 17_000, 39_999):
            assert stored.inclusion_proof(i, size) == expected.inclusion_proof(i, size)
        # Only leaf tiles were read: the upper ones (levels 7 and 14) came from the process.
        levels = [v for params in asked for k, v in params.items() if k.startswith("l") and k[1:].isdigit()]
        assert levels and set(levels) == {0}
        session.rollback()
    with Session(engine) as session:
        stored = StoredLog(session)
        stored.append(second)
        session.commit()
        memory = MemoryLog()
        memory.append(first + second)
        for i in (5, 17_000, 33_000, 39_999):
            assert stored.inclusion_proof(i, size) == memory.inclusion_proof(i, size)
    sa.event.remove(engine, "before_cursor_execute", record)
