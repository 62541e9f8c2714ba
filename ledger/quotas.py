"""Limits per contributor and per client address, enforced through the database.

Every replica counts in the same tables, so the limits hold for a deployment, not a process:
requests per minute per contributor (a batch counts once; a request refused for what its verified
contributor sent counts too, ``charge_refused``) and per client address, accepted
contributions per hour and points per UTC day per contributor. Going over is a 429
``rate-limited`` with ``Retry-After``, and nothing is written. A limit of 0 is off.

Counters are fixed windows (the minute ``now // 60``), kept in ``rate_counters`` and incremented
with one upsert; contributions and points are counted from the contributions themselves. Inside
the intake transaction the contributors' counts are serialised by advisory locks (PostgreSQL) or
the write lock (SQLite), so two replicas cannot both accept the 200th contribution of an hour.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ledger.db import LockKey, lock_key, table_of
from ledger.errors import RateLimitedError
from ledger.models import Contribution, RateCounter

QUOTA_LOCKS = 0x7A11C0
"""The advisory-lock namespace (classid) of contributors, apart from the other Tally locks."""

DAY = 86_400


@dataclass(frozen=True, slots=True)
class Quotas:
    contributor_requests_per_minute: int = 20
    contributions_per_hour: int = 200
    points_per_day: int = 5_000
    client_requests_per_minute: int = 120

    @classmethod
    def off(cls) -> Quotas:
        return cls(0, 0, 0, 0)

    def as_json(self) -> dict[str, dict[str, int]]:
        """``limits.perContributor`` and ``limits.perClient`` of ``GET /v1/config`` (0: no limit)."""
        return {
            "perContributor": {"requestsPerMinute": self.contributor_requests_per_minute,
                               "contributionsPerHour": self.contributions_per_hour,
                               "pointsPerDay": self.points_per_day},
            "perClient": {"requestsPerMinute": self.client_requests_per_minute},
        }


def count_request(session: Session, scope: str, subject: str, now: int) -> int:
    """Add one to ``subject``'s requests in the current minute; the count so far, this one included."""
    return count_requests(session, scope, [subject], now)[subject]


COUNT_REQUESTS_OF_ARRAY = text(
    'INSERT INTO rate_counters (scope, subject, "window", count)'
    " SELECT :scope, subject, :window, 1 FROM unnest(CAST(:subjects AS VARCHAR[])) AS s(subject)"
    ' ON CONFLICT (scope, subject, "window") DO UPDATE SET count = rate_counters.count + 1'
    " RETURNING subject, count")
"""``count_requests``' upsert on PostgreSQL, the subjects as one array parameter: its text the same
whatever their number, where a row of parameters each is compiled and converted again each time."""
USAGE_OF_ARRAY = text(
    "SELECT contributor, count(*) FILTER (WHERE accepted_at >= :hour),"
    " min(accepted_at) FILTER (WHERE accepted_at >= :hour), sum(points) FILTER (WHERE accepted_at >= :day)"
    " FROM contributions WHERE contributor = ANY(CAST(:contributors AS VARCHAR[])) AND accepted_at >= :since"
    " GROUP BY contributor")
"""``contributor_refusals``' read of recent usage on PostgreSQL, the contributors as one array."""


def count_requests(session: Session, scope: str, subjects: Sequence[str], now: int) -> dict[str, int]:
    """``count_request`` for several distinct subjects, in one statement."""
    if session.get_bind().dialect.name == "postgresql":
        return {subject: int(count) for subject, count in
                session.execute(COUNT_REQUESTS_OF_ARRAY, {"scope": scope, "subjects": list(subjects),
                                                          "window": now // 60})}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = table_of(RateCounter)  # a Core statement: the ORM's bulk path costs more than the upsert
    statement = insert(table).values([{"scope": scope, "subject": s, "window": now // 60, "count": 1}
                                      for s in subjects])
    statement = statement.on_conflict_do_update(
        index_elements=["scope", "subject", "window"], set_={"count": table.c.count + 1})
    return {subject: int(count) for subject, count in
            session.execute(statement.returning(table.c.subject, table.c.count))}


def charge_refused(session: Session, quotas: Quotas, contributors: Iterable[str], now: int) -> None:
    """Count a request refused after its contributor's signature was verified (a near-duplicate,
    personal data: see ``ledger.intake.CHARGED_REFUSALS``) against that contributor's requests a
    minute, in a statement of its own: the refusal wrote nothing else. Only a signature proves
    who asks, so a body that does not verify charges no one (the client address's count has it)."""
    subjects = sorted(set(contributors))
    if subjects and quotas.contributor_requests_per_minute:
        count_requests(session, "contributor", subjects, now)


def prune_counters(session: Session, now: int) -> None:
    """Forget the counters of minutes gone by (the leader's storage job runs this)."""
    session.execute(delete(RateCounter).where(RateCounter.window < now // 60 - 1))


class ClientRateLimitedError(RateLimitedError):
    """A client address past its requests a minute (``client_refusal``)."""


def client_refusal(quotas: Quotas, count: int, now: int) -> ClientRateLimitedError | None:
    """The refusal of a client address's request when its ``count`` of requests this minute (this
    one included) passes the limit, or None."""
    if quotas.client_requests_per_minute and count > quotas.client_requests_per_minute:
        return _client_refusal(quotas, now)
    return None


def _client_refusal(quotas: Quotas, now: int) -> ClientRateLimitedError:
    return ClientRateLimitedError(f"more than {quotas.client_requests_per_minute} requests a minute from this "
                                  "client address", retry_after=60 - now % 60)


class RefusedClients:
    """The client addresses a process refused this minute, so that it refuses their next requests
    of the minute before reading them, without a round trip. A minute's count only grows, so a
    client past its limit stays past it until the minute ends, whatever another replica counts:
    this refuses exactly the requests the database would, and forgets them all when the minute
    changes. Such a request is not added to the count, which already refuses."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minute = -1
        self._clients: set[str] = set()

    def remember(self, client: str, now: int) -> None:
        with self._lock:
            if now // 60 != self._minute:
                self._minute, self._clients = now // 60, set()
            self._clients.add(client)

    def refuse(self, quotas: Quotas, client: str, now: int) -> None:
        """Raise the refusal ``client_refusal`` gave ``client`` earlier this minute, if it did."""
        if now // 60 == self._minute and client in self._clients:
            raise _client_refusal(quotas, now)


def contributor_locks(quotas: Quotas | None, contributors: Iterable[str]) -> list[LockKey]:
    """The locks ``contributor_refusals`` needs held for these contributors (none without limits)."""
    if quotas is None or quotas == Quotas.off():
        return []
    return [lock_key(QUOTA_LOCKS, int.from_bytes(hashlib.sha256(c.encode()).digest()[:4], "big"))
            for c in contributors]


def contributor_refusals(session: Session, quotas: Quotas, items: Sequence[tuple[str, int]],
                         now: int) -> list[RateLimitedError | None]:
    """For each (contributor, points) of a request, in order: the refusal past a contributor's
    limit, or None. Counts the request once per contributor; call inside the intake transaction
    with ``contributor_locks`` held (``ledger.db.serialise_each``)."""
    contributors = sorted({c for c, _ in items})
    if not contributors or quotas == Quotas.off():
        return [None] * len(items)
    requests = count_requests(session, "contributor", contributors, now) \
        if quotas.contributor_requests_per_minute else {}
    hour_start, day_start = usage_window(now)
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(USAGE_OF_ARRAY, {"hour": hour_start, "day": day_start, "contributors": contributors,
                                                "since": min(day_start, hour_start)})
        return decide_contributors(quotas, items, requests, [tuple(row) for row in rows], now)
    in_hour = Contribution.accepted_at >= hour_start
    # The hour's count and the day's points in one statement, over the rows of whichever began first.
    usage = session.execute(
        select(Contribution.contributor, func.count().filter(in_hour),
               func.min(Contribution.accepted_at).filter(in_hour),
               func.sum(Contribution.points).filter(Contribution.accepted_at >= day_start))
        .where(Contribution.contributor.in_(contributors),
               Contribution.accepted_at >= min(day_start, hour_start))
        .group_by(Contribution.contributor)
    )
    return decide_contributors(quotas, items, requests, [tuple(row) for row in usage], now)  # type: ignore[misc]


def usage_window(now: int) -> tuple[int, int]:
    """The first second of the last hour (contributions accepted after ``now - 3600``) and of
    the UTC day, the windows of ``contributions_per_hour`` and ``points_per_day``."""
    return now - 3600 + 1, now - now % DAY


Usage = tuple[str, int, int | None, int | None]
"""A contributor's recent contributions: (contributor, count in the hour, the oldest of them,
points in the day)."""


def decide_contributors(quotas: Quotas, items: Sequence[tuple[str, int]], requests: dict[str, int],
                        usage: Sequence[Usage], now: int) -> list[RateLimitedError | None]:
    """``contributor_refusals``' answer from what it read: each contributor's requests this
    minute (this one included) and recent usage."""
    day_start = usage_window(now)[1]
    over_requests = {c for c, count in requests.items()
                     if quotas.contributor_requests_per_minute and count > quotas.contributor_requests_per_minute}
    hour: dict[str, tuple[int, int]] = {}
    day: dict[str, int] = {}
    for c, count, oldest, points in usage:
        if count:
            hour[c] = (int(count), int(oldest or now))
        day[c] = int(points or 0)
    refusals: list[RateLimitedError | None] = []
    for contributor, points in items:
        count, oldest = hour.get(contributor, (0, now))
        if contributor in over_requests:
            refusals.append(RateLimitedError(
                f"more than {quotas.contributor_requests_per_minute} requests a minute from {contributor}",
                retry_after=60 - now % 60))
        elif quotas.contributions_per_hour and count >= quotas.contributions_per_hour:
            refusals.append(RateLimitedError(
                f"{contributor} contributed {count} conversations in the last hour, the most allowed",
                retry_after=max(1, oldest + 3600 - now)))
        elif quotas.points_per_day and day.get(contributor, 0) + points > quotas.points_per_day:
            refusals.append(RateLimitedError(
                f"{contributor} would pass {quotas.points_per_day} points today (UTC)",
                retry_after=day_start + DAY - now))
        else:
            hour[contributor] = (count + 1, min(oldest, now))
            day[contributor] = day.get(contributor, 0) + points
            refusals.append(None)
    return refusals
