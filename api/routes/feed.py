"""The opt-in public feed (``ledger.feed``, docs/formats.md §11): publish, engage, read the feed."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from api.openapi import JSON_BODY, answers, problems, rate_limited
from api.routes.body import read_json
from api.routes.contributions import find_contribution
from api.routes.params import ContributionKey
from api.schemas import (
    ENGAGE_EXAMPLE,
    PUBLISH_EXAMPLE,
    EngageBody,
    EngagementView,
    FeedCard,
    FeedPageView,
    PublicationView,
    PublishBody,
)
from api.services import ServicesDep
from ledger import feed
from ledger.ids import MAX_ROW_ID
from ledger.models import ContributionImage, Publication

router = APIRouter(tags=["feed"])

STATEMENT_PROBLEMS = (*JSON_BODY, "invalid-signature", "stale-issued-at", "future-issued-at", "signer-mismatch",
                      "nonce-reused", "not-found")
MAX_STATEMENT_BYTES = 4096


def _body(schema: type[PublishBody | EngageBody], example: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": schema.model_json_schema(), "example": example}}}}


@router.post("/v1/contributions/{key:contribution}:publish", operation_id="publishContribution",
             openapi_extra=_body(PublishBody, PUBLISH_EXAMPLE),
             responses={**answers(PublicationView), **problems(*STATEMENT_PROBLEMS, "content-erased")})
async def publish(request: Request, services: ServicesDep, key: ContributionKey) -> dict[str, Any]:
    """Publish a contribution in the public feed, or withdraw it, with its contributor's EIP-712
    Publish (GET /v1/config `eip712.publish`); only the contributor's signature counts. A
    published conversation is served in the clear (decrypted in privacy mode) until withdrawn or
    erased, both of which take it out of the feed at once."""
    body = await read_json(request, MAX_STATEMENT_BYTES)
    row = await run_in_threadpool(find_contribution, services, key)
    intake = services.intake

    now = int(intake.clock())

    def run() -> Publication | None:
        statement = feed.check_publish(intake.consent, row, body, now=now)
        # Read (and decrypt) before the transaction: the content store has sessions of its own.
        canonical = intake.read_conversation(row) if statement.visible else None
        with services.sessions() as session, session.begin():
            return feed.publish(session, row, statement, now=now, canonical=canonical)

    publication = await run_in_threadpool(run)
    return {"id": row.id, "visible": publication is not None,
            "publishedAt": None if publication is None else publication.published_at}


@router.post("/v1/contributions/{key:contribution}:engage", status_code=201, operation_id="engageContribution",
             openapi_extra=_body(EngageBody, ENGAGE_EXAMPLE),
             responses={**answers(EngagementView, 201, "Counted: the creator is credited"),
                        **problems(*STATEMENT_PROBLEMS, "invalid-address", "self-engagement", "already-engaged"),
                        429: rate_limited("the actor's engagements per UTC day allow another (the next day)")})
async def engage(request: Request, services: ServicesDep, key: ContributionKey) -> JSONResponse:
    """Like (kind 1) or remix (kind 2) a published contribution with the actor's EIP-712 Engage
    (GET /v1/config `eip712.engage`): its creator is credited `feed.pointsPerLike` or
    `feed.pointsPerRemix` as an `engagement` journal transfer. One like and one remix per actor
    and contribution; the contributor's own engagement is refused (403), and an actor past
    `feed.engagementsPerDay` gets 429."""
    body = await read_json(request, MAX_STATEMENT_BYTES)
    row = await run_in_threadpool(find_contribution, services, key)
    intake, policy = services.intake, services.engagement

    def run() -> dict[str, Any]:
        with services.sessions() as session, session.begin():
            counted = feed.engage(session, intake.consent, policy, row, body, now=int(intake.clock()))
            return {"id": counted.id, "contribution": row.id, "actor": counted.actor, "kind": counted.kind,
                    "points": str(policy.points(counted.kind) if counted.transfer_id else 0)}

    return JSONResponse(await run_in_threadpool(run), status_code=201)


@router.get("/v1/feed", operation_id="getFeed",
            responses={**answers(FeedPageView), **problems("invalid-request")})
def feed_page(services: ServicesDep,
              cursor: Annotated[str | None, Query(max_length=64, description="the `next` of the page before")] = None,
              limit: Annotated[int, Query(ge=1, le=feed.MAX_PAGE)] = feed.DEFAULT_PAGE) -> dict[str, Any]:
    """Published contributions, newest published first, with their images' CIDs, engagement counts
    and a conversation preview; page on with `next` (stable while others are published)."""
    with services.sessions() as session:
        page = feed.feed_page(session, cursor=cursor, limit=limit)
    return {"items": [item.as_json() for item in page.items], "next": page.next}


@router.get("/v1/feed/{contribution}", operation_id="getFeedItem",
            responses={**answers(FeedCard), **problems("not-found", "invalid-request")})
def feed_item(services: ServicesDep,
              contribution: Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="the contribution's id")],
              ) -> dict[str, Any]:
    """One published contribution's card with its canonical conversation in the clear."""
    with services.sessions() as session:
        items = feed.items_of(session, [contribution])
    if not items:
        raise feed.NotPublishedError(f"contribution {contribution} is not in the feed")
    row = find_contribution(services, str(contribution))
    conversation = json.loads(services.intake.read_conversation(row))
    return {**items[0].as_json(), "conversation": conversation}


@router.get("/v1/feed/{contribution}/images/{cid}", operation_id="getFeedImage",
            response_class=Response,
            responses={200: {"description": "The image's bytes, checked against its CID",
                             "content": {t: {} for t in ("image/png", "image/jpeg", "image/webp", "image/gif")}},
                       **problems("not-found", "invalid-request", "content-erased")})
def feed_image(services: ServicesDep,
               contribution: Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="the contribution's id")],
               cid: Annotated[str, Path(pattern=r"^b[a-z2-7]{1,127}$",
                                        description="one of its image CIDs (CIDv1, base32)")],
               ) -> Response:
    """An image of a published contribution, in the clear even in privacy mode (its contributor
    published it); only while it is in the feed, and only an image the contribution names."""
    with services.sessions() as session:
        items = feed.items_of(session, [contribution])
        if not items or cid not in items[0].images:
            raise feed.NotPublishedError(f"contribution {contribution} shows no image {cid} in the feed")
        image = session.scalars(select(ContributionImage).where(
            ContributionImage.contribution_id == contribution, ContributionImage.cid == cid)).first()
    if image is None:
        raise feed.NotPublishedError(f"contribution {contribution} holds no image {cid}")
    data = services.intake.read_image(image)
    # Content-addressed: the bytes behind this URL never change while it answers at all.
    return Response(data, media_type=image.media_type,
                    headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})
