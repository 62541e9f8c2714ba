"""Balances and journal history of one account."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.submission import parse_address
from api.views import entry_json
from ledger import journal

router = APIRouter(tags=["accounts"])


@router.get("/v1/accounts/{address}")
def account(
    request: Request,
    address: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[int | None, Query(ge=0, description="cursor: the last entry id seen")] = None,
) -> dict[str, Any]:
    """The balance (all credited points), the part not yet sealed, and the journal, paginated."""
    checksummed = parse_address(address, "address")
    intake = request.app.state.intake
    with intake.sessions() as session:
        balance = journal.balance_of(session, checksummed)
        entries = journal.history(session, checksummed, after=after, limit=limit + 1)
    page = entries[:limit]
    return {
        "address": checksummed,
        "balance": str(balance.balance),
        "pending": str(balance.pending),
        "history": {
            "items": [entry_json(e) for e in page],
            "next": page[-1].id if len(entries) > limit else None,
        },
    }
