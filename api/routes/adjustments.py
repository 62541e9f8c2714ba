"""Grants and clawbacks by an operator (admin API key), idempotent by the caller's `ref`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.problems import Problem
from api.routes.admin import require_admin
from api.routes.body import read_json
from api.submission import invalid_field, parse_address
from api.views import adjustment_json
from ledger import adjustments

router = APIRouter(tags=["adjustments"])

_SCHEMA = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["points", "ref"], "additionalProperties": False,
    "properties": {
        "points": {"type": "string", "pattern": "^[1-9][0-9]*$",
                   "description": "a positive decimal string (a JSON integer below 2^53 is accepted too)"},
        "ref": {"type": "string", "minLength": 1, "maxLength": adjustments.MAX_REF_LENGTH,
                "description": "your idempotency key; public: it appears in the epoch's manifest"},
    }}}}}}

Apply = Callable[..., adjustments.Outcome]


@router.post("/v1/accounts/{address}/grants", status_code=201, openapi_extra=_SCHEMA)
async def grant(request: Request, address: str) -> JSONResponse:
    """Credit points to an account from the rewards pool. Admin only. Sending the same `ref`
    again answers 200 with the first grant and moves nothing."""
    return await _adjust(request, address, adjustments.grant)


@router.post("/v1/accounts/{address}/clawbacks", status_code=201, openapi_extra=_SCHEMA)
async def claw_back(request: Request, address: str) -> JSONResponse:
    """Return points from an account to the rewards pool, never below a zero balance. Admin only;
    idempotent by `ref` like grants."""
    return await _adjust(request, address, adjustments.claw_back)


async def _adjust(request: Request, address: str, apply: Apply) -> JSONResponse:
    require_admin(request)
    account = parse_address(address, "address")
    points, ref = _parse(await read_json(request, 4096))
    sessions = request.app.state.intake.sessions

    def run() -> adjustments.Outcome:
        with sessions() as session, session.begin():
            return _apply(session, apply, account, points, ref)

    outcome = await run_in_threadpool(run)
    return JSONResponse(adjustment_json(outcome.adjustment), status_code=200 if outcome.replayed else 201)


def _apply(session: Session, apply: Apply, account: str, points: int, ref: str) -> adjustments.Outcome:
    try:
        return apply(session, account=account, points=points, ref=ref, now=int(time.time()))
    except adjustments.ReferenceReusedError as exc:
        raise Problem("ref-reused", str(exc), existing=adjustment_json(exc.existing)) from None
    except adjustments.InsufficientPointsError as exc:
        raise Problem("insufficient-points", str(exc)) from None
    except adjustments.AdjustmentError as exc:
        raise invalid_field("body", str(exc)) from None


def _parse(body: Any) -> tuple[int, str]:
    if not isinstance(body, dict):
        raise invalid_field("body", "expected a JSON object with points and ref")
    unknown = sorted(set(body) - {"points", "ref"})
    if unknown:
        raise invalid_field(unknown[0], "unknown field")
    raw, ref = body.get("points"), body.get("ref")
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and not raw.startswith("0"):
        points = int(raw)
    elif isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw < 2**53:
        points = raw
    else:
        raise invalid_field("points", "a positive decimal string")
    if not isinstance(ref, str):
        raise invalid_field("ref", "a string")
    return points, ref
