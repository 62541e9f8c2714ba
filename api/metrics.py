"""Prometheus metrics, computed from the ledger at scrape time (so every replica agrees)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ledger.lifecycle import EpochState
from ledger.models import Contribution, Epoch, FinalityViolation, StoredObject


class LedgerCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            pending = session.scalar(select(func.count()).where(Contribution.epoch.is_(None))) or 0
            total = session.scalar(select(func.count()).select_from(Contribution)) or 0
            last_sealed = session.scalar(select(func.max(Epoch.number))) or 0
            last_final = session.scalar(select(func.max(Epoch.number)).where(Epoch.state == EpochState.FINAL)) or 0
            oldest_open = session.scalar(select(func.min(Epoch.sealed_at)).where(Epoch.state != EpochState.FINAL))
            violations = session.scalar(select(func.count()).select_from(FinalityViolation)) or 0
            gas = session.scalar(select(func.coalesce(func.sum(Epoch.gas_used), 0))) or 0
            states: dict[str, Any] = dict(session.execute(
                select(Epoch.state, func.count()).group_by(Epoch.state)).all())
            unpinned = (StoredObject.pinned_at.is_(None), StoredObject.released_at.is_(None))
            storage = session.execute(select(
                func.count().filter(StoredObject.durable_at.is_(None)),
                func.count().filter(StoredObject.durable_at.is_not(None), *unpinned),
                func.count().filter(StoredObject.pinned_at.is_not(None)),
                func.count().filter(StoredObject.released_at.is_not(None)),
                func.count().filter(StoredObject.last_error.is_not(None), *unpinned),
            )).one()
        yield _gauge("tally_pending_contributions", "Accepted contributions not yet sealed into an epoch", pending)
        yield _counter("tally_contributions", "Accepted contributions", total)
        yield _gauge("tally_last_sealed_epoch", "Number of the newest sealed epoch", last_sealed)
        yield _gauge("tally_last_final_epoch", "Number of the newest epoch final on-chain", last_final)
        lag = time.time() - oldest_open if oldest_open else 0.0
        yield _gauge("tally_anchoring_lag_seconds", "Age of the oldest sealed epoch not yet final", lag)
        yield _counter("tally_anchor_gas_used", "Gas used by anchoring transactions", gas)
        # Rows are only added, so this never decreases: a final epoch the chain later lost.
        yield _counter("tally_finality_violations", "Final epochs a reorg deeper than the confirmations took back",
                       violations)
        by_state = GaugeMetricFamily("tally_epochs", "Epochs by state", labels=["state"])
        for epoch_state in EpochState:
            by_state.add_metric([epoch_state.value], states.get(epoch_state.value, 0))
        yield by_state
        # The outbox: "committed" objects are only in the database, "local" ones in the local
        # blockstore too; without an IPFS node every object stays "local".
        objects = GaugeMetricFamily("tally_stored_objects", "Stored objects by storage state", labels=["state"])
        for state, count in zip(("committed", "local", "pinned", "released"), storage[:4], strict=True):
            objects.add_metric([state], count)
        yield objects
        yield _gauge("tally_pin_retrying", "Objects whose last pinning attempt failed (backing off)", storage[4])


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


class RateLimitMetrics:
    """``tally_rate_limited_total{what}``: submissions (``submission``), batch items
    (``batch-item``) and other requests (``other``: failed authentications over their limit)
    answered 429 ``rate-limited`` by this process. Like ``api.auth.AuthMetrics`` it counts what
    this process saw (a refusal writes nothing to the ledger); Prometheus sums the replicas."""

    KINDS = ("submission", "batch-item", "other")

    def __init__(self, registry: CollectorRegistry) -> None:
        self.refused = Counter("tally_rate_limited", "Requests and batch items refused as rate-limited (429)",
                               ["what"], registry=registry)
        for kind in self.KINDS:
            self.refused.labels(kind)

    def count(self, what: str, n: int = 1) -> None:
        if n:
            self.refused.labels(what).inc(n)
