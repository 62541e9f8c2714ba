"""Usage reports from a data consumer (data-consumer API key), idempotent by the report's `ref`."""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api.problems import Problem
from api.routes.admin import require_bearer
from api.routes.body import read_json
from api.submission import invalid_field
from api.views import report_json
from ledger import usage
from ledger.models import Contribution

router = APIRouter(tags=["usage"])

_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")

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
    }}}}}}


@router.post("/v1/usage", status_code=201, openapi_extra=_SCHEMA)
async def report_usage(request: Request) -> JSONResponse:
    """Report uses of contributions: each contributor earns `units` x the configured points per
    unit (GET /v1/config `usage.pointsPerUnit`). Sending the same report (same `ref`, same items)
    again answers 200 and credits nothing more; another report with that `ref` is a 409."""
    policy = request.app.state.usage
    require_bearer(request, policy.api_key, "data-consumer")
    ref, items = _parse(await read_json(request, 256 * 1024))
    sessions = request.app.state.intake.sessions

    def run() -> usage.UsageOutcome:
        with sessions() as session, session.begin():
            resolved = _resolve(session, items)
            try:
                return usage.record_usage(session, ref=ref, items=resolved,
                                          points_per_unit=policy.points_per_unit, now=int(time.time()))
            except usage.ReportReusedError as exc:
                raise Problem("ref-reused", str(exc)) from None
            except usage.UnknownContributionError as exc:
                raise invalid_field(f"items[{exc.index}].contribution", "no such contribution") from None
            except usage.UsageError as exc:
                raise invalid_field("body", str(exc)) from None

    outcome = await run_in_threadpool(run)
    return JSONResponse(report_json(outcome.report), status_code=200 if outcome.replayed else 201)


def _parse(body: Any) -> tuple[str, list[tuple[int | str, int]]]:
    if not isinstance(body, dict) or set(body) - {"ref", "items"}:
        raise invalid_field("body", "expected a JSON object with ref and items, nothing else")
    ref, raw = body.get("ref"), body.get("items")
    if not isinstance(ref, str):
        raise invalid_field("ref", "a string")
    if not isinstance(raw, list) or not 0 < len(raw) <= usage.MAX_ITEMS:
        raise invalid_field("items", f"a list of 1 to {usage.MAX_ITEMS} items")
    items: list[tuple[int | str, int]] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) - {"contribution", "units"}:
            raise invalid_field(f"items[{index}]", "an object with contribution and units")
        key, units = item.get("contribution"), item.get("units", 1)
        valid_id = isinstance(key, int) and not isinstance(key, bool) and key > 0
        if not (valid_id or (isinstance(key, str) and _HASH.match(key))):
            raise invalid_field(f"items[{index}].contribution", "an id or a contentHash")
        if isinstance(units, bool) or not isinstance(units, int) or not 0 < units <= usage.MAX_UNITS:
            raise invalid_field(f"items[{index}].units", f"an integer from 1 to {usage.MAX_UNITS}")
        items.append((key, units))
    return ref, items


def _resolve(session: Any, items: list[tuple[int | str, int]]) -> list[tuple[int, int]]:
    """Contribution ids for the items; a contentHash nobody contributed is reported by index."""
    hashes = {bytes.fromhex(key[2:]) for key, _ in items if isinstance(key, str)}
    ids = dict(session.execute(select(Contribution.content_hash, Contribution.id)
                               .where(Contribution.content_hash.in_(hashes))).all()) if hashes else {}
    resolved: list[tuple[int, int]] = []
    for index, (key, units) in enumerate(items):
        if isinstance(key, str):
            found = ids.get(bytes.fromhex(key[2:]))
            if found is None:
                raise invalid_field(f"items[{index}].contribution", "no contribution has this contentHash")
            key = found
        resolved.append((key, units))
    return resolved
