"""Migration 0008 fills the kept balances from the sealed journal, on both databases: each
account's balance is the sum of its sealed entries (pending ones wait for their seal), with the
last epoch that changed it."""

from __future__ import annotations

import sqlalchemy as sa

from ledger.db import make_engine
from ledger.migrate import upgrade

A, B = "0x" + "aa" * 20, "0x" + "bb" * 20
POOL = "pool:rewards"


def test_the_migration_fills_every_sealed_balance(db_url: str) -> None:
    upgrade(db_url, "0007")
    engine = make_engine(db_url)
    legs = [(1, A, 10, 1), (1, POOL, -10, 1), (2, B, 7, 1), (2, POOL, -7, 1), (3, A, -4, 2), (3, POOL, 4, 2),
            (4, B, 5, None), (4, POOL, -5, None)]  # transfer 4 is not sealed yet
    with engine.begin() as conn:
        for transfer in sorted({leg[0] for leg in legs}):
            conn.execute(sa.text("INSERT INTO journal_transfers (id, kind, ref, created_at) "
                                 "VALUES (:id, 'grant', :ref, 0)"), {"id": transfer, "ref": f"t{transfer}"})
        for transfer, account, amount, epoch in legs:
            conn.execute(sa.text("INSERT INTO journal_entries (transfer_id, account, amount, kind, ref, created_at, "
                                 "epoch) VALUES (:t, :a, :m, 'grant', :r, 0, :e)"),
                         {"t": transfer, "a": account, "m": amount, "r": f"t{transfer}", "e": epoch})
    upgrade(db_url)
    with engine.connect() as conn:
        kept = {row[0]: (row[1], row[2]) for row in conn.execute(
            sa.text("SELECT account, balance, epoch FROM account_balances"))}
    assert kept == {A: (6, 2), B: (7, 1), POOL: (-13, 2)}
    engine.dispose()
