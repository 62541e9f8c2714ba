"""Usage rewards: points for contributors whose conversations a data consumer used (DESIGN.md §8).

A data consumer reports a batch of uses under its own reference: which contributions, how many
units of each (a unit is the consumer's count of uses: a training run, a thousand samples...). Each
contributor is credited ``units * points_per_unit`` from the rewards pool, a journal transfer of kind
``usage`` linked to the contribution, sealed into the next epoch and published in its manifest with
the reference. The reference is the consumer's idempotency key: the same report sent again credits
nothing more, and a different report cannot reuse it.

Every item is also recorded in units (``UsageItem``), paid or not: with 0 points per unit usage is
recorded without paying, and a program with ``retroactiveFrom`` may pay those units later
(``ledger.program_rules``). Items are published in the manifest of the epoch that seals them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import journal
from ledger.adjustments import MAX_REF_LENGTH
from ledger.db import serialise
from ledger.errors import ConflictError, InvalidFieldError, TallyError
from ledger.export import check_received
from ledger.ids import MAX_ROW_ID
from ledger.models import Contribution, UsageItem, UsageReport

MAX_ITEMS = 1000
MAX_UNITS = 10**6

USAGE_LOCK = 0x7A11E5E
"""Reports run one at a time, so a reference is checked and written atomically."""


class UsageError(TallyError):
    """A usage report the ledger refuses; nothing was written."""


class InvalidReportError(UsageError, InvalidFieldError, ValueError):
    """A malformed ref, too many items, or units out of range."""

    def __init__(self, message: str) -> None:
        InvalidFieldError.__init__(self, "body", message)


class ReportReusedError(UsageError, ConflictError):
    """The reference already names a different report."""

    code = "ref-reused"


class UnknownContributionError(UsageError, InvalidFieldError):
    """An item names a contribution nobody made."""

    def __init__(self, index: int, key: int | str, message: str = "no such contribution") -> None:
        InvalidFieldError.__init__(self, f"items[{index}].contribution", message)
        self.index = index
        self.key = key


@dataclass(frozen=True, slots=True)
class UsageOutcome:
    report: UsageReport
    replayed: bool
    """True when this reference had already been recorded: nothing new was credited."""


def record_usage(session: Session, *, ref: str, items: Sequence[tuple[int, int]], points_per_unit: int,
                 now: int, consumer: str) -> UsageOutcome:
    """Record ``items`` (contribution id, units) and credit their contributors ``points_per_unit``
    a unit (0: recorded, not paid) in the caller's transaction; each must have been exported to
    ``consumer`` (``ledger.export``)."""
    if not ref or len(ref) > MAX_REF_LENGTH or not ref.isprintable():
        raise InvalidReportError(f"ref must be 1 to {MAX_REF_LENGTH} printable characters")
    if not 0 < len(items) <= MAX_ITEMS:
        raise InvalidReportError(f"a report holds 1 to {MAX_ITEMS} items")
    for index, (_, units) in enumerate(items):
        if not 0 < units <= MAX_UNITS:
            raise InvalidReportError(f"items[{index}].units must be between 1 and {MAX_UNITS}")
    if points_per_unit < 0:
        raise InvalidReportError("points per unit cannot be negative")
    digest = _digest(items, points_per_unit)
    serialise(session, USAGE_LOCK)
    existing = session.get(UsageReport, ref)
    if existing is not None:
        if existing.digest != digest:
            raise ReportReusedError(f"reference {ref!r} already names a different usage report")
        return UsageOutcome(existing, replayed=True)
    ids = {key for key, _ in items}
    owners = dict(session.execute(select(Contribution.id, Contribution.contributor)
                                  .where(Contribution.id.in_(ids))).all())
    for index, (key, _) in enumerate(items):
        if key not in owners:
            raise UnknownContributionError(index, key)
    check_received(session, consumer, [key for key, _ in items])
    credits = [(owners[key], units * points_per_unit, ref, key) for key, units in items]
    journal.accrue_many(session, credits, created_at=now, kind=journal.USAGE)  # zero points: nothing
    session.add_all([UsageItem(ref=ref, contribution_id=key, account=owners[key], units=units,
                               points=units * points_per_unit, created_at=now) for key, units in items])
    report = UsageReport(ref=ref, digest=digest, items=len(items), points=sum(c[1] for c in credits),
                         created_at=now)
    session.add(report)
    session.flush()
    return UsageOutcome(report, replayed=False)


def _digest(items: Sequence[tuple[int, int]], points_per_unit: int) -> bytes:
    """What makes two reports the same report: the items in order, and the rate they earned."""
    text = ";".join(f"{key}:{units}" for key, units in items) + f"@{points_per_unit}"
    return hashlib.sha256(text.encode()).digest()


def resolve_items(session: Session, items: Sequence[tuple[int | str, int]]) -> list[tuple[int, int]]:
    """(contribution id, units) for items naming a contribution by id or by 0x contentHash; a
    contentHash nobody contributed, or an id past the 64-bit range, is refused by its index."""
    hashes = {bytes.fromhex(key[2:]) for key, _ in items if isinstance(key, str)}
    ids = dict(session.execute(select(Contribution.content_hash, Contribution.id)
                               .where(Contribution.content_hash.in_(hashes))).all()) if hashes else {}
    resolved: list[tuple[int, int]] = []
    for index, (key, units) in enumerate(items):
        if isinstance(key, str):
            found = ids.get(bytes.fromhex(key[2:]))
            if found is None:
                raise UnknownContributionError(index, key, "no contribution has this contentHash")
            resolved.append((found, units))
        elif key > MAX_ROW_ID:
            raise UnknownContributionError(index, key, f"an id is from 1 to {MAX_ROW_ID}")
        else:
            resolved.append((key, units))
    return resolved
