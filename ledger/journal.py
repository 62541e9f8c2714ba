"""The points journal: append-only, double-entry.

Every movement of points is a transfer from one account to another, written as two entries
whose amounts sum to zero. Points are created by debiting the rewards pool, an account that
only ever goes negative; the sum of the whole journal is therefore always zero, and a
contributor's balance is the sum of their entries. Nothing here updates or deletes a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ledger.db import table_of
from ledger.errors import InvalidInputError
from ledger.models import JournalEntry, JournalTransfer

REWARDS_POOL = "pool:rewards"

ACCRUAL = "accrual"
GRANT = "grant"
USAGE = "usage"
CLAWBACK = "clawback"
KINDS = frozenset({ACCRUAL, GRANT, USAGE, CLAWBACK})


class JournalError(InvalidInputError, ValueError):
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
) -> int:
    """Move ``amount`` points from ``debit`` to ``credit`` in the caller's transaction; the id of
    the transfer."""
    if kind not in KINDS:
        raise JournalError(f"unknown journal kind {kind!r}")
    if amount <= 0:
        raise JournalError("a transfer moves a positive number of points")
    if debit == credit:
        raise JournalError("a transfer needs two different accounts")
    # Core inserts, not ORM flushes: this runs once per accepted contribution.
    transfer_id = session.execute(
        insert(JournalTransfer).returning(JournalTransfer.id),
        {"kind": kind, "ref": ref, "created_at": created_at, "contribution_id": contribution_id},
    ).scalar_one()
    session.execute(
        insert(JournalEntry),
        [
            {"transfer_id": transfer_id, "account": account, "amount": signed, "kind": kind,
             "ref": ref, "created_at": created_at}
            for account, signed in ((debit, -amount), (credit, amount))
        ],
    )
    return transfer_id


def accrue(session: Session, *, account: str, points: int, ref: str, created_at: int,
           contribution_id: int | None = None) -> int | None:
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


def accrue_many(
    session: Session, accruals: Sequence[tuple[str, int, str, int | None]], *, created_at: int,
    kind: str = ACCRUAL,
) -> None:
    """Credit many (account, points, ref, contribution_id) from the rewards pool with two
    statements: accruals by default, or usage rewards."""
    if kind not in KINDS:
        raise JournalError(f"unknown journal kind {kind!r}")
    accruals = [a for a in accruals if a[1] > 0]
    if not accruals:
        return
    transfers = table_of(JournalTransfer)
    ids = session.execute(
        insert(transfers).returning(transfers.c.id, sort_by_parameter_order=True),
        [{"kind": kind, "ref": ref, "created_at": created_at, "contribution_id": cid}
         for _, _, ref, cid in accruals],
    ).scalars().all()
    session.execute(
        insert(table_of(JournalEntry)),
        [
            {"transfer_id": tid, "account": account, "amount": signed, "kind": kind, "ref": ref,
             "created_at": created_at}
            for tid, (account, points, ref, _) in zip(ids, accruals, strict=True)
            for account, signed in ((REWARDS_POOL, -points), (account, points))
        ],
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
