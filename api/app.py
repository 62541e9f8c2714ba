"""The FastAPI application: the routes of DESIGN.md §8 over one ``Services``, errors as problem+json.

Routes raise ``ledger.errors.TallyError`` (domain errors and the HTTP ones of ``api.errors``);
one exception handler renders any of them as RFC 9457 problem+json. Framework errors (unknown
path, wrong method, a query parameter out of range) are turned into the same kind of problem.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.errors import MethodNotAllowedError
from api.openapi import customise
from api.problems import PROBLEM_TYPES, problem_response
from api.request_ids import RequestIdMiddleware
from api.routes import (
    accounts,
    adjustments,
    contributions,
    epochs,
    exports,
    feed,
    gateway,
    meta,
    page,
    programs,
    proofs,
    reports,
)
from api.routes import usage as usage_routes
from api.services import ChainInfo, Services, UsagePolicy
from ledger.errors import InvalidInputError, NotFoundError, RateLimitedError, TallyError, UnavailableError

__all__ = ["ChainInfo", "Services", "UsagePolicy", "create_app"]

log = logging.getLogger("tally.api")

RETRY_AFTER_SECONDS = 5
"""What a 503 asks the client to wait (RFC 9110 §10.2.3) before it tries again."""

DATABASE_DOWN = (OperationalError, DisconnectionError, PoolTimeoutError)
"""What SQLAlchemy raises when the database cannot be reached, drops the connection or the pool
has no connection to give: an outage, answered 503 like any other ``UnavailableError``."""


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every API route, also inside included routers (``original_router`` in newer FastAPI)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)


def create_app(services: Services, *, cors_origins: list[str] | None = None,
               request_threads: int | None = None) -> FastAPI:
    """The app; ``request_threads`` sets how many threads run the blocking parts of requests
    (the database's pool is sized to match; AnyIO's default is 40)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if request_threads is not None:
            anyio.to_thread.current_default_thread_limiter().total_tokens = request_threads
        yield

    app = FastAPI(
        title="Tally",
        version="1",
        summary="Rewards for contributed AI conversations, anchored on-chain.",
        docs_url="/docs",
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(RequestIdMiddleware)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["content-type", "authorization"],
        )

    @app.exception_handler(TallyError)
    async def _tally_error(request: Request, exc: TallyError) -> JSONResponse:
        if isinstance(exc, RateLimitedError) and services.rate_limits is not None:
            submitting = request.method == "POST" and request.url.path.startswith("/v1/contributions")
            services.rate_limits.count("submission" if submitting else "other")
        if exc.status >= 500:
            log.error("%s on %s %s: %s", exc.code, request.method, request.url.path, exc)
        # Some errors carry headers of their answer besides the body (a 429's Retry-After); every
        # outage tells the client when to come back.
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status == 503:
            headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
        return problem_response(exc, request.url.path, headers=headers or None)

    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        # The driver's message can name the server and the statement: log only what failed.
        cause = getattr(exc, "orig", None) or exc
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, type(cause).__name__)
        return await _tally_error(request, UnavailableError("the database cannot be reached; retry later"))

    for outage in DATABASE_DOWN:
        app.add_exception_handler(outage, _database_down)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error: TallyError
        headers = exc.headers
        if exc.status_code == 404:
            error = NotFoundError(str(exc.detail))
        elif exc.status_code == 405:
            error = MethodNotAllowedError(str(exc.detail))
            # Starlette names the methods of the first route of the path; a path served by two
            # routes (GET and POST /v1/programs) allows the methods of both.
            methods = sorted({m for route in _api_routes(app.router.routes)
                              if route.matches(request.scope)[0] is Match.PARTIAL for m in route.methods or ()})
            if methods:
                headers = {**(headers or {}), "Allow": ", ".join(methods)}
        else:
            error = InvalidInputError(str(exc.detail))
        response = problem_response(error, request.url.path, headers=headers)
        response.status_code = exc.status_code
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p not in ("query", "path", "body", "header")),
             "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(InvalidInputError(detail, errors=errors), request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(TallyError("an unexpected error occurred; nothing was written"), request.url.path)

    @app.get("/problems/{slug}", include_in_schema=False)
    def problem_type(slug: str) -> dict[str, object]:
        problem = PROBLEM_TYPES.get(slug)
        if problem is None:
            raise NotFoundError(f"no problem type {slug!r}")
        return {"type": problem.uri, "title": problem.title, "status": problem.status,
                "description": problem.description}

    app.include_router(meta.router)
    app.include_router(contributions.router)
    app.include_router(accounts.router)
    app.include_router(adjustments.router)
    app.include_router(usage_routes.router)
    app.include_router(programs.router)
    app.include_router(exports.router)
    app.include_router(reports.router)
    app.include_router(proofs.router)
    app.include_router(epochs.router)
    app.include_router(gateway.router)
    app.include_router(feed.router)
    app.include_router(page.router)
    customise(app)
    return app
