"""Prometheus metrics, computed from the ledger at scrape time (so every replica agrees)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ledger.epochs import FINAL
from ledger.models import Contribution, Epoch


class LedgerCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        with self.sessions() as session:
            pending = session.scalar(select(func.count()).where(Contribution.epoch.is_(None))) or 0
            total = session.scalar(select(func.count()).select_from(Contribution)) or 0
            last_sealed = session.scalar(select(func.max(Epoch.number))) or 0
            last_final = session.scalar(select(func.max(Epoch.number)).where(Epoch.state == FINAL)) or 0
            oldest_open = session.scalar(select(func.min(Epoch.sealed_at)).where(Epoch.state != FINAL))
            gas = session.scalar(select(func.coalesce(func.sum(Epoch.gas_used), 0))) or 0
            states: dict[str, Any] = dict(session.execute(
                select(Epoch.state, func.count()).group_by(Epoch.state)).all())
        yield _gauge("tally_pending_contributions", "Accepted contributions not yet sealed into an epoch", pending)
        yield _counter("tally_contributions", "Accepted contributions", total)
        yield _gauge("tally_last_sealed_epoch", "Number of the newest sealed epoch", last_sealed)
        yield _gauge("tally_last_final_epoch", "Number of the newest epoch final on-chain", last_final)
        lag = time.time() - oldest_open if oldest_open else 0.0
        yield _gauge("tally_anchoring_lag_seconds", "Age of the oldest sealed epoch not yet final", lag)
        yield _counter("tally_anchor_gas_used", "Gas used by anchoring transactions", gas)
        by_state = GaugeMetricFamily("tally_epochs", "Epochs by state", labels=["state"])
        for state in ("sealed", "submitted", "mined", "final"):
            by_state.add_metric([state], states.get(state, 0))
        yield by_state


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)
