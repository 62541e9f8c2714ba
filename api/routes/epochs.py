"""Epochs, their manifests, and consistency proofs between log sizes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from api.bundles import header_json, transaction_json
from api.explorer import explorer_for
from api.problems import Problem
from ledger.merkle.stored import StoredLog
from ledger.models import Epoch
from ledger.outbox import storage_state

router = APIRouter(tags=["epochs"])


def _epoch_json(request: Request, epoch: Epoch, storage: str = "local") -> dict[str, Any]:
    chain = request.app.state.chain
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


@router.get("/v1/epochs")
def epochs(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, description="cursor: list epochs below this number")] = None,
) -> dict[str, Any]:
    """Epochs, newest first."""
    intake = request.app.state.intake
    query = select(Epoch).order_by(Epoch.number.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(Epoch.number < before)
    with intake.sessions() as session:
        rows = list(session.scalars(query))
        storage = storage_state(session, [e.manifest_cid for e in rows])
    page = rows[:limit]
    return {"items": [_epoch_json(request, e, storage[e.manifest_cid]) for e in page],
            "next": page[-1].number if len(rows) > limit else None}


def _get_epoch(request: Request, number: int) -> Epoch:
    with request.app.state.intake.sessions() as session:
        epoch = session.get(Epoch, number)
    if epoch is None:
        raise Problem("not-found", f"no epoch {number}")
    return epoch


@router.get("/v1/epochs/{number}")
def epoch(request: Request, number: int) -> dict[str, Any]:
    epoch = _get_epoch(request, number)
    with request.app.state.intake.sessions() as session:
        storage = storage_state(session, [epoch.manifest_cid])[epoch.manifest_cid]
    return _epoch_json(request, epoch, storage)


@router.get("/v1/epochs/{number}/manifest")
def manifest(request: Request, number: int) -> Response:
    """The epoch's manifest, byte for byte as stored under its CID (JCS JSON)."""
    epoch = _get_epoch(request, number)
    data = request.app.state.intake.store.get(epoch.manifest_cid)
    return Response(data, media_type="application/json",
                    headers={"X-Content-CID": epoch.manifest_cid,
                             "Cache-Control": "public, max-age=31536000, immutable"})


@router.get("/v1/log/consistency")
def consistency(
    request: Request,
    first: Annotated[int, Query(ge=0, description="the older log size")],
    second: Annotated[int | None, Query(ge=0, description="the newer log size (default: current)")] = None,
) -> dict[str, Any]:
    """An RFC 9162 §2.1.4 consistency proof between two sizes of the contribution log."""
    with request.app.state.intake.sessions() as session:
        log = StoredLog(session)
        size = log.size()
        second = size if second is None else second
        if first > second or second > size:
            raise Problem("invalid-request", f"need 0 <= first <= second <= {size} (the log's size)")
        proof = log.consistency_proof(first, second)
        first_root, second_root = log.root(first), log.root(second)
    return {"first": first, "second": second, "firstRoot": "0x" + first_root.hex(),
            "secondRoot": "0x" + second_root.hex(), "proof": ["0x" + p.hex() for p in proof]}
