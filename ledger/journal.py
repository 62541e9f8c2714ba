"""The points journal: append-only, double-entry.

Every movement of points is a transfer from one account to another, written as two entries
whose amounts sum to zero. Points are created by debiting the rewards pool, an account that
only ever goes negative; the sum of the whole journal is therefore always zero, and a
contributor's balance is the sum of their entries. Nothing here updates or deletes a row.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.models import JournalEntry, JournalTransfer

REWARDS_POOL = "pool:rewards"

ACCRUAL = "accrual"
GRANT = "grant"
USAGE = "usage"
CLAWBACK = "clawback"
KINDS = frozenset({ACCRUAL, GRANT, USAGE, CLAWBACK})


class JournalError(ValueError):
    """A transfer the journal refuses to record."""


@dataclass(frozen=True, slots=True)
class Balance:
    account: str
    balance: int
    pending: int


def post_transfer(
    session: Session,
    *,
    debit: str,
    credit: str,
    amount: int,
    kind: str,
    ref: str,
    created_at: int,
    contribution_id: int | None = None,
) -> JournalTransfer:
    """Move ``amount`` points from ``debit`` to ``credit`` inside the caller's transaction."""
    if kind not in KINDS:
        raise JournalError(f"unknown journal kind {kind!r}")
    if amount <= 0:
        raise JournalError("a transfer moves a positive number of points")
    if debit == credit:
        raise JournalError("a transfer needs two different accounts")
    transfer = JournalTransfer(kind=kind, ref=ref, created_at=created_at, contribution_id=contribution_id)
    session.add(transfer)
    session.flush()
    for account, signed in ((debit, -amount), (credit, amount)):
        session.add(
            JournalEntry(
                transfer_id=transfer.id,
                account=account,
                amount=signed,
                kind=kind,
                ref=ref,
                created_at=created_at,
            )
        )
    return transfer


def accrue(session: Session, *, account: str, points: int, ref: str, created_at: int,
           contribution_id: int | None = None) -> JournalTransfer | None:
    """Credit points earned by a contribution; zero points write nothing."""
    if points == 0:
        return None
    return post_transfer(
        session,
        debit=REWARDS_POOL,
        credit=account,
        amount=points,
        kind=ACCRUAL,
        ref=ref,
        created_at=created_at,
        contribution_id=contribution_id,
    )


def balance_of(session: Session, account: str) -> Balance:
    """The account's balance over every entry, and the part not yet sealed into an epoch."""
    total, pending = session.execute(
        select(
            func.coalesce(func.sum(JournalEntry.amount), 0),
            func.coalesce(
                func.sum(JournalEntry.amount).filter(JournalEntry.epoch.is_(None)), 0
            ),
        ).where(JournalEntry.account == account)
    ).one()
    return Balance(account=account, balance=int(total), pending=int(pending))


def history(
    session: Session, account: str, *, after: int | None = None, limit: int = 50
) -> list[JournalEntry]:
    """The account's entries in the order they were written, ``limit`` at a time after ``after``."""
    query = select(JournalEntry).where(JournalEntry.account == account)
    if after is not None:
        query = query.where(JournalEntry.id > after)
    return list(session.scalars(query.order_by(JournalEntry.id).limit(limit)))


def journal_sum(session: Session) -> int:
    """The sum of every entry ever written: zero, or the journal is broken."""
    return int(session.scalar(select(func.coalesce(func.sum(JournalEntry.amount), 0))) or 0)
