"""Submitting contributions and reading them back."""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api.problems import MEDIA_TYPE, Problem
from api.routes.admin import require_admin
from api.routes.body import read_json
from api.submission import Accepted, BatchBody, SubmissionBody
from api.views import contribution_json
from ledger.models import Contribution, Epoch
from ledger.outbox import storage_state
from ledger.privacy import erase

router = APIRouter(tags=["contributions"])

_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


def _accepted_json(accepted: Accepted) -> dict[str, Any]:
    body = contribution_json(accepted.contribution)
    body["score"] = accepted.score.as_dict()
    return body


@router.post(
    "/v1/contributions",
    status_code=201,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": SubmissionBody.model_json_schema()}}}},
)
async def submit(request: Request) -> JSONResponse:
    """Submit one conversation with the contributor's EIP-712 consent."""
    intake = request.app.state.intake
    body = await read_json(request, intake.limits.max_body_bytes)
    accepted = await run_in_threadpool(intake.submit, body)
    return JSONResponse(_accepted_json(accepted), status_code=201,
                        headers={"Location": f"/v1/contributions/{accepted.contribution.id}"})


@router.post(
    "/v1/contributions:batch",
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": BatchBody.model_json_schema()}}}},
)
async def submit_batch(request: Request) -> JSONResponse:
    """Submit up to limits.maxBatch conversations; one result per item, in order."""
    intake = request.app.state.intake
    limit = intake.limits.max_body_bytes * intake.limits.max_batch
    body = await read_json(request, limit)
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise Problem("invalid-request", "items: must be a list of submissions",
                      errors=[{"field": "items", "message": "must be a list"}])
    if len(items) > intake.limits.max_batch:
        raise Problem("batch-too-large",
                      f"{len(items)} items; a batch holds at most {intake.limits.max_batch}")
    results = await run_in_threadpool(intake.submit_batch, items)
    out: list[dict[str, Any]] = []
    for result in results:
        if isinstance(result, Problem):
            out.append({"status": result.type.status, "problem": result.body()})
        else:
            out.append({"status": 201, "contribution": _accepted_json(result)})
    accepted = sum(1 for r in out if r["status"] == 201)
    return JSONResponse({"accepted": accepted, "refused": len(out) - accepted, "results": out})


def find_contribution(request: Request, key: str) -> Contribution:
    intake = request.app.state.intake
    with intake.sessions() as session:
        if key.isdigit():
            row = session.get(Contribution, int(key))
        elif _HASH.match(key):
            row = session.scalar(
                select(Contribution).where(Contribution.content_hash == bytes.fromhex(key[2:]))
            )
        else:
            raise Problem("invalid-request", "a contribution is named by its id or its 0x contentHash")
    if row is None:
        raise Problem("not-found", f"no contribution {key}")
    return row


@router.get("/v1/contributions/{key}", responses={404: {"content": {MEDIA_TYPE: {}}}})
def get_contribution(request: Request, key: str) -> dict[str, Any]:
    """A contribution by id or contentHash, with its consent, receipt and log position."""
    row = find_contribution(request, key)
    with request.app.state.intake.sessions() as session:
        storage = storage_state(session, [row.cid])[row.cid]
        epoch_state = session.scalar(select(Epoch.state).where(Epoch.number == row.epoch)) if row.epoch else None
    return contribution_json(row, storage, epoch_state)


@router.post("/v1/contributions/{key}:erase")
def erase_contribution(request: Request, key: str) -> dict[str, Any]:
    """Erase a private contribution's content on request: its data key is destroyed, so every
    stored copy becomes unreadable; the public commitment and the points stay. Admin only."""
    require_admin(request)
    row = find_contribution(request, key)
    if not row.encrypted:
        raise Problem("invalid-request", f"contribution {row.id} was stored in public mode: it cannot be "
                      "crypto-shredded")
    with request.app.state.intake.sessions() as session, session.begin():
        erased = erase(session, row.id, now=int(time.time()))
    return {"id": row.id, "erased": True, "alreadyErased": not erased}
