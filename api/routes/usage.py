"""Usage reports from a data consumer (data-consumer API key), idempotent by the report's `ref`."""

from __future__ import annotations

import time
from typing import Any, cast

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.openapi import DATA_CONSUMER_KEY, JSON_BODY, answers, problems, secured
from api.routes.admin import require_data_consumer
from api.routes.body import read_json
from api.routes.exports import CONSUMER
from api.schemas import UsageReportView
from api.services import ServicesDep
from api.views import report_json
from ledger import usage
from ledger.encoding import HASH_PATTERN
from ledger.errors import InvalidFieldError

router = APIRouter(tags=["usage"])

_SCHEMA = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["ref", "items"], "additionalProperties": False,
    "properties": {
        "ref": {"type": "string", "minLength": 1, "maxLength": 128,
                "description": "your idempotency key for this report; public: it appears in the epoch's manifest"},
        "items": {"type": "array", "minItems": 1, "maxItems": usage.MAX_ITEMS, "items": {
            "type": "object", "required": ["contribution"], "additionalProperties": False,
            "properties": {
                "contribution": {"description": "the contribution's id, or its contentHash (0x + 64 hex)",
                                 "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string"}]},
                "units": {"type": "integer", "minimum": 1, "maximum": usage.MAX_UNITS, "default": 1},
            }}},
    }}, "example": {"ref": "train-run-2026-11-30", "items": [
        {"contribution": 42, "units": 3},
        {"contribution": "0x" + "ab" * 32},
    ]}}}}, **secured(DATA_CONSUMER_KEY)}


@router.post("/v1/usage", status_code=201, openapi_extra=_SCHEMA, dependencies=[Depends(require_data_consumer)],
             operation_id="reportUsage",
             responses={**answers(UsageReportView, 201, "Recorded: the contributors are credited"),
                        **answers(UsageReportView, 200, "This report was recorded before: the first answer"),
                        **problems(*JSON_BODY, "unauthorized", "ref-reused")})
async def report_usage(request: Request, services: ServicesDep) -> JSONResponse:
    """Report uses of contributions the data consumer received (GET /v1/export; any other is a
    422): each contributor earns `units` x the configured points per
    unit (GET /v1/config `usage.pointsPerUnit`). Sending the same report (same `ref`, same items)
    again answers 200 and credits nothing more; another report with that `ref` is a 409."""
    ref, items = _parse(await read_json(request, 256 * 1024))
    sessions, points_per_unit = services.sessions, services.usage.points_per_unit

    def run() -> usage.UsageOutcome:
        with sessions() as session, session.begin():
            return usage.record_usage(session, ref=ref, items=usage.resolve_items(session, items),
                                      points_per_unit=points_per_unit, now=int(time.time()), consumer=CONSUMER)

    outcome = await run_in_threadpool(run)
    return JSONResponse(report_json(outcome.report), status_code=200 if outcome.replayed else 201)


def _parse(body: Any) -> tuple[str, list[tuple[int | str, int]]]:
    if not isinstance(body, dict) or set(body) - {"ref", "items"}:
        raise InvalidFieldError("body", "expected a JSON object with ref and items, nothing else")
    ref, raw = body.get("ref"), body.get("items")
    if not isinstance(ref, str):
        raise InvalidFieldError("ref", "a string")
    if not isinstance(raw, list) or not 0 < len(raw) <= usage.MAX_ITEMS:
        raise InvalidFieldError("items", f"a list of 1 to {usage.MAX_ITEMS} items")
    items: list[tuple[int | str, int]] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) - {"contribution", "units"}:
            raise InvalidFieldError(f"items[{index}]", "an object with contribution and units")
        key, units = item.get("contribution"), item.get("units", 1)
        by_id = isinstance(key, int) and not isinstance(key, bool) and key > 0
        by_hash = isinstance(key, str) and HASH_PATTERN.fullmatch(key) is not None
        if not (by_id or by_hash):
            raise InvalidFieldError(f"items[{index}].contribution", "an id or a contentHash")
        items.append((cast(int | str, key), _units(index, units)))
    return ref, items


def _units(index: int, units: object) -> int:
    if isinstance(units, bool) or not isinstance(units, int) or not 0 < units <= usage.MAX_UNITS:
        raise InvalidFieldError(f"items[{index}].units", f"an integer from 1 to {usage.MAX_UNITS}")
    return units
