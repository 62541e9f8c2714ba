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
        journal.accrue(session, account=ALICE, points=30, ref="contribution:1", created_at=1)
        journal.accrue(session, account=BOB, points=12, ref="contribution:2", created_at=2)
        journal.post_transfer(session, debit=ALICE, credit=journal.REWARDS_POOL, amount=5,
                              kind=journal.CLAWBACK, ref="admin:spam", created_at=3)
        assert journal.accrue(session, account=BOB, points=0, ref="contribution:3", created_at=4) is None
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
