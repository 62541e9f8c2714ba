"""API keys (admin, data consumer): `Authorization: Bearer <key>`, checked against the key's
digest, with a limit on failed attempts per client address (``api.auth``)."""

from __future__ import annotations

from fastapi import Request

from api.auth import Role
from api.errors import UnauthorizedError
from api.services import Services, ServicesDep
from ledger.errors import RateLimitedError


def require_admin(request: Request, services: ServicesDep) -> None:
    """A dependency: the `unauthorized` problem unless the request carries the admin key."""
    require_bearer(request, services, Role.ADMIN)


def require_data_consumer(request: Request, services: ServicesDep) -> None:
    """A dependency: the `unauthorized` problem unless the request carries the data-consumer key."""
    require_bearer(request, services, Role.DATA_CONSUMER)


def require_bearer(request: Request, services: Services, role: Role) -> None:
    """Raise the `unauthorized` problem unless the request carries `role`'s key (never set:
    nobody), or the `rate-limited` problem, whatever the key, while the client is locked out
    for failing too often."""
    client = (role, client_address(request))
    admission = services.auth_failures.attempt(client)
    if not admission.admitted:
        services.auth_metrics.rate_limited.labels(role.value).inc()
        raise RateLimitedError(f"too many failed {role} authentications from this client; "
                               f"retry in {admission.retry_after} s", retry_after=admission.retry_after)
    expected = services.keys.of_role(role)
    if expected is None or not expected.matches(bearer_token(request)):
        services.auth_metrics.failures.labels(role.value).inc()
        raise UnauthorizedError(f"a valid {role} API key is required")
    services.auth_failures.forgive(client, admission)


def bearer_token(request: Request) -> str:
    given = request.headers.get("authorization", "")
    return given[7:] if given.lower().startswith("bearer ") else ""


def client_address(request: Request) -> str:
    """The peer's address as the server saw it. X-Forwarded-For is never read here: uvicorn
    rewrites the peer from it only for the proxies it trusts (`FORWARDED_ALLOW_IPS`, by default
    127.0.0.1 and ::1), so a client cannot pick its own address to escape the limit."""
    return request.client.host if request.client else "unknown"
