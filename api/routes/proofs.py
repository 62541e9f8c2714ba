"""Proof bundles for a contribution and for an account's balance."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.bundles import balance_bundle, contribution_bundle
from api.routes.contributions import find_contribution
from api.submission import parse_address

router = APIRouter(tags=["proofs"])

EpochQuery = Annotated[int | None, Query(ge=1, description="prove against this epoch (default: latest final)")]


@router.get("/v1/contributions/{key}/proof")
def contribution_proof(request: Request, key: str, epoch: EpochQuery = None) -> dict[str, Any]:
    """An RFC 9162 inclusion proof of the contribution against an anchored epoch's log."""
    row = find_contribution(request, key)
    intake = request.app.state.intake
    with intake.sessions() as session:
        return contribution_bundle(session, request.app.state.chain, row, epoch)


@router.get("/v1/accounts/{address}/proof")
async def account_proof(request: Request, address: str, epoch: EpochQuery = None) -> dict[str, Any]:
    """An OpenZeppelin Merkle proof of the account's balance in an anchored epoch."""
    checksummed = parse_address(address, "address")
    intake = request.app.state.intake

    def build() -> dict[str, Any]:
        with intake.sessions() as session:
            return balance_bundle(session, request.app.state.chain, request.app.state.balance_trees,
                                  checksummed, epoch)

    return await run_in_threadpool(build)
