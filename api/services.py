"""What the routes work with: one frozen ``Services``, built once by the wiring (``tally.wiring``).

Routes receive it through FastAPI's ``Depends`` (``ServicesDep``), typed end to end; nothing in a
route reads ``app.state``. ``services_of`` is the one place that does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Protocol

from anyio import CapacityLimiter
from fastapi import Depends, Request
from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session, sessionmaker

from api.auth import ApiKeys, AuthMetrics, FailureLimiter
from api.metrics import LedgerCollector, RateLimitMetrics
from ledger.content import ContentStore
from ledger.db import INTAKE_THREADS
from ledger.deployment import ChainInfo
from ledger.feed import EngagementPolicy
from ledger.intake import Intake
from ledger.proofs import BalanceTrees
from ledger.sealing import SealSchedule

__all__ = ["ApiKeys", "ChainInfo", "ClaimsReader", "EngagementPolicy", "FailureLimiter",
           "SealSchedule", "Services", "ServicesDep",
           "UsagePolicy", "services_of"]


class ClaimsReader(Protocol):
    """What the rewards contract has paid: ``claimed(account)``, the balance in points up to
    which ``account`` was paid (``anchoring.rewards.TallyRewards`` reads it from the chain)."""

    def claimed(self, account: str) -> int: ...


@dataclass(frozen=True, slots=True)
class UsagePolicy:
    """What a unit of use (`POST /v1/usage`) earns its contributor; who may report it is the
    data-consumer key of ``Services.keys``."""

    points_per_unit: int = 1


@dataclass(frozen=True)
class Services:
    """Everything a request may need: the intake (with the sessions and the content store it
    writes through), the chain clients sign against, cached balance trees, the metrics registry
    (computed from the database at scrape time, but for the process's own authentication
    counters), the digests of the API keys, the limiter of failed authentications, the
    policies, the seal schedule (to say when the next epoch is due), whether objects are pinned
    to an IPFS node (else they stay in the local blockstore) and, when a rewards contract is
    configured, what it has paid (``claims``), what engagement in the public feed earns
    (``engagement``), and the threads that run submissions (``intake_threads``: a limiter of
    their own, so that requests waiting on IPFS or a slow reader never hold up intake, while
    intake keeps few threads that want the CPU at once)."""

    intake: Intake
    chain: ChainInfo
    balance_trees: BalanceTrees
    metrics: CollectorRegistry
    auth_metrics: AuthMetrics
    keys: ApiKeys = field(default_factory=ApiKeys)
    auth_failures: FailureLimiter = field(default_factory=FailureLimiter)
    usage: UsagePolicy = UsagePolicy()
    sealing: SealSchedule = field(default_factory=SealSchedule)
    ipfs_pinning: bool = False
    claims: ClaimsReader | None = None
    rate_limits: RateLimitMetrics | None = None
    engagement: EngagementPolicy = field(default_factory=EngagementPolicy)
    intake_threads: CapacityLimiter = field(default_factory=lambda: CapacityLimiter(INTAKE_THREADS))

    @classmethod
    def of(cls, intake: Intake, chain: ChainInfo, *, keys: ApiKeys | None = None,
           auth_failures: FailureLimiter | None = None, usage: UsagePolicy | None = None,
           sealing: SealSchedule | None = None, ipfs_pinning: bool = False,
           claims: ClaimsReader | None = None, engagement: EngagementPolicy | None = None,
           intake_threads: int = INTAKE_THREADS) -> Services:

        metrics = CollectorRegistry()
        metrics.register(LedgerCollector(intake.sessions))
        return cls(intake, chain, BalanceTrees(intake.store), metrics, AuthMetrics(metrics),
                   keys if keys is not None else ApiKeys(),
                   auth_failures if auth_failures is not None else FailureLimiter(), usage or UsagePolicy(),
                   sealing or SealSchedule(), ipfs_pinning, claims, RateLimitMetrics(metrics),
                   engagement or EngagementPolicy(), CapacityLimiter(intake_threads))

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.intake.sessions

    @property
    def store(self) -> ContentStore:
        return self.intake.store


async def services_of(request: Request) -> Services:
    """The app's services (set by ``api.app.create_app``). A coroutine: FastAPI would run a plain
    function in a request thread, and a submission would wait for one behind every stalled read."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(services_of)]
