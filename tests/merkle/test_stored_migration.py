"""Migration 0007 re-tiles stored logs (256-hash tiles to 128) and back, on both databases.

The expected rows of either layout are written from :class:`MemoryLog` alone (tile ``(t, N)``
holds the hashes of tree level ``h * t`` from node ``N << h`` on), not from the migration's code.
"""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from ledger.db import make_engine
from ledger.merkle import _compact, log
from ledger.merkle.memory import MemoryLog
from ledger.merkle.stored import StoredLog
from ledger.migrate import alembic_config, upgrade

SIZES = {"contributions": 70_001, "other": 300, "empty": 0}
EPOCH_SIZES = [1, 255, 256, 40_000, 70_001]  # the last one is also the current size


def _tiles(memory: MemoryLog, log_id: int, height: int) -> set[tuple[int, int, int, bytes]]:
    rows = set()
    t = 0
    while memory.size() >> (height * t):
        level = b"".join(memory.node(height * t, i) for i in range(memory.size() >> (height * t)))
        width = 32 << height
        for number, j in enumerate(range(0, len(level), width)):
            rows.add((log_id, t, number, level[j : j + width]))
        t += 1
    return rows


def _rows(conn: sa.Connection) -> set[tuple[int, int, int, bytes]]:
    found = conn.execute(sa.text("SELECT log_id, level, number, hashes FROM merkle_log_tile"))
    return {(r[0], r[1], r[2], bytes(r[3])) for r in found}


def _epoch(number: int, log_size: int) -> dict[str, object]:
    return {"number": number, "state": "final", "sealed_at": 0, "first_index": 0, "log_size": log_size,
            "log_root": bytes(32), "balances_root": bytes(32), "total_points": 0, "accounts": 0,
            "contributions": 0, "journal_entries": 0, "manifest_cid": "x", "chain_id": 1,
            "contract": "0x" + "00" * 20}


def test_the_migration_retiles_every_log_and_stores_the_ranges_then_undoes_it(db_url: str) -> None:
    rng = random.Random(7)
    memories = {name: MemoryLog([rng.randbytes(32) for _ in range(size)]) for name, size in SIZES.items()}
    upgrade(db_url, "0006")
    engine = make_engine(db_url)
    ids: dict[str, int] = {}
    with engine.begin() as conn:
        for name, memory in memories.items():
            ids[name] = conn.execute(
                sa.text("INSERT INTO merkle_log (name, size, root) VALUES (:n, :s, :r) RETURNING id"),
                {"n": name, "s": memory.size(), "r": memory.root()},
            ).scalar_one()
        old = set().union(*(_tiles(memories[name], ids[name], 8) for name in SIZES))
        conn.execute(
            sa.text("INSERT INTO merkle_log_tile (log_id, level, number, hashes) VALUES (:i, :l, :n, :h)"),
            [{"i": i, "l": t, "n": n, "h": h} for i, t, n, h in sorted(old)],
        )
        epochs = sa.table("epochs", *(sa.column(c) for c in _epoch(0, 0)))
        conn.execute(sa.insert(epochs), [_epoch(k + 1, s) for k, s in enumerate(EPOCH_SIZES)])

    upgrade(db_url)
    with engine.connect() as conn:
        assert _rows(conn) == set().union(*(_tiles(memories[name], ids[name], 7) for name in SIZES))
        ranges = {(r[0], r[1]): bytes(r[2]) for r in conn.execute(
            sa.text("SELECT log_id, size, hashes FROM merkle_log_range"))}
        if engine.dialect.name == "postgresql":  # tiles stay in their row (no TOAST)
            storage = conn.execute(sa.text(
                "SELECT attstorage FROM pg_attribute WHERE attrelid = 'merkle_log_tile'::regclass "
                "AND attname = 'hashes'")).scalar_one()
            assert storage == "p"
    contributions = memories["contributions"]
    expected = {(ids["contributions"], s) for s in EPOCH_SIZES} | {(ids["other"], 300)}
    assert set(ranges) == expected
    for (log_id, size), hashes in ranges.items():
        memory = contributions if log_id == ids["contributions"] else memories["other"]
        assert hashes == b"".join(memory.node(*n) for n in _compact.range_nodes(0, size))

    with Session(engine) as session:  # the new code reads the migrated tiles and ranges
        stored = StoredLog(session)
        for size in [*EPOCH_SIZES, 129, 16_385]:
            assert stored.root(size) == contributions.root(size)
            for i in {0, size - 1, rng.randrange(size)}:
                proof = stored.inclusion_proof(i, size)
                assert proof == contributions.inclusion_proof(i, size)
                log.verify_inclusion(contributions.leaf_hash(i), i, size, proof, contributions.root(size))
            first = rng.randint(1, size)
            assert stored.consistency_proof(first, size) == contributions.consistency_proof(first, size)
        more = [rng.randbytes(32) for _ in range(1000)]
        assert stored.append(more) == contributions.append(more)
        session.rollback()

    command.downgrade(alembic_config(db_url), "0006")
    with engine.connect() as conn:
        assert _rows(conn) == old
        assert not sa.inspect(conn).has_table("merkle_log_range")
    engine.dispose()


def test_a_log_whose_tiles_do_not_give_its_root_is_not_migrated(sqlite_url: str) -> None:
    memory = MemoryLog([random.Random(8).randbytes(32) for _ in range(1000)])
    upgrade(sqlite_url, "0006")
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO merkle_log (id, name, size, root) VALUES (1, 'contributions', 1000, :r)"),
                     {"r": memory.root()})
        rows = sorted(_tiles(memory, 1, 8))
        # One leaf hash changed: the tiles are well formed but describe another tree.
        _, t, n, h = rows[0]
        rows[0] = (1, t, n, bytes(32) + h[32:])
        conn.execute(
            sa.text("INSERT INTO merkle_log_tile (log_id, level, number, hashes) VALUES (:i, :l, :n, :h)"),
            [{"i": i, "l": t, "n": n, "h": h} for i, t, n, h in rows],
        )
    with pytest.raises(RuntimeError, match="do not give the root"):
        upgrade(sqlite_url)
    engine.dispose()
