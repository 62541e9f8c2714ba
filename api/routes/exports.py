"""Data out to consumers: contributions as JSON Lines (data-consumer key), and the operator's
list of what went out (admin key)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.openapi import ADMIN_KEY, DATA_CONSUMER_KEY, answers, header_docs, problems, secured
from api.routes.admin import require_admin, require_data_consumer
from api.schemas import ExportList
from api.services import ServicesDep
from ledger import export
from ledger.ids import MAX_ROW_ID

router = APIRouter(tags=["usage"])

CONSUMER = export.DATA_CONSUMER

After = Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="the last contribution id already received")]
Limit = Annotated[int, Query(ge=1, le=export.MAX_EXPORT, description="how many contributions, in id order")]


@router.get("/v1/export", dependencies=[Depends(require_data_consumer)], operation_id="exportContributions",
            response_class=StreamingResponse, openapi_extra=secured(DATA_CONSUMER_KEY),
            responses={200: {
                "description": "One JSON object a line: id, contentHash, cid, contributor, acceptedAt, scorer, "
                               "points, termsHash, the canonical conversation and its images ({cid, mediaType, "
                               "size} with url /ipfs/{cid} in public mode, data (base64) in privacy mode)",
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
                "headers": header_docs({"X-Export-Count": "how many lines follow",
                                        "X-Export-Last-Id": "the id to ask `after` next",
                                        "X-Export-Remaining": "exportable contributions after that id"}),
            }, **problems("unauthorized", "invalid-request")})
async def export_contributions(services: ServicesDep, after: After = 0, limit: Limit = 100) -> StreamingResponse:
    """The next `limit` accepted, not erased contributions after id `after`, recorded as sent to
    the data consumer before the first line: usage (POST /v1/usage) may be reported for these."""
    intake = services.intake

    def start() -> export.ExportPage:
        with intake.sessions() as session, session.begin():
            page = export.start_export(session, consumer=CONSUMER, after=after, limit=limit, now=int(time.time()))
            session.expunge_all()
            return page

    page = await run_in_threadpool(start)
    return StreamingResponse(export.export_lines(page.rows, intake.read_conversation, page.images, intake.read_image),
                             media_type="application/x-ndjson",
                             headers={"X-Export-Count": str(page.record.count),
                                      "X-Export-Last-Id": str(page.record.last_id),
                                      "X-Export-Remaining": str(page.remaining)})


@router.get("/v1/admin/exports", dependencies=[Depends(require_admin)], operation_id="listExports",
            openapi_extra=secured(ADMIN_KEY),
            responses={**answers(ExportList), **problems("unauthorized", "invalid-request")})
async def exports(services: ServicesDep,
                  limit: Annotated[int, Query(ge=1, le=1000, description="how many, newest first")] = 100,
                  ) -> dict[str, Any]:
    """What went out to data consumers: each export's consumer, id range, count and time. Admin only."""

    def build() -> dict[str, Any]:
        with services.sessions() as session:
            return {"items": [{"id": e.id, "consumer": e.consumer, "after": e.after_id, "last": e.last_id,
                               "count": e.count, "createdAt": e.created_at}
                              for e in export.exports(session, limit=limit)]}

    return await run_in_threadpool(build)
