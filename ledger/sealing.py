"""When the next epoch is sealed: the schedule every replica and the leader agree on.

The rule reads only what the database holds (how many contributions are pending and when the
last epoch was sealed), so the leader's jobs, any API replica's ``/v1/config`` and the contributor
page compute the same answer, and a new leader carries the schedule on where the old one left it.

- Nothing pending (no contribution, grant, clawback or usage credit since the last seal): nothing
  to seal, and no time is due.
- ``threshold`` contributions pending: due now.
- No epoch yet, or the last one sealed ``interval`` seconds ago or more: due now. So after a quiet
  period the first contribution is sealed at once instead of waiting out a timer.
- Otherwise: due ``interval`` seconds after the last seal.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.journal import ACCRUAL
from ledger.models import Contribution, Epoch, JournalEntry, ProgramChange, UsageItem
from ledger.program_close import due

DEV_CHAIN_SEAL_INTERVAL = 30.0
"""Seconds between seals on the embedded dev chain: a newcomer sees a final epoch in a minute."""

PRODUCTION_SEAL_INTERVAL = 600.0
"""Seconds between seals on a configured chain, unless set otherwise (TALLY_SEAL_INTERVAL)."""

SNAPSHOT_EVERY = 32
"""Epochs between full balances snapshots unless set otherwise (TALLY_SNAPSHOT_EVERY): a reader
rebuilding an epoch's balances from public documents applies at most this many manifests'
changes (``ledger.balances``)."""


@dataclass(frozen=True, slots=True)
class SealSchedule:
    interval: float = PRODUCTION_SEAL_INTERVAL
    threshold: int = 10_000

    def next_seal_at(self, *, pending: int, last_sealed_at: int | None, now: float) -> float | None:
        """The Unix time the next seal is due (``now`` when overdue), or None with nothing pending."""
        if pending <= 0:
            return None
        if pending >= self.threshold or last_sealed_at is None:
            return now
        return max(now, last_sealed_at + self.interval)

    def is_due(self, *, pending: int, last_sealed_at: int | None, now: float) -> bool:
        due = self.next_seal_at(pending=pending, last_sealed_at=last_sealed_at, now=now)
        return due is not None and due <= now

    def as_json(self, *, pending: int, last_sealed_at: int | None, now: float,
                contributions: int | None = None) -> dict[str, object]:
        """The ``sealing`` object of ``GET /v1/config``: times are integer Unix seconds;
        ``contributions`` are the pending contributions among ``pending`` (default: all)."""
        due = self.next_seal_at(pending=pending, last_sealed_at=last_sealed_at, now=now)
        return {
            "intervalSeconds": int(self.interval) if float(self.interval).is_integer() else self.interval,
            "threshold": self.threshold,
            "pendingContributions": pending if contributions is None else contributions,
            "lastSealedAt": last_sealed_at,
            "nextSealAt": None if due is None else int(due + 0.999),
        }


@dataclass(frozen=True, slots=True)
class SealingState:
    """What the schedule reads from the database: pending contributions, pending journal
    entries of anything else (grants, clawbacks, usage credits), and when the last seal was."""

    contributions: int
    other_entries: int
    last_sealed_at: int | None
    programs_due: int = 0
    """Programs with a period ended and not closed, and program or usage records not sealed:
    a seal is due for them even with nothing else new (``ledger.program_close``)."""

    @property
    def pending(self) -> int:
        """Whatever the next epoch would seal; the schedule only asks whether it is zero and
        compares it with the threshold."""
        return self.contributions + self.other_entries + self.programs_due


def pending_contributions(session: Session) -> int:
    """Accepted contributions not sealed into an epoch yet."""
    return int(session.scalar(select(func.count()).where(Contribution.epoch.is_(None))) or 0)


def sealing_state(session: Session, now: float | None = None) -> SealingState:
    """What is pending; with ``now``, programs' periods ended by then count as pending too."""
    last = session.scalar(select(func.max(Epoch.sealed_at)))
    others = session.scalar(select(func.count()).where(JournalEntry.epoch.is_(None), JournalEntry.kind != ACCRUAL))
    records = int(session.scalar(select(func.count()).where(ProgramChange.epoch.is_(None))) or 0) + int(
        session.scalar(select(func.count()).where(UsageItem.epoch.is_(None))) or 0)
    closes = 1 if now is not None and due(session, int(now)) else 0
    return SealingState(pending_contributions(session), int(others or 0), None if last is None else int(last),
                        records + closes)
