"""Balances and journal history of one account."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.openapi import answers, problems
from api.routes.params import AccountAddress, ContributionCursor, EntryCursor
from api.schemas import Account, AccountContributions
from api.services import ServicesDep
from api.views import contribution_json, entry_json
from ledger import journal
from ledger.encoding import parse_address
from ledger.lifecycle import EpochState
from ledger.models import Contribution, Epoch, Publication
from ledger.outbox import storage_state

router = APIRouter(tags=["accounts"])
log = logging.getLogger("tally.api")


@router.get("/v1/accounts/{address}", operation_id="getAccount",
            responses={**answers(Account), **problems("invalid-address", "invalid-request")})
def account(
    services: ServicesDep,
    address: AccountAddress,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: EntryCursor = None,
) -> dict[str, Any]:
    """The balance (all credited points), the part not yet sealed, what the rewards contract has
    paid for and what a claim would be paid for now, and the journal, paginated."""
    checksummed = parse_address(address, "address")
    claimed = _claimed(services, checksummed)
    with services.sessions() as session:
        balance = journal.balance_of(session, checksummed)
        entries = journal.history(session, checksummed, after=after, limit=limit + 1)
        anchored = None if claimed is None else _anchored_balance(session, checksummed)
    page = entries[:limit]
    return {
        "address": checksummed,
        "balance": str(balance.balance),
        "pending": str(balance.pending),
        "claimed": None if claimed is None else str(claimed),
        "claimable": None if claimed is None or anchored is None else str(max(0, anchored - claimed)),
        "history": {
            "items": [entry_json(e) for e in page],
            "next": page[-1].id if len(entries) > limit else None,
        },
    }


def _claimed(services: ServicesDep, account: str) -> int | None:
    """What the rewards contract has paid ``account`` for; None without one, or while the chain
    cannot be read (the rest of the answer comes from the ledger and is served all the same)."""
    if services.claims is None:
        return None
    try:
        return services.claims.claimed(account)
    except Exception as exc:  # the node is down, slow or not the chain we think: say nothing
        log.warning("cannot read claimed(%s) from the rewards contract: %s", account, type(exc).__name__)
        return None


def _anchored_balance(session: Session, account: str) -> int:
    """The account's balance in the latest epoch anchored on-chain (mined or final): the only
    epoch a claim is accepted for. 0 before any."""
    latest = session.scalar(select(func.max(Epoch.number)).where(
        Epoch.state.in_((EpochState.MINED, EpochState.FINAL))))
    return 0 if latest is None else journal.balance_at(session, account, latest)


@router.get("/v1/accounts/{address}/contributions", operation_id="listAccountContributions",
            responses={**answers(AccountContributions), **problems("invalid-address", "invalid-request")})
def account_contributions(
    services: ServicesDep,
    address: AccountAddress,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: ContributionCursor = None,
) -> dict[str, Any]:
    """The account's contributions, newest first, with their anchoring state and whether each is
    in the public feed (`published`): what the feed page lists a contributor's own to publish from."""
    checksummed = parse_address(address, "address")
    query = select(Contribution).where(Contribution.contributor == checksummed)
    if before is not None:
        query = query.where(Contribution.id < before)
    with services.sessions() as session:
        rows = list(session.scalars(query.order_by(Contribution.id.desc()).limit(limit + 1)))
        storage = storage_state(session, [r.cid for r in rows])
        states = dict(session.execute(select(Epoch.number, Epoch.state).where(
            Epoch.number.in_({r.epoch for r in rows if r.epoch is not None}))).all())
        published = set(session.scalars(select(Publication.contribution_id).where(
            Publication.contribution_id.in_([r.id for r in rows]))))
    page = rows[:limit]
    items = []
    for row in page:
        items.append({**contribution_json(row, storage[row.cid], states.get(row.epoch) if row.epoch else None),
                      "published": row.id in published})
    return {"address": checksummed, "items": items, "next": page[-1].id if len(rows) > limit else None}
