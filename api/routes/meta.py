"""Configuration a client signs against, the terms, and health probes."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from api.openapi import answers, header_docs, problems
from api.schemas import Config, Health, Readiness
from api.services import ServicesDep
from api.views import eip712_json
from ledger.encoding import hex0x
from ledger.quotas import Quotas
from ledger.scoring import IMAGE_SCORER_VERSION, SCORER_VERSION, rules_hash
from ledger.sealing import SealingState, sealing_state

router = APIRouter()


@router.get("/v1/config", tags=["meta"], operation_id="getConfig",
            responses={**answers(Config), **problems()})
def config(services: ServicesDep) -> dict[str, Any]:
    """Everything a client needs to sign a contribution and to check its receipt, when the next
    epoch is sealed, the scorer (version and rules hash) new contributions get, and the rewards
    contract that pays for anchored points, if any."""
    intake, chain = services.intake, services.chain
    domain = intake.consent.domain
    try:
        with services.sessions() as session:
            state: SealingState | None = sealing_state(session)
    except OperationalError:
        # What a client signs against needs no database: keep serving it through an outage
        # (readyz reports the outage); only the schedule, read from the database, is unknown.
        state = None
    return {
        "chainId": chain.chain_id,
        "contract": domain.as_json()["verifyingContract"],
        "operator": intake.signer.address,
        "termsHash": hex0x(intake.consent.terms.hash),
        "rpcUrl": chain.rpc_url,
        "explorerUrl": chain.explorer_url,
        "eip712": eip712_json(domain),
        "limits": {**intake.limits.as_json(), **(intake.quotas or Quotas.off()).as_json()},
        "usage": {"pointsPerUnit": str(services.usage.points_per_unit)},
        "feed": services.engagement.as_json(),
        "sealing": None if state is None else services.sealing.as_json(
            pending=state.pending, contributions=state.contributions, last_sealed_at=state.last_sealed_at,
            now=time.time()),
        "storage": {"ipfsPinning": services.ipfs_pinning},
        "personalData": intake.personal_data,
        "nearDuplicates": "refuse" if intake.near_duplicates else "accept",
        "scorer": {"version": SCORER_VERSION, "rulesHash": rules_hash(SCORER_VERSION)},
        "imageScorer": {"version": IMAGE_SCORER_VERSION, "rulesHash": rules_hash(IMAGE_SCORER_VERSION)},
        "rewards": None if chain.rewards is None else chain.rewards.as_json(),
    }


@router.get("/v1/terms", tags=["meta"], response_class=PlainTextResponse, operation_id="getTerms",
            responses={200: {"description": "The terms, UTF-8 text",
                             "headers": header_docs({"X-Terms-Hash": "their SHA-256, 0x-hex"})},
                       **problems()})
def terms(services: ServicesDep) -> PlainTextResponse:
    """The contribution terms; their SHA-256 is the termsHash a contributor signs."""
    terms = services.intake.consent.terms
    return PlainTextResponse(terms.text, media_type="text/plain; charset=utf-8",
                             headers={"X-Terms-Hash": hex0x(terms.hash)})


@router.get("/metrics", tags=["meta"], response_class=PlainTextResponse, operation_id="getMetrics",
            responses={200: {"description": "The Prometheus text exposition format"}, **problems()})
def metrics(services: ServicesDep) -> Response:
    """Prometheus text: pending contributions, sealed and final epochs, anchoring lag, gas."""
    return Response(generate_latest(services.metrics), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz", tags=["meta"], operation_id="getHealth",
            responses=answers(Health))
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", tags=["meta"], operation_id="getReadiness", responses={
    **answers(Readiness, 200, "Ready"),
    # Not a problem: a probe's answer, with the same body as when ready, saying which check failed.
    **answers(Readiness, 503, "Not ready: `checks` names the dependency that failed"),
})
def readyz(services: ServicesDep) -> JSONResponse:
    """Readiness: the database answers and the content store accepts writes."""
    intake = services.intake
    checks: dict[str, str] = {}
    try:
        with intake.sessions() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, do not crash the probe
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        # A store that writes nothing on put (the outbox) can say whether its disk works.
        probe = getattr(intake.store, "probe", None)
        if probe is not None:
            probe()
        else:
            intake.store.get(intake.store.put(b""))
        checks["content"] = "ok"
    except Exception as exc:
        checks["content"] = f"error: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)
