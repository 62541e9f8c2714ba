"""Proof bundles for a contribution and for an account's balance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.openapi import answers, problems
from api.routes.contributions import find_contribution
from api.routes.params import AccountAddress, ContributionKey, EpochQuery
from api.schemas import BalanceProofBundle, ContributionProofBundle
from api.services import ServicesDep
from ledger.encoding import parse_address
from ledger.proofs import balance_bundle, contribution_bundle

router = APIRouter(tags=["proofs"])


@router.get("/v1/contributions/{key:contribution}/proof", operation_id="getContributionProof",
            responses={**answers(ContributionProofBundle),
                       **problems("not-found", "not-anchored", "invalid-request")})
def contribution_proof(services: ServicesDep, key: ContributionKey, epoch: EpochQuery = None) -> dict[str, Any]:
    """An RFC 9162 inclusion proof of the contribution against an anchored epoch's log."""
    row = find_contribution(services, key)
    with services.sessions() as session:
        return contribution_bundle(session, services.chain, row, epoch)


@router.get("/v1/accounts/{address}/proof", operation_id="getAccountProof",
            responses={**answers(BalanceProofBundle),
                       **problems("not-found", "not-anchored", "invalid-address", "invalid-request")})
async def account_proof(services: ServicesDep, address: AccountAddress, epoch: EpochQuery = None) -> dict[str, Any]:
    """An OpenZeppelin Merkle proof of the account's balance in an anchored epoch."""
    checksummed = parse_address(address, "address")

    def build() -> dict[str, Any]:
        with services.sessions() as session:
            return balance_bundle(session, services.chain, services.balance_trees, checksummed, epoch)

    return await run_in_threadpool(build)
