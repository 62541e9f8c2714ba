"""Grants and clawbacks by an operator (admin API key), idempotent by the caller's `ref`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.openapi import ADMIN_KEY, JSON_BODY, answers, problems, secured
from api.routes.admin import require_admin
from api.routes.body import read_json
from api.routes.params import AccountAddress
from api.schemas import AdjustmentView
from api.services import Services, ServicesDep
from ledger import adjustments
from ledger.adjustments import adjustment_json
from ledger.encoding import parse_address
from ledger.errors import InvalidFieldError

router = APIRouter(tags=["adjustments"])

_SCHEMA = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["points", "ref"], "additionalProperties": False,
    "properties": {
        "points": {"type": "string", "pattern": "^[1-9][0-9]*$",
                   "description": "a positive decimal string (a JSON integer below 2^53 is accepted too)"},
        "ref": {"type": "string", "minLength": 1, "maxLength": adjustments.MAX_REF_LENGTH,
                "description": "your idempotency key; public: it appears in the epoch's manifest"},
    }}, "example": {"points": "250", "ref": "bounty-2026-11-42"}}}}, **secured(ADMIN_KEY)}

_PROBLEMS = (*JSON_BODY, "unauthorized", "invalid-address", "ref-reused")

Apply = Callable[..., adjustments.Outcome]


@router.post("/v1/accounts/{address}/grants", status_code=201, openapi_extra=_SCHEMA,
             dependencies=[Depends(require_admin)], operation_id="grantPoints",
             responses={**answers(AdjustmentView, 201, "Granted"),
                        **answers(AdjustmentView, 200, "This ref was granted before: the first grant"),
                        **problems(*_PROBLEMS)})
async def grant(request: Request, services: ServicesDep, address: AccountAddress) -> JSONResponse:
    """Credit points to an account from the rewards pool. Admin only. Sending the same `ref`
    again answers 200 with the first grant and moves nothing."""
    return await _adjust(request, services, address, adjustments.grant)


@router.post("/v1/accounts/{address}/clawbacks", status_code=201, openapi_extra=_SCHEMA,
             dependencies=[Depends(require_admin)], operation_id="clawBackPoints",
             responses={**answers(AdjustmentView, 201, "Clawed back"),
                        **answers(AdjustmentView, 200, "This ref was clawed back before: the first clawback"),
                        **problems(*_PROBLEMS, "insufficient-points")})
async def claw_back(request: Request, services: ServicesDep, address: AccountAddress) -> JSONResponse:
    """Return points from an account to the rewards pool, never below a zero balance. Admin only;
    idempotent by `ref` like grants."""
    return await _adjust(request, services, address, adjustments.claw_back)


async def _adjust(request: Request, services: Services, address: str, apply: Apply) -> JSONResponse:
    account = parse_address(address, "address")
    points, ref = _parse(await read_json(request, 4096))
    sessions = services.sessions

    def run() -> adjustments.Outcome:
        with sessions() as session, session.begin():
            return apply(session, account=account, points=points, ref=ref, now=int(time.time()))

    outcome = await run_in_threadpool(run)
    return JSONResponse(adjustment_json(outcome.adjustment), status_code=200 if outcome.replayed else 201)


def _parse(body: Any) -> tuple[int, str]:
    if not isinstance(body, dict):
        raise InvalidFieldError("body", "expected a JSON object with points and ref")
    unknown = sorted(set(body) - {"points", "ref"})
    if unknown:
        raise InvalidFieldError(unknown[0], "unknown field")
    raw, ref = body.get("points"), body.get("ref")
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and not raw.startswith("0"):
        points = int(raw)
    elif isinstance(raw, int) and not isinstance(raw, bool) and 0 < raw < 2**53:
        points = raw
    else:
        raise InvalidFieldError("points", "a positive decimal string")
    if not isinstance(ref, str):
        raise InvalidFieldError("ref", "a string")
    return points, ref
