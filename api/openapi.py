"""What `/openapi.json` says about answers FastAPI cannot see: problems, keys and raw bodies.

Routes declare their errors by problem slug (``problems("not-found", ...)``); this module turns
the slugs into `responses=` entries from the problem registry, one per status, each served as
``application/problem+json`` with the ``Problem`` schema. ``customise`` replaces the app's
``openapi()`` so that the document also carries the ``Problem`` schema and the API-key schemes,
and no longer carries FastAPI's own validation-error schema: our validation errors are problems
too (``api.app``'s handler), and an operation that declares its 422 never gets the default one.

Declarations here are documentation only: nothing in this module takes part in answering a request.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from api.problems import MEDIA_TYPE, PROBLEM_TYPES, ProblemType
from api.schemas import COMPONENT_REF, Problem, SubmissionBody

Responses = dict[int | str, dict[str, Any]]

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

JSON_BODY = ("malformed-json", "json-too-deep", "unsupported-media-type", "body-too-large", "invalid-request")
"""What reading any JSON body may answer (``api.routes.body.read_json``), and its validation."""

ALWAYS = ("internal-error", "unavailable")
"""What any route may answer: the app's last-resort handler renders unexpected failures, and an
outage of the database (or of another dependency) is a 503 with Retry-After."""

ADMIN_KEY = "adminKey"
DATA_CONSUMER_KEY = "dataConsumerKey"

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    ADMIN_KEY: {"type": "http", "scheme": "bearer",
                "description": "The operator's admin API key: grants, clawbacks and erasure."},
    DATA_CONSUMER_KEY: {"type": "http", "scheme": "bearer",
                        "description": "A data consumer's API key: usage reports."},
}

# FastAPI's schemas for its own validation errors; app.py answers those as problems instead.
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def problems(*slugs: str) -> Responses:
    """`responses=` entries for the problems a route may answer: one per status, whose
    description names each problem type (with its URI) that comes with that status."""
    by_status: dict[int, list[ProblemType]] = {}
    for slug in dict.fromkeys((*slugs, *ALWAYS)):
        problem = PROBLEM_TYPES[slug]  # a KeyError here is a typo in a route's declaration
        by_status.setdefault(problem.status, []).append(problem)
    return {
        status: {
            "description": "; ".join(f"{p.title} (`{p.uri}`)" for p in types),
            "content": {MEDIA_TYPE: {"schema": PROBLEM_REF}},
        }
        for status, types in sorted(by_status.items())
    }


def answers(model: type[BaseModel], status: int = 200, description: str | None = None,
            headers: dict[str, str] | None = None) -> Responses:
    """A `responses=` entry documenting a JSON body the route builds itself (the route's own
    serialisation is untouched: FastAPI only reads ``model`` to write the document), with the
    headers it sets (name: description)."""
    entry: dict[str, Any] = {"model": model}
    if description:
        entry["description"] = description
    if headers:
        entry["headers"] = header_docs(headers)
    return {status: entry}


def header_docs(headers: dict[str, str]) -> dict[str, Any]:
    return {name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()}


def secured(scheme: str) -> dict[str, Any]:
    """`openapi_extra` for a route behind an API key (checked by ``api.routes.admin``): the
    scheme, and the 429 a client gets, with `Retry-After`, once it failed too often (FastAPI
    merges these `responses` into the route's own)."""
    return {"security": [{scheme: []}], "responses": {"429": rate_limited("this client may try a key again")}}


def rate_limited(until: str) -> dict[str, Any]:
    """The 429 answer, with its `Retry-After` header: seconds until ``until``."""
    limited = problems("rate-limited")[429]
    limited["headers"] = header_docs({"Retry-After": f"Seconds until {until}"})
    return limited


def customise(app: FastAPI) -> None:
    """Build the app's OpenAPI document once, with the additions this module describes."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(get_openapi(
                title=app.title, version=app.version, summary=app.summary, description=app.description,
                routes=app.routes, openapi_version=app.openapi_version,
            ))
        return app.openapi_schema

    setattr(app, "openapi", openapi)  # noqa: B010 (mypy refuses assigning to a method)


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """Add the ``Problem`` schema and the security schemes; drop FastAPI's validation-error
    schemas (and any response still pointing at them, which would be untrue)."""
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = Problem.model_json_schema(ref_template=COMPONENT_REF)
    schemas["SubmissionBody"] = SubmissionBody.model_json_schema(ref_template=COMPONENT_REF)
    components["securitySchemes"] = SECURITY_SCHEMES
    for operation in _operations(document):
        responses = operation.get("responses", {})
        for status, response in list(responses.items()):
            if _refers_to_fastapi_validation(response):
                responses[status] = problems("invalid-request")[422]
            _keep_only_documented_model(response)
    return document


def _keep_only_documented_model(response: dict[str, Any]) -> None:
    """A route returning ``dict[str, Any]`` keeps that as its response model, so FastAPI keeps
    serialising it exactly as before; the document shows the model ``answers`` declared instead
    of FastAPI's generic object schema merged beside its ``$ref``."""
    for media in response.get("content", {}).values():
        schema = media.get("schema", {})
        if "$ref" in schema:
            media["schema"] = {"$ref": schema["$ref"]}


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    methods = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
    return [op for item in document.get("paths", {}).values() for m, op in item.items() if m in methods]


def _refers_to_fastapi_validation(response: dict[str, Any]) -> bool:
    refs = {f"#/components/schemas/{name}" for name in _FASTAPI_VALIDATION_SCHEMAS}
    return any(media.get("schema", {}).get("$ref") in refs for media in response.get("content", {}).values())


__all__ = ["ADMIN_KEY", "DATA_CONSUMER_KEY", "JSON_BODY", "answers", "customise", "header_docs", "problems", "secured"]
