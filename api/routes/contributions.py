"""Submitting contributions and reading them back."""

from __future__ import annotations

import time
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api.openapi import ADMIN_KEY, JSON_BODY, answers, problems, rate_limited, secured
from api.problems import problem_body
from api.routes.admin import client_address, require_admin
from api.routes.body import parse_body, read_body
from api.routes.params import ContributionKey
from api.schemas import (
    BATCH_EXAMPLE,
    SUBMISSION_EXAMPLE,
    BatchResult,
    ContributionDetail,
    ContributionView,
    Erasure,
    SubmissionBody,
    batch_body_schema,
)
from api.services import Services, ServicesDep
from api.views import contribution_json, image_json
from ledger.attachments import images_of
from ledger.consent import BatchTooLargeError
from ledger.encoding import HASH_PATTERN
from ledger.errors import InvalidFieldError, InvalidInputError, NotFoundError, RateLimitedError, TallyError
from ledger.ids import MAX_ROW_ID, in_range
from ledger.intake import Accepted
from ledger.models import Contribution, Epoch, Publication
from ledger.outbox import storage_state
from ledger.privacy import erase

router = APIRouter(tags=["contributions"])

SUBMISSION_PROBLEMS = (
    *JSON_BODY, "invalid-address", "invalid-signature", "stale-issued-at", "future-issued-at",
    "terms-mismatch", "unknown-format", "malformed-conversation", "unknown-role",
    "incomplete-conversation", "signer-mismatch", "contains-personal-data", "nonce-reused",
    "duplicate-contribution", "near-duplicate", "rate-limited",
    "attachment-mismatch", "duplicate-image", "unsupported-media", "attachment-too-large", "missing-attachment",
)
"""What a submission may be refused with (a batch reports them per item, in its 200 answer)."""


def _accepted_json(accepted: Accepted) -> dict[str, Any]:
    body = contribution_json(accepted.contribution)
    body["score"] = accepted.score.as_dict()
    return body


async def _read_counted(request: Request, services: Services, client: str, limit: int,
                        attachments_limit: int | None = None) -> bytes:
    """The body of a submission request (``read_body``). A client address past its limit this
    minute is refused before it is read (``Intake.refuse_known_client``); a body refused here (its
    media type, its size) is counted for its client address, as every other request is."""
    services.intake.refuse_known_client(client)
    try:
        return await read_body(request, limit, attachments_limit)
    except TallyError:
        await to_thread.run_sync(services.intake.count_client_request, client, limiter=services.intake_threads)
        raise


@router.post(
    "/v1/contributions",
    status_code=201,
    operation_id="submitContribution",
    responses={**answers(ContributionView, 201, "Accepted: the contribution with its score and receipt",
                         {"Location": "the contribution's URL"}),
               **problems(*SUBMISSION_PROBLEMS),
               429: rate_limited("the limit lets this client or contributor submit again")},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": SubmissionBody.model_json_schema(), "example": SUBMISSION_EXAMPLE}}}},
)
async def submit(request: Request, services: ServicesDep) -> JSONResponse:
    """Submit one conversation with the contributor's EIP-712 consent."""
    intake, threads = services.intake, services.intake_threads
    client = client_address(request)
    # Counted with the submission (Intake.submit_request), in one hop to an intake thread.
    # A body may carry its conversation's images (attachments, docs/formats.md §2 version 2).
    limit = intake.limits.max_body_bytes
    data = await _read_counted(request, services, client, limit, intake.limits.max_attachment_body_bytes)
    accepted = await to_thread.run_sync(intake.submit_request, lambda: parse_body(data, limit), client,
                                        limiter=threads)
    return JSONResponse(_accepted_json(accepted), status_code=201,
                        headers={"Location": f"/v1/contributions/{accepted.contribution.id}"})


@router.post(
    "/v1/contributions:batch",
    operation_id="submitContributionBatch",
    responses={**answers(BatchResult, 200, "One result per item, accepted (201) or refused (a problem)"),
               **problems(*JSON_BODY, "batch-too-large", "batch-count-mismatch", "invalid-address",
                          "invalid-signature", "stale-issued-at", "future-issued-at", "terms-mismatch",
                          "signer-mismatch", "nonce-reused", "attachment-mismatch"),
               429: rate_limited("the limit lets this client or contributor submit again")},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
        "schema": batch_body_schema(), "example": BATCH_EXAMPLE}}}},
)
async def submit_batch(request: Request, services: ServicesDep) -> JSONResponse:
    """Submit up to limits.maxBatch conversations in at most limits.maxBatchBodyBytes; one result
    per item, in order. Either each item signed on its own (`items`), or all of them under one
    EIP-712 ContributionBatch signature (`conversations`, docs/formats.md): then a malformed
    consent, a count other than the number of conversations, a signature that is not the
    contributor's or a used batch nonce refuses the whole request and nothing is written, while
    an item refused for itself (duplicate, personal data, malformed) does not sink the others."""
    intake, threads = services.intake, services.intake_threads
    client = client_address(request)
    limit = intake.limits.max_batch_body_bytes
    data = await _read_counted(request, services, client, limit)

    def run() -> list[Accepted | TallyError]:
        # Counted, parsed and submitted in the same thread: one hop, not two.
        intake.count_client_request(client)
        body = parse_body(data, limit)
        if isinstance(body, dict) and "items" not in body and "conversations" in body:
            # One ContributionBatch signature for every conversation (ledger.batch_consent).
            return intake.submit_signed_batch(body, client)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise InvalidFieldError("items", "must be a list (or send a signed batch: conversations, count, ...)")
        if len(items) > intake.limits.max_batch:
            raise BatchTooLargeError(f"{len(items)} items; a batch holds at most {intake.limits.max_batch}")
        return intake.submit_batch(items, client)

    results = await to_thread.run_sync(run, limiter=threads)
    out: list[dict[str, Any]] = []
    for result in results:
        if isinstance(result, TallyError):
            problem = problem_body(result)
            out.append({"status": problem["status"], "problem": problem})
        else:
            out.append({"status": 201, "contribution": _accepted_json(result)})
    accepted = sum(1 for r in out if r["status"] == 201)
    if services.rate_limits is not None:
        services.rate_limits.count("batch-item", sum(1 for r in results if isinstance(r, RateLimitedError)))
    return JSONResponse({"accepted": accepted, "refused": len(out) - accepted, "results": out})


def find_contribution(services: Services, key: str) -> Contribution:
    """A contribution by its id (ASCII digits) or its 0x contentHash."""
    with services.sessions() as session:
        if key.isascii() and key.isdigit():
            row = session.get(Contribution, in_range(int(key), "key", MAX_ROW_ID))
        elif HASH_PATTERN.fullmatch(key):
            row = session.scalar(
                select(Contribution).where(Contribution.content_hash == bytes.fromhex(key[2:]))
            )
        else:
            raise InvalidInputError("a contribution is named by its id or its 0x contentHash")
    if row is None:
        raise NotFoundError(f"no contribution {key}")
    return row


@router.post("/v1/contributions/{key:contribution}:erase", dependencies=[Depends(require_admin)],
             operation_id="eraseContribution", openapi_extra=secured(ADMIN_KEY),
             responses={**answers(Erasure), **problems("unauthorized", "not-found", "invalid-request")})
def erase_contribution(services: ServicesDep, key: ContributionKey) -> dict[str, Any]:
    """Erase a private contribution's content on request: its data key is destroyed, so every
    stored copy becomes unreadable; the public commitment and the points stay. Admin only."""
    row = find_contribution(services, key)
    if not row.encrypted:
        raise InvalidInputError(f"contribution {row.id} was stored in public mode: it cannot be crypto-shredded")
    with services.sessions() as session, session.begin():
        erased = erase(session, row.id, now=int(time.time()))
    return {"id": row.id, "erased": True, "alreadyErased": not erased}


@router.get("/v1/contributions/{key:contribution}", operation_id="getContribution",
            responses={**answers(ContributionDetail), **problems("not-found", "invalid-request")})
def get_contribution(services: ServicesDep, key: ContributionKey) -> dict[str, Any]:
    """A contribution by id or contentHash, with its consent, receipt, log position and images."""
    row = find_contribution(services, key)
    with services.sessions() as session:
        storage = storage_state(session, [row.cid])[row.cid]
        epoch_state = session.scalar(select(Epoch.state).where(Epoch.number == row.epoch)) if row.epoch else None
        images = images_of(session, [row.id])[row.id]
        published = bool(images) and session.get(Publication, row.id) is not None
    return {**contribution_json(row, storage, epoch_state),
            "images": [image_json(row, image, published=published) for image in images]}
