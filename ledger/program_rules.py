"""The rules of programs (docs/rewards.md, "Programs"), pure: periods, membership, and what a
period's close pays. The sealer (``ledger.program_close``, reading the database) and the audit
(``anchoring.audit``, reading the manifests) both compute payouts with ``due_payouts``, so the
rule an outsider recomputes is the one that paid.

- A program's periods follow each other from ``start``: a day, a week (7 days), a calendar month
  (the same day of the month, the last day of a shorter month) or a number of seconds. Period
  ``k`` is ``[start_k, end_k)``.
- A period is closed by the first seal at or after its end. An account is a member for the
  period when its latest membership change (by ``at``, then by change id) before ``end_k`` among
  the changes sealed so far is an enrolment.
- Each member earned the sum of its credits of kind ``accrual`` and ``usage`` created in
  ``[start_k, end_k)`` among the journal entries sealed so far (this seal's included); a
  ``minimum-topup`` of ``minimum - earned`` brings it up when it earned less, ref
  ``program/<id>/<period>/<account>``.
- At a program's first close, a program with ``retroactiveFrom`` pays each member (enrolled as
  the seal sees it) its usage units recorded unpaid (0 points) from that date and not paid
  retroactively before, at ``retroRate`` points a unit: one ``retro-usage`` transfer, ref
  ``program/<id>/retro/<account>``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.errors import InvalidFieldError

MINIMUM_TOPUP = "minimum-topup"
RETRO_USAGE = "retro-usage"

NAMED_PERIODS = {"day": 86_400, "week": 7 * 86_400}
MONTH = "month"
MAX_PERIOD_SECONDS = 10**8
MAX_MINIMUM = 10**12
MAX_RETRO_RATE = 10**6
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
EARLIEST, LATEST = 946_684_800, 4_102_444_800
"""Dates from 2000-01-01 to 2100-01-01 (Unix seconds)."""

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})Z)?$")

ENROL, LEAVE, DEFINE = "enrol", "leave", "define"


def parse_date(value: object, field: str) -> int:
    """A UTC date ``YYYY-MM-DD`` (midnight) or instant ``YYYY-MM-DDTHH:MM:SSZ``, as Unix seconds."""
    match = _DATE.fullmatch(value) if isinstance(value, str) else None
    try:
        if match is None:
            raise ValueError
        year, month, day, hour, minute, second = (int(p or 0) for p in match.groups())
        when = int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())
    except ValueError:
        raise InvalidFieldError(field, "must be a UTC date YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ") from None
    if not EARLIEST <= when <= LATEST:
        raise InvalidFieldError(field, "must be from 2000-01-01 to 2100-01-01")
    return when


def format_date(when: int) -> str:
    """``YYYY-MM-DD`` for a midnight, else ``YYYY-MM-DDTHH:MM:SSZ``: what ``parse_date`` reads."""
    moment = datetime.fromtimestamp(when, UTC)
    return moment.strftime("%Y-%m-%d") if when % 86_400 == 0 else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Definition:
    """A program as defined (and published): immutable."""

    id: str
    period: str
    """"day", "week", "month" or a number of seconds in decimal."""
    minimum: int
    start: int
    retro_from: int | None = None
    retro_rate: int | None = None

    def bounds(self, k: int) -> tuple[int, int]:
        """Period ``k``'s ``[start, end)`` in Unix seconds."""
        if self.period == MONTH:
            return self._month(k), self._month(k + 1)
        length = NAMED_PERIODS.get(self.period) or int(self.period)
        return self.start + k * length, self.start + (k + 1) * length

    def _month(self, k: int) -> int:
        first = datetime.fromtimestamp(self.start, UTC)
        months = first.month - 1 + k
        year, month = first.year + months // 12, months % 12 + 1
        day = min(first.day, calendar.monthrange(year, month)[1])
        return int(first.replace(year=year, month=month, day=day).timestamp())

    def ended_by(self, now: int) -> int:
        """How many periods have ended at ``now`` (``end_k <= now``)."""
        if now < self.start:
            return 0
        if self.period != MONTH:
            length = NAMED_PERIODS.get(self.period) or int(self.period)
            return (now - self.start) // length
        first, at = datetime.fromtimestamp(self.start, UTC), datetime.fromtimestamp(now, UTC)
        count = max(0, (at.year - first.year) * 12 + at.month - first.month + 1)
        while count > 0 and self.bounds(count - 1)[1] > now:
            count -= 1
        return count

    def label(self, k: int) -> str:
        """Period ``k`` as its ref names it: the date it starts (``YYYY-MM-DD``, or the instant
        ``YYYY-MM-DDTHH:MM:SSZ`` when it starts in the day, and always for periods in seconds)."""
        start = self.bounds(k)[0]
        if self.period.isdigit():
            return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return format_date(start)

    def topup_ref(self, k: int, account: str) -> str:
        return f"program/{self.id}/{self.label(k)}/{account}"

    def retro_ref(self, account: str) -> str:
        return f"program/{self.id}/retro/{account}"

    def period_json(self) -> str | int:
        return self.period if self.period in NAMED_PERIODS or self.period == MONTH else int(self.period)

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "period": self.period_json(), "minimum": str(self.minimum),
                "start": format_date(self.start),
                "retroactiveFrom": None if self.retro_from is None else format_date(self.retro_from),
                "retroRate": None if self.retro_rate is None else str(self.retro_rate)}


def _points(value: object, field: str, most: int) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit() and not value.startswith("0"):
        points = int(value)
    elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
        points = value
    else:
        raise InvalidFieldError(field, "must be a positive decimal string")
    if points > most:
        raise InvalidFieldError(field, f"must be at most {most}")
    return points


DEFINITION_FIELDS = ("id", "period", "minimum", "start", "retroactiveFrom", "retroRate")


def parse_definition(body: object) -> Definition:
    """A program's definition from its JSON (``POST /v1/programs``, a manifest's ``define``
    change), or ``InvalidFieldError`` naming the field."""
    if not isinstance(body, dict):
        raise InvalidFieldError("body", "must be a JSON object")
    unknown = sorted(set(body) - set(DEFINITION_FIELDS))
    if unknown:
        raise InvalidFieldError(unknown[0], "unknown field")
    for name in ("id", "period", "minimum", "start"):
        if name not in body:
            raise InvalidFieldError(name, "is missing")
    program = body["id"]
    if not isinstance(program, str) or not ID_PATTERN.fullmatch(program):
        raise InvalidFieldError("id", "must be 1 to 40 of a-z, 0-9 and -, starting with a letter or digit")
    period = body["period"]
    seconds = isinstance(period, int) and not isinstance(period, bool) and 0 < period <= MAX_PERIOD_SECONDS
    if seconds or period in ("day", "week", "month"):
        period_text = str(period)
    else:
        raise InvalidFieldError("period", f'must be "day", "week", "month" or 1 to {MAX_PERIOD_SECONDS} seconds')
    minimum = _points(body["minimum"], "minimum", MAX_MINIMUM)
    start = parse_date(body["start"], "start")
    retro_from, retro_rate = body.get("retroactiveFrom"), body.get("retroRate")
    if (retro_from is None) != (retro_rate is None):
        raise InvalidFieldError("retroRate" if retro_rate is None else "retroactiveFrom",
                                "retroactiveFrom and retroRate go together: both or neither")
    return Definition(program, period_text, minimum, start,
                      None if retro_from is None else parse_date(retro_from, "retroactiveFrom"),
                      None if retro_rate is None else _points(retro_rate, "retroRate", MAX_RETRO_RATE))


@dataclass(frozen=True, slots=True)
class Change:
    """A membership change as the rules read it."""

    id: int
    account: str
    change: str
    at: int


def members_before(changes: Iterable[Change], t: int) -> list[str]:
    """The accounts whose latest change before ``t`` (by ``at``, then id) is an enrolment, sorted
    by lower-cased address."""
    latest: dict[str, tuple[int, int, str]] = {}
    for c in changes:
        key = c.account.lower()
        if c.at < t and (key not in latest or (c.at, c.id) > latest[key][:2]):
            latest[key] = (c.at, c.id, c.change)
    accounts = {c.account.lower(): c.account for c in changes}
    return [accounts[key] for key in sorted(latest) if latest[key][2] == ENROL]


@dataclass(frozen=True, slots=True)
class Payout:
    """A transfer a close makes from the rewards pool to ``account``."""

    ref: str
    kind: str
    program: str
    account: str
    points: int
    usage_ids: tuple[int, ...] = ()
    """The usage items a retroactive payment pays for (each once)."""


Earned = Callable[[str, int, int], int]
"""``earned(account, start, end)``: the account's accrual and usage credits created in [start, end)."""
UnpaidUsage = Callable[[str, int], Sequence[tuple[int, int]]]
"""``unpaid(account, since)``: (usage item id, units) of the account's unpaid usage recorded at
or after ``since`` and not paid retroactively yet."""


def due_payouts(program: Definition, closed: int, now: int, changes: Sequence[Change], earned: Earned,
                unpaid: UnpaidUsage) -> tuple[list[Payout], int]:
    """What closing every period of ``program`` ended by ``now`` pays (periods ``closed`` on are
    not closed yet), and how many periods are closed after it."""
    ended = program.ended_by(now)
    payouts: list[Payout] = []
    if ended <= closed:
        return payouts, closed
    if changes:  # no period that ended before the first enrolment has a member: skip them
        first = max(closed, program.ended_by(min(c.at for c in changes)))
        for k in range(first, ended):
            start, end = program.bounds(k)
            for account in members_before(changes, end):
                got = earned(account, start, end)
                if got < program.minimum:
                    payouts.append(Payout(program.topup_ref(k, account), MINIMUM_TOPUP, program.id, account,
                                          program.minimum - got))
    if closed == 0 and program.retro_from is not None and program.retro_rate is not None:
        for account in members_before(changes, now + 1):
            items = unpaid(account, program.retro_from)
            units = sum(u for _, u in items)
            if units:
                payouts.append(Payout(program.retro_ref(account), RETRO_USAGE, program.id, account,
                                      units * program.retro_rate, tuple(i for i, _ in items)))
    return payouts, ended
