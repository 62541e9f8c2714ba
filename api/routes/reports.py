"""The operator's accrual report (admin API key): who accrues the most, and from where."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from api.openapi import ADMIN_KEY, answers, problems, secured
from api.routes.admin import require_admin
from api.schemas import AccrualReport
from api.services import ServicesDep
from ledger.ids import MAX_ROW_ID
from ledger.reports import top_accruals

router = APIRouter(tags=["admin"])

Since = Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="Unix seconds: contributions accepted from then on")]
Limit = Annotated[int, Query(ge=1, le=1000, description="how many accounts, the most points first")]


@router.get("/v1/admin/accruals", dependencies=[Depends(require_admin)], operation_id="getAccrualReport",
            openapi_extra=secured(ADMIN_KEY),
            responses={**answers(AccrualReport), **problems("unauthorized", "invalid-request")})
async def accruals(services: ServicesDep, since: Since = 0, limit: Limit = 50) -> dict[str, Any]:
    """The accounts that accrued the most points since `since`, with the client addresses their
    contributions came from: a farm of accounts shows up behind a few addresses. Admin only."""

    def build() -> dict[str, Any]:
        with services.sessions() as session:
            rows = top_accruals(session, since=since, limit=limit)
        return {"since": since, "accounts": [row.as_json() for row in rows]}

    return await run_in_threadpool(build)
