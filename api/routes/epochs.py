"""Epochs, their manifests, and consistency proofs between log sizes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import select

from api.openapi import answers, header_docs, problems
from api.routes.params import EpochCursor, EpochNumber
from api.schemas import ConsistencyProof, EpochPage, EpochView
from api.services import Services, ServicesDep
from ledger import jcs
from ledger.content import cid_of
from ledger.encoding import checksum, hex0x
from ledger.errors import InvalidInputError, NotFoundError
from ledger.explorer import explorer_for
from ledger.formats import BalancesSnapshot
from ledger.merkle.stored import StoredLog
from ledger.models import Epoch
from ledger.outbox import storage_state
from ledger.proofs import header_json, transaction_json

router = APIRouter(tags=["epochs"])

def _epoch_json(services: Services, epoch: Epoch, storage: str = "local") -> dict[str, Any]:
    chain = services.chain
    explorer = explorer_for(chain.chain_id, chain.explorer_url, chain.explorer_kind)
    tx = transaction_json(epoch)
    return {
        **header_json(epoch),
        "firstIndex": epoch.first_index,
        "contributions": epoch.contributions,
        "journalEntries": epoch.journal_entries,
        "accounts": epoch.accounts,
        "transaction": tx,
        "gasUsed": epoch.gas_used,
        "finalizedAt": epoch.finalized_at,
        "explorer": explorer.links(chain.contract, epoch.tx_hash if tx else None) if explorer else None,
        "storage": storage,
    }


@router.get("/v1/epochs", operation_id="listEpochs",
            responses={**answers(EpochPage), **problems("invalid-request")})
def epochs(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: EpochCursor = None,
) -> dict[str, Any]:
    """Epochs, newest first."""
    query = select(Epoch).order_by(Epoch.number.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(Epoch.number < before)
    with services.sessions() as session:
        rows = list(session.scalars(query))
        storage = storage_state(session, [e.manifest_cid for e in rows])
    page = rows[:limit]
    return {"items": [_epoch_json(services, e, storage[e.manifest_cid]) for e in page],
            "next": page[-1].number if len(rows) > limit else None}


def _get_epoch(services: Services, number: int) -> Epoch:
    with services.sessions() as session:
        epoch = session.get(Epoch, number)
    if epoch is None:
        raise NotFoundError(f"no epoch {number}")
    return epoch


@router.get("/v1/epochs/{number}", operation_id="getEpoch",
            responses={**answers(EpochView), **problems("not-found", "invalid-request")})
def epoch(services: ServicesDep, number: EpochNumber) -> dict[str, Any]:
    epoch = _get_epoch(services, number)
    with services.sessions() as session:
        storage = storage_state(session, [epoch.manifest_cid])[epoch.manifest_cid]
    return _epoch_json(services, epoch, storage)


@router.get("/v1/epochs/{number}/manifest", operation_id="getEpochManifest", response_class=Response,
            responses={200: {
                "description": "The manifest, the JCS bytes stored under manifestCid",
                "content": {"application/json": {"schema": {"type": "object"}}},
                "headers": header_docs({"X-Content-CID": "the manifest's CID"}),
            }, **problems("not-found", "invalid-request")})
def manifest(services: ServicesDep, number: EpochNumber) -> Response:
    """The epoch's manifest, byte for byte as stored under its CID (JCS JSON)."""
    epoch = _get_epoch(services, number)
    data = services.store.get(epoch.manifest_cid)
    return Response(data, media_type="application/json",
                    headers={"X-Content-CID": epoch.manifest_cid,
                             "Cache-Control": "public, max-age=31536000, immutable"})


@router.get("/v1/epochs/{number}/balances", operation_id="getEpochBalances", response_class=Response,
            responses={200: {
                "description": "Every balance after the epoch, as a balances snapshot (docs/formats.md §6)",
                "content": {"application/json": {"schema": {"type": "object"}}},
                "headers": header_docs({"X-Content-CID": "the snapshot's CID, whether or not a manifest names it"}),
            }, **problems("not-found", "invalid-request")})
def balances(services: ServicesDep, number: EpochNumber) -> Response:
    """Every non-zero balance after the epoch, on demand: the snapshot a manifest names every few
    epochs, for any epoch, rebuilt from the published manifests and snapshots and checked
    against the epoch's balances root (JCS JSON)."""
    epoch = _get_epoch(services, number)
    rebuilt = services.balance_trees.balances(epoch.manifest_cid)
    values = tuple((checksum(account), balance) for account, balance in sorted(rebuilt.items()))
    snapshot = BalancesSnapshot(epoch.chain_id, epoch.contract, epoch.number, epoch.balances_root,
                                epoch.total_points, values)
    data = jcs.dumps(snapshot.to_json())
    return Response(data, media_type="application/json",
                    headers={"X-Content-CID": cid_of(data), "Cache-Control": "public, max-age=31536000, immutable"})


@router.get("/v1/log/consistency", operation_id="getConsistencyProof",
            responses={**answers(ConsistencyProof), **problems("invalid-request")})
def consistency(
    services: ServicesDep,
    first: Annotated[int, Query(ge=0, description="the older log size")],
    second: Annotated[int | None, Query(ge=0, description="the newer log size (default: current)")] = None,
) -> dict[str, Any]:
    """An RFC 9162 §2.1.4 consistency proof between two sizes of the contribution log."""
    with services.sessions() as session:
        log = StoredLog(session)
        size = log.size()
        second = size if second is None else second
        if first > second or second > size:
            raise InvalidInputError(f"need 0 <= first <= second <= {size} (the log's size)")
        proof = log.consistency_proof(first, second)
        first_root, second_root = log.root(first), log.root(second)
    return {"first": first, "second": second, "firstRoot": hex0x(first_root),
            "secondRoot": hex0x(second_root), "proof": [hex0x(p) for p in proof]}
