"""API keys (admin, data consumer): `Authorization: Bearer <key>`, compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import Request

from api.errors import UnauthorizedError
from api.services import ServicesDep


def require_admin(request: Request, services: ServicesDep) -> None:
    """A dependency: the `unauthorized` problem unless the request carries the admin key."""
    require_bearer(request, services.admin_api_key, "admin")


def require_data_consumer(request: Request, services: ServicesDep) -> None:
    """A dependency: the `unauthorized` problem unless the request carries the data-consumer key."""
    require_bearer(request, services.usage.api_key, "data-consumer")


def require_bearer(request: Request, expected: str | None, role: str) -> None:
    """Raise the `unauthorized` problem unless the request carries `expected` (never set: nobody)."""
    given = request.headers.get("authorization", "")
    token = given[7:] if given.lower().startswith("bearer ") else ""
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise UnauthorizedError(f"a valid {role} API key is required")
