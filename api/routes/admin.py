"""API keys (admin, data consumer): `Authorization: Bearer <key>`, compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import Request

from api.problems import Problem


def require_admin(request: Request) -> None:
    """Raise the `unauthorized` problem unless the request carries the configured admin key."""
    require_bearer(request, request.app.state.admin_api_key, "admin")


def require_bearer(request: Request, expected: str | None, role: str) -> None:
    """Raise the `unauthorized` problem unless the request carries `expected` (never set: nobody)."""
    given = request.headers.get("authorization", "")
    token = given[7:] if given.lower().startswith("bearer ") else ""
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Problem("unauthorized", f"a valid {role} API key is required")
