"""API keys held as digests, and the limit on failed attempts that stops a client guessing them.

``ApiKeys`` keeps the SHA-256 digest of each role's key, never the key itself: once the settings
are read, nothing in the running app (``Services``, its repr, a traceback's locals) holds a key
that could leak. ``FailureLimiter`` counts each client's failed authentications in a sliding
window and refuses that client once it has used them up; ``AuthMetrics`` counts both.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter

__all__ = ["Admission", "ApiKeys", "AuthMetrics", "FailureLimiter", "KeyDigest", "Role"]


class Role(StrEnum):
    """Who a key belongs to; also the `role` label of the metrics and part of the limiter's key."""

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


@dataclass(frozen=True, slots=True)
class Admission:
    """The limiter's answer to one attempt: admitted (and charged as a failure until it is
    forgiven), or refused for `retry_after` more seconds."""

    admitted: bool
    retry_after: int = 0
    stamp: float = 0.0


class FailureLimiter:
    """At most `limit` failed attempts per client in any `window` seconds (a sliding window).

    Each attempt is charged as a failure *before* its key is checked, and the charge is taken
    back once the key turns out right; so concurrent guesses cannot slip past the limit between a
    check and its count. A client that has used up its failures is refused, right key or not,
    until the oldest of them leaves the window: letting the right key through during a lockout
    would leave the limit's purpose, stopping a guesser, to chance. A success forgives only its
    own charge, never earlier failures (a guesser sharing an address with the key's holder gains
    nothing from the holder's logins), and never another client's.

    In-process and thread-safe (FastAPI runs the check in its thread pool). Each replica, and
    each worker process, counts its own clients: a guesser spread over R of them gets R x `limit`
    tries per window instead of `limit`, which still turns guessing a key into a crawl while
    needing no shared store; the limit is there to stop cheap hammering, the keys' length is what
    makes them unguessable.

    Memory stays bounded: a client is forgotten once its newest failure leaves the window, and
    at most `max_clients` are tracked (beyond that the longest quiet one is dropped first).
    """

    def __init__(self, limit: int = 10, window: float = 60.0, *,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = 100_000) -> None:
        if limit < 1 or window <= 0 or max_clients < 1:
            raise ValueError("a failure limiter needs limit >= 1, window > 0 and max_clients >= 1")
        self.limit, self.window, self.max_clients = limit, window, max_clients
        self._clock = clock
        self._lock = threading.Lock()
        # client -> stamps of its failures in the window, oldest first; clients ordered by their
        # latest failure, so the ones that went quiet are at the front.
        self._failures: OrderedDict[Hashable, deque[float]] = OrderedDict()

    def __repr__(self) -> str:
        return f"FailureLimiter(limit={self.limit}, window={self.window})"

    @property
    def tracked_clients(self) -> int:
        """How many clients have failures in the window (no ``__len__``: an empty limiter must
        not be falsy)."""
        with self._lock:
            return len(self._failures)

    def attempt(self, client: Hashable) -> Admission:
        """Admit one attempt of `client` (charging it as a failure) or refuse it."""
        with self._lock:
            now = self._clock()
            self._forget_quiet_clients(now)
            stamps = self._failures.get(client)
            if stamps is None:
                if len(self._failures) >= self.max_clients:
                    self._failures.popitem(last=False)
                stamps = self._failures[client] = deque()
            while stamps and stamps[0] <= now - self.window:
                stamps.popleft()
            if len(stamps) >= self.limit:
                # Whole seconds, rounded up (Retry-After takes no fractions): retrying after that
                # long is always admitted.
                return Admission(False, max(1, math.ceil(stamps[0] + self.window - now)))
            stamps.append(now)
            self._failures.move_to_end(client)
            return Admission(True, stamp=now)

    def forgive(self, client: Hashable, admission: Admission) -> None:
        """Take back the charge of an attempt that succeeded."""
        with self._lock:
            stamps = self._failures.get(client)
            if stamps is not None and admission.stamp in stamps:
                stamps.remove(admission.stamp)
                if not stamps:
                    del self._failures[client]

    def _forget_quiet_clients(self, now: float) -> None:
        while self._failures:
            client, stamps = next(iter(self._failures.items()))
            if stamps and stamps[-1] > now - self.window:
                break
            del self._failures[client]


class AuthMetrics:
    """`tally_auth_failures_total{role}` and `tally_auth_rate_limited_total{role}`.

    Unlike the ledger's metrics (``api.metrics``), computed from the database so that every
    replica reports the same, these count what this process saw: a failed attempt leaves no trace
    in the ledger (writing one per guess would hand a guesser the database), and Prometheus sums
    the counters over the replicas it scrapes. Several workers behind one port (`TALLY_WORKERS`)
    each keep their own, so a scrape reads whichever worker answered it.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.failures = Counter("tally_auth_failures", "Requests refused for a missing or wrong API key",
                                ["role"], registry=registry)
        self.rate_limited = Counter("tally_auth_rate_limited",
                                    "Requests refused because their client failed to authenticate too often",
                                    ["role"], registry=registry)
        for role in Role:  # present from the first scrape, at zero
            self.failures.labels(role.value)
            self.rate_limited.labels(role.value)
