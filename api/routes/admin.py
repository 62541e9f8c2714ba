"""API keys (admin, data consumer): `Authorization: Bearer <key>`, checked against the key's
digest (``api.auth``)."""

from __future__ import annotations

from fastapi import Request

from api.auth import Role
from api.errors import UnauthorizedError
from api.services import Services, ServicesDep


def require_admin(request: Request, services: ServicesDep) -> None:
    """A dependency: the `unauthorized` problem unless the request carries the admin key."""
    require_bearer(request, services, Role.ADMIN)


def require_data_consumer(request: Request, services: ServicesDep) -> None:
    """A dependency: the `unauthorized` problem unless the request carries the data-consumer key."""
    require_bearer(request, services, Role.DATA_CONSUMER)


def require_bearer(request: Request, services: Services, role: Role) -> None:
    """Raise the `unauthorized` problem unless the request carries `role`'s key (never set: nobody)."""
    expected = services.keys.of_role(role)
    if expected is None or not expected.matches(bearer_token(request)):
        raise UnauthorizedError(f"a valid {role} API key is required")


def bearer_token(request: Request) -> str:
    given = request.headers.get("authorization", "")
    return given[7:] if given.lower().startswith("bearer ") else ""
