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
MINIMUM_TOPUP = "minimum-topup"
RETRO_USAGE = "retro-usage"
ENGAGEMENT = "engagement"
"""A like or remix of a published contribution crediting its creator (``ledger.feed``)."""
KINDS = frozenset({ACCRUAL, GRANT, USAGE, CLAWBACK, MINIMUM_TOPUP, RETRO_USAGE, ENGAGEMENT})
EARNING_KINDS = (ACCRUAL, USAGE)
"""What a member earns in a program's period: accruals and usage credits, not top-ups, grants or
engagement credits."""


class JournalError(InvalidInputError, ValueError):
    """A transfer the journal refuses to record; nothing was written."""


@dataclass(frozen=True, slots=True)
class Balance:
    account: str
    balance: int
    pending: int


@dataclass(frozen=True, slots=True)
class Transfer:
    """One movement of ``amount`` points from ``debit`` to ``credit``, named by ``ref``."""

    debit: str
    credit: str
    amount: int
    ref: str
    contribution_id: int | None = None


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise JournalError(f"unknown journal kind {kind!r}")


def entry_rows(transfer_id: int, transfer: Transfer, *, kind: str, created_at: int) -> list[dict[str, object]]:
    """The two entries of a transfer, debit first: amounts ``-amount`` and ``+amount``."""
    return [{"transfer_id": transfer_id, "account": account, "amount": signed, "kind": kind,
             "ref": transfer.ref, "created_at": created_at}
            for account, signed in ((transfer.debit, -transfer.amount), (transfer.credit, transfer.amount))]


def transfer_row(transfer: Transfer, *, kind: str, created_at: int) -> dict[str, object]:
    return {"kind": kind, "ref": transfer.ref, "created_at": created_at, "contribution_id": transfer.contribution_id}


def accruals_of(items: Sequence[tuple[str, int, str, int | None]]) -> list[Transfer]:
    """The transfers crediting (account, points, ref, contribution_id) from the rewards pool;
    zero points move nothing."""
    return [Transfer(REWARDS_POOL, account, points, ref, contribution_id)
            for account, points, ref, contribution_id in items if points > 0]


def _insert_transfers(session: Session, transfers: Sequence[Transfer], *, kind: str, created_at: int) -> list[int]:
    """Write each transfer and its two entries (debit negative, credit positive, summing to zero)
    in two statements, whatever their number; the transfers' ids, in order.

    Core inserts, not ORM flushes: this runs once per accepted contribution, or once for a batch.
    """
    transfers_table = table_of(JournalTransfer)
    ids = session.execute(
        insert(transfers_table).returning(transfers_table.c.id, sort_by_parameter_order=True),
        [transfer_row(t, kind=kind, created_at=created_at) for t in transfers],
    ).scalars().all()
    session.execute(
        insert(table_of(JournalEntry)),
        [row for transfer_id, t in zip(ids, transfers, strict=True)
         for row in entry_rows(transfer_id, t, kind=kind, created_at=created_at)],
    )
    return list(ids)


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
    _check_kind(kind)
    if amount <= 0:
        raise JournalError("a transfer moves a positive number of points")
    if debit == credit:
        raise JournalError("a transfer needs two different accounts")
    transfer = Transfer(debit, credit, amount, ref, contribution_id)
    (transfer_id,) = _insert_transfers(session, [transfer], kind=kind, created_at=created_at)
    return transfer_id


def accrue_many(
    session: Session, accruals: Sequence[tuple[str, int, str, int | None]], *, created_at: int,
    kind: str = ACCRUAL,
) -> None:
    """Credit many (account, points, ref, contribution_id) from the rewards pool with two
    statements: accruals by default, or usage rewards. Zero points write nothing."""
    _check_kind(kind)
    transfers = accruals_of(accruals)
    if transfers:
        _insert_transfers(session, transfers, kind=kind, created_at=created_at)


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


def balance_at(session: Session, account: str, epoch: int) -> int:
    """The account's balance as epoch ``epoch`` sealed it: the sum of its entries of that epoch
    and before (the balance in that epoch's balances tree, 0 when it holds none)."""
    total = session.scalar(select(func.coalesce(func.sum(JournalEntry.amount), 0)).where(
        JournalEntry.account == account, JournalEntry.epoch.is_not(None), JournalEntry.epoch <= epoch))
    return int(total or 0)


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
