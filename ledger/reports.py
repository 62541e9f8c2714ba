"""What the operator looks at to spot farming: the top accruing contributors since a time, with
the client addresses their contributions came from (a sybil farm is many accounts behind a few
addresses). Read by ``GET /v1/admin/accruals`` and ``tally report accruals``; never public."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.models import Contribution


@dataclass(frozen=True, slots=True)
class Accrual:
    account: str
    contributions: int
    points: int
    clients: tuple[tuple[str, int], ...]
    """(client address, contributions from it), most first; "unknown" for none recorded."""

    def as_json(self) -> dict[str, object]:
        return {"account": self.account, "contributions": self.contributions, "points": str(self.points),
                "clients": [{"address": a, "contributions": n} for a, n in self.clients]}


def top_accruals(session: Session, *, since: int, limit: int = 50) -> list[Accrual]:
    """The ``limit`` contributors with the most points from contributions accepted at ``since`` or later."""
    top = session.execute(
        select(Contribution.contributor, func.count(), func.sum(Contribution.points))
        .where(Contribution.accepted_at >= since)
        .group_by(Contribution.contributor)
        .order_by(func.sum(Contribution.points).desc(), Contribution.contributor)
        .limit(limit)
    ).all()
    accounts = [row[0] for row in top]
    clients: dict[str, list[tuple[str, int]]] = {}
    for account, client, count in session.execute(
        select(Contribution.contributor, Contribution.client_address, func.count())
        .where(Contribution.accepted_at >= since, Contribution.contributor.in_(accounts))
        .group_by(Contribution.contributor, Contribution.client_address)
    ):
        clients.setdefault(account, []).append((client or "unknown", int(count)))
    return [Accrual(account, int(count), int(points or 0),
                    tuple(sorted(clients.get(account, []), key=lambda c: (-c[1], c[0]))))
            for account, count, points in top]
