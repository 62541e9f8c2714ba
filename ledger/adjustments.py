"""Points moved by an operator: grants and clawbacks (DESIGN.md §8), idempotent by reference.

A grant credits an account from the rewards pool; a clawback returns points from an account to the
pool and never takes the account below zero. Both are ordinary double-entry transfers of the
journal, so the next epoch seals them into its balances and lists them, reference included, in its
public manifest. The reference is the caller's idempotency key: the same request sent twice moves
points once, and a reference cannot be reused for a different adjustment.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ledger import journal
from ledger.db import serialise
from ledger.errors import ConflictError, InvalidFieldError, TallyError
from ledger.models import Adjustment

MAX_POINTS = 10**12
"""The most points one adjustment moves: keeps every total far inside the journal's 64-bit sums."""

MAX_REF_LENGTH = 128

ADJUSTMENTS_LOCK = 0x7A11EAD
"""Adjustments are rare: all of them run one at a time, so a reference is checked and written
atomically and two clawbacks cannot both pass the balance check."""


class AdjustmentError(TallyError):
    """An adjustment the ledger refuses; nothing was written."""


class InvalidAdjustmentError(AdjustmentError, InvalidFieldError, ValueError):
    """Points out of range, a malformed ref, or the pool itself as the account."""

    def __init__(self, message: str) -> None:
        InvalidFieldError.__init__(self, "body", message)


class ReferenceReusedError(AdjustmentError, ConflictError):
    """The reference already names a different adjustment (``existing`` shows it)."""

    code = "ref-reused"

    def __init__(self, existing: Adjustment) -> None:
        super().__init__(f"reference {existing.ref!r} already names a {existing.kind} of {existing.points} "
                         f"points for {existing.account}", existing=adjustment_json(existing))
        self.existing = existing


class InsufficientPointsError(AdjustmentError, ConflictError):
    """A clawback larger than the account's balance."""

    code = "insufficient-points"


def adjustment_json(adjustment: Adjustment) -> dict[str, object]:
    """An adjustment as the API publishes it (DESIGN.md §8: points as a decimal string)."""
    return {
        "ref": adjustment.ref,
        "kind": adjustment.kind,
        "account": adjustment.account,
        "points": str(adjustment.points),
        "transfer": adjustment.transfer_id,
        "createdAt": adjustment.created_at,
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    adjustment: Adjustment
    replayed: bool
    """True when this reference had already been applied: nothing new was written."""


def grant(session: Session, *, account: str, points: int, ref: str, now: int) -> Outcome:
    """Credit ``points`` to ``account`` from the rewards pool, in the caller's transaction."""
    return _adjust(session, journal.GRANT, account, points, ref, now)


def claw_back(session: Session, *, account: str, points: int, ref: str, now: int) -> Outcome:
    """Return ``points`` from ``account`` to the rewards pool; refused beyond its balance."""
    return _adjust(session, journal.CLAWBACK, account, points, ref, now)


def _adjust(session: Session, kind: str, account: str, points: int, ref: str, now: int) -> Outcome:
    if not 0 < points <= MAX_POINTS:
        raise InvalidAdjustmentError(f"points must be between 1 and {MAX_POINTS}")
    if not ref or len(ref) > MAX_REF_LENGTH or not ref.isprintable():
        raise InvalidAdjustmentError(f"ref must be 1 to {MAX_REF_LENGTH} printable characters")
    if account == journal.REWARDS_POOL:
        raise InvalidAdjustmentError("the rewards pool is not an account to adjust")
    serialise(session, ADJUSTMENTS_LOCK)
    existing = session.get(Adjustment, ref)
    if existing is not None:
        if (existing.kind, existing.account, existing.points) != (kind, account, points):
            raise ReferenceReusedError(existing)
        return Outcome(existing, replayed=True)
    if kind == journal.CLAWBACK:
        balance = journal.balance_of(session, account).balance
        if balance < points:
            raise InsufficientPointsError(f"{account} has {balance} points; cannot claw back {points}")
        debit, credit = account, journal.REWARDS_POOL
    else:
        debit, credit = journal.REWARDS_POOL, account
    transfer_id = journal.post_transfer(session, debit=debit, credit=credit, amount=points, kind=kind,
                                        ref=ref, created_at=now)
    adjustment = Adjustment(ref=ref, kind=kind, account=account, points=points, transfer_id=transfer_id,
                            created_at=now)
    session.add(adjustment)
    session.flush()
    return Outcome(adjustment, replayed=False)

