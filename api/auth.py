"""API keys held as digests.

``ApiKeys`` keeps the SHA-256 digest of each role's key, never the key itself: once the settings
are read, nothing in the running app (``Services``, its repr, a traceback's locals) holds a key
that could leak.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["ApiKeys", "KeyDigest", "Role"]


class Role(StrEnum):
    """Who a key belongs to."""

    ADMIN = "admin"
    DATA_CONSUMER = "data-consumer"


@dataclass(frozen=True, slots=True)
class KeyDigest:
    """The SHA-256 of an API key. Hidden from repr too: the digest of a short key is a
    dictionary attack away from the key."""

    sha256: bytes = field(repr=False)

    @classmethod
    def of(cls, key: str) -> KeyDigest:
        return cls(hashlib.sha256(key.encode()).digest())

    def matches(self, token: str) -> bool:
        """Whether `token` is the key: digests of equal length compared in constant time, so
        neither the key's length nor its prefix shows in the timing."""
        return hmac.compare_digest(hashlib.sha256(token.encode()).digest(), self.sha256)


@dataclass(frozen=True, slots=True)
class ApiKeys:
    """The digest of each role's key; a role without a key admits nobody."""

    admin: KeyDigest | None = None
    data_consumer: KeyDigest | None = None

    @classmethod
    def of(cls, *, admin: str | None = None, data_consumer: str | None = None) -> ApiKeys:
        """Digest the keys as read from the settings (an empty key is no key)."""
        return cls(KeyDigest.of(admin) if admin else None, KeyDigest.of(data_consumer) if data_consumer else None)

    def of_role(self, role: Role) -> KeyDigest | None:
        return self.admin if role is Role.ADMIN else self.data_consumer
