"""The admin API key: `Authorization: Bearer <key>`, compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import Request

from api.problems import Problem


def require_admin(request: Request) -> None:
    """Raise the `unauthorized` problem unless the request carries the configured admin key."""
    expected = request.app.state.admin_api_key
    given = request.headers.get("authorization", "")
    token = given[7:] if given.lower().startswith("bearer ") else ""
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Problem("unauthorized", "a valid admin API key is required")
