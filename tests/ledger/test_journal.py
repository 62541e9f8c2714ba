"""The points journal: double-entry, append-only, balances as sums."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from ledger import journal
from ledger.db import make_engine, make_sessionmaker
from ledger.migrate import upgrade
from ledger.models import JournalEntry

ALICE = "0x5cB0154E96eB37dcF5B4ADc16c44763477FA06E9"
BOB = "0xf871d7a4d0B8D0dC63A03d31dA247b213Bd51144"


def test_transfers_are_two_entries_summing_to_zero(db_url: str) -> None:
    upgrade(db_url)
    sessions = make_sessionmaker(make_engine(db_url))
    with sessions() as session, session.begin():
        journal.accrue_many(session, [(ALICE, 30, "contribution:1", None)], created_at=1)
        journal.accrue_many(session, [(BOB, 12, "contribution:2", None)], created_at=2)
        journal.post_transfer(session, debit=ALICE, credit=journal.REWARDS_POOL, amount=5,
                              kind=journal.CLAWBACK, ref="admin:spam", created_at=3)
        journal.accrue_many(session, [(BOB, 0, "contribution:3", None)], created_at=4)  # writes nothing
    with sessions() as session:
        assert journal.journal_sum(session) == 0
        assert journal.balance_of(session, ALICE).balance == 25
        assert journal.balance_of(session, BOB).balance == 12
        assert journal.balance_of(session, journal.REWARDS_POOL).balance == -37
        assert session.scalar(select(func.count()).select_from(JournalEntry)) == 6
        per_transfer = session.execute(
            select(JournalEntry.transfer_id, func.sum(JournalEntry.amount)).group_by(JournalEntry.transfer_id)
        ).all()
        assert len(per_transfer) == 3 and all(total == 0 for _, total in per_transfer)
        history = journal.history(session, ALICE)
        assert [(e.amount, e.kind) for e in history] == [(30, "accrual"), (-5, "clawback")]
        assert journal.history(session, ALICE, after=history[0].id) == history[1:]


def test_a_batch_of_accruals_is_one_transfer_each_from_the_pool(db_url: str) -> None:
    upgrade(db_url)
    sessions = make_sessionmaker(make_engine(db_url))
    accruals = [(ALICE, 7, "usage:r1", None), (BOB, 0, "usage:r1", None), (BOB, 3, "usage:r1", None)]
    with sessions() as session, session.begin():
        journal.accrue_many(session, accruals, created_at=9, kind=journal.USAGE)
    with sessions() as session:
        rows = session.execute(
            select(JournalEntry.transfer_id, JournalEntry.account, JournalEntry.amount, JournalEntry.kind)
            .order_by(JournalEntry.id)
        ).all()
    assert [(account, amount, kind) for _, account, amount, kind in rows] == [
        (journal.REWARDS_POOL, -7, "usage"), (ALICE, 7, "usage"),
        (journal.REWARDS_POOL, -3, "usage"), (BOB, 3, "usage"),
    ]
    # Each transfer's two legs share its id, and each accrual has its own transfer.
    assert rows[0][0] == rows[1][0] != rows[2][0] == rows[3][0]


def test_a_batch_with_an_unknown_kind_is_refused(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    sessions = make_sessionmaker(make_engine(sqlite_url))
    with sessions() as session, pytest.raises(journal.JournalError):
        journal.accrue_many(session, [(ALICE, 1, "x", None)], created_at=1, kind="gift")


@pytest.mark.parametrize(
    ("debit", "credit", "amount", "kind"),
    [(ALICE, BOB, 0, "grant"), (ALICE, BOB, -3, "grant"), (ALICE, ALICE, 3, "grant"), (ALICE, BOB, 3, "gift")],
)
def test_bad_transfers_are_refused(sqlite_url: str, debit: str, credit: str, amount: int, kind: str) -> None:
    upgrade(sqlite_url)
    sessions = make_sessionmaker(make_engine(sqlite_url))
    with sessions() as session, pytest.raises(journal.JournalError):
        journal.post_transfer(session, debit=debit, credit=credit, amount=amount, kind=kind, ref="x",
                              created_at=1)
