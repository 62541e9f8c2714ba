"""The FastAPI application: routes of DESIGN.md §8 over one Intake, errors as problem+json."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.bundles import BalanceTrees
from api.metrics import LedgerCollector
from api.problems import PROBLEM_TYPES, Problem
from api.routes import accounts, adjustments, contributions, epochs, gateway, meta, page, proofs
from api.routes import usage as usage_routes
from api.services import ChainInfo, UsagePolicy
from api.submission import Intake
from ledger.errors import TallyError

log = logging.getLogger("tally.api")


def create_app(intake: Intake, chain: ChainInfo, *, cors_origins: list[str] | None = None,
               admin_api_key: str | None = None, usage: UsagePolicy | None = None) -> FastAPI:
    app = FastAPI(
        title="Tally",
        version="1",
        summary="Rewards for contributed AI conversations, anchored on-chain.",
        docs_url="/docs",
    )
    app.state.intake = intake
    app.state.chain = chain
    app.state.balance_trees = BalanceTrees(intake.store)
    app.state.admin_api_key = admin_api_key
    app.state.usage = usage or UsagePolicy()
    registry = CollectorRegistry()
    registry.register(LedgerCollector(intake.sessions))
    app.state.metrics = registry
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["content-type", "authorization"],
        )

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return exc.response(request.url.path)

    @app.exception_handler(TallyError)
    async def _tally_error(request: Request, exc: TallyError) -> JSONResponse:
        # Every ledger error is a problem type of its own code (ledger.errors).
        slug = exc.code if exc.code in PROBLEM_TYPES else "internal-error"
        return Problem(slug, exc.detail, **exc.extensions).response(request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "invalid-request")
        problem = Problem(slug, str(exc.detail))
        response = problem.response(request.url.path)
        response.status_code = exc.status_code
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "path", "body")),
             "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return Problem("invalid-request", detail, errors=errors).response(request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return Problem("internal-error", "an unexpected error occurred; nothing was written").response(
            request.url.path
        )

    @app.get("/problems/{slug}", include_in_schema=False)
    def problem_type(slug: str) -> dict[str, object]:
        problem = PROBLEM_TYPES.get(slug)
        if problem is None:
            raise Problem("not-found", f"no problem type {slug!r}")
        return {"type": problem.uri, "title": problem.title, "status": problem.status,
                "description": problem.description}

    app.include_router(meta.router)
    app.include_router(contributions.router)
    app.include_router(accounts.router)
    app.include_router(adjustments.router)
    app.include_router(usage_routes.router)
    app.include_router(proofs.router)
    app.include_router(epochs.router)
    app.include_router(gateway.router)
    app.include_router(page.router)
    return app
