"""Migration 0015 drops version 1's near-duplicate signatures and bands and leaves every
contribution for the backfill to re-sign, on both databases: the old column and table are gone
(a replica on the old code fails on them rather than mixing), the new ones are empty."""

from __future__ import annotations

import sqlalchemy as sa

from ledger.db import make_engine
from ledger.migrate import upgrade

OLD = """
INSERT INTO contributions (id, content_hash, contributor, nonce, issued_at, terms_hash, signature, cid, size,
    model, message_count, points, score, scorer_version, accepted_at, receipt_signature, encrypted,
    near_duplicate_signature)
VALUES (1, :hash, :contributor, '1', 0, :zero, :zero, 'bafkrei', 10, NULL, 2, 10, '{}', 'quality-v1', 0, :zero,
    false, :old)
"""


def test_the_migration_leaves_every_contribution_unsigned_under_the_new_names(db_url: str) -> None:
    upgrade(db_url, "0014")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(OLD), {"hash": bytes(32), "contributor": "0x" + "aa" * 20, "zero": b"\0",
                                    "old": bytes(range(256))})
        conn.execute(sa.text("INSERT INTO near_duplicate_bands (key, contribution_id) VALUES (7, 1), (8, 1)"))
    upgrade(db_url)
    inspector = sa.inspect(engine)
    assert "near_duplicate_bands" not in inspector.get_table_names()
    columns = {c["name"] for c in inspector.get_columns("contributions")}
    assert "near_duplicate_signature" not in columns and "near_duplicate_sketch" in columns
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id, near_duplicate_sketch FROM contributions")).all() == [(1, None)]
        assert conn.execute(sa.text("SELECT count(*) FROM near_duplicate_keys")).scalar() == 0
    engine.dispose()
