"""Closing programs' periods inside a seal (``ledger.epochs.seal_epoch``, docs/rewards.md).

Runs in the seal's transaction, under its lock, after the epoch's journal entries, membership
changes and usage items are stamped with the epoch: so what a close reads is exactly what the
manifests up to this one publish, and the audit recomputes the same payouts from them
(``ledger.program_rules.due_payouts``). Each payout is a journal transfer from the rewards pool
and a ``ProgramPayout`` row keyed by the transfer's ref: a crash before the commit leaves
nothing, a second sealer (another replica, a restarted worker) waits on the seal's lock and
then finds the periods closed; and were both ever to get past it, the ref's primary key would
refuse the second payout and roll its whole seal back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ledger import journal
from ledger.models import JournalEntry, Program, ProgramPayout, UsageItem
from ledger.program_rules import Payout, due_payouts, members_before
from ledger.programs import changes_of, definition_of


def _earned(session: Session) -> Callable[[str, int, int], int]:
    def earned(account: str, start: int, end: int) -> int:
        total = session.scalar(select(func.coalesce(func.sum(JournalEntry.amount), 0)).where(
            JournalEntry.account == account, JournalEntry.created_at >= start, JournalEntry.created_at < end,
            JournalEntry.kind.in_(journal.EARNING_KINDS), JournalEntry.amount > 0,
            JournalEntry.epoch.is_not(None)))
        return int(total or 0)
    return earned


def _unpaid(session: Session, taken: set[int]) -> Callable[[str, int], Sequence[tuple[int, int]]]:
    def unpaid(account: str, since: int) -> list[tuple[int, int]]:
        rows = session.execute(select(UsageItem.id, UsageItem.units).where(
            UsageItem.account == account, UsageItem.created_at >= since, UsageItem.points == 0,
            UsageItem.retro_ref.is_(None), UsageItem.epoch.is_not(None)).order_by(UsageItem.id)).all()
        return [(i, u) for i, u in rows if i not in taken]
    return unpaid


_PERIODS_LOOKED_AT = 1_000
"""At most this many unclosed periods are looked at for members by ``due`` (the jobs ask it every
few seconds); past it, a seal is due anyway."""


def due(session: Session, now: int) -> bool:
    """Whether a seal is due to close some program's periods: one has ended by ``now``, is not
    closed, and it may owe someone (the program has members now, or had some at the end of an
    unclosed period). Periods nobody was a member of wait for the next seal that something else
    brings, instead of sealing an empty epoch every period."""
    for program in session.scalars(select(Program)):
        definition = definition_of(program)
        ended = definition.ended_by(now)
        if ended <= program.periods_closed:
            continue
        changes = changes_of(session, program.id)
        if members_before(changes, now + 1):
            return True
        if changes:  # members now: none; so only periods ending between the first and the last change had any
            first = max(program.periods_closed, definition.ended_by(min(c.at for c in changes)))
            last = min(ended, definition.ended_by(max(c.at for c in changes)) + 1)
            if last - first > _PERIODS_LOOKED_AT:
                return True  # too many to look at every second: let a seal close them
            if any(members_before(changes, definition.bounds(k)[1]) for k in range(first, last)):
                return True
    return False


def close_programs(session: Session, now: int) -> list[Payout]:
    """Close every period ended by ``now``: post its top-ups and retroactive payments, in the
    caller's (the seal's) transaction; the payouts, in the order posted."""
    posted: list[Payout] = []
    taken: set[int] = set()  # usage items a retroactive payment of this close already took
    for program in session.scalars(select(Program).order_by(Program.id)):
        definition = definition_of(program)
        payouts, closed = due_payouts(definition, program.periods_closed, now,
                                      changes_of(session, program.id, sealed_only=True), _earned(session),
                                      _unpaid(session, taken))
        for payout in payouts:
            transfer = journal.post_transfer(session, debit=journal.REWARDS_POOL, credit=payout.account,
                                             amount=payout.points, kind=payout.kind, ref=payout.ref, created_at=now)
            session.add(ProgramPayout(ref=payout.ref, program=payout.program, kind=payout.kind,
                                      account=payout.account, points=payout.points, transfer_id=transfer,
                                      created_at=now))
            if payout.usage_ids:
                taken.update(payout.usage_ids)
                session.execute(update(UsageItem).where(UsageItem.id.in_(payout.usage_ids))
                                .values(retro_ref=payout.ref).execution_options(synchronize_session=False))
            posted.append(payout)
        program.periods_closed = closed
    session.flush()  # the payouts' primary keys are checked here, before the seal goes on
    return posted
