"""The scheduled jobs of a Tally deployment (APScheduler): seal, anchor, and keep leadership.

Every process may run the scheduler; only the elected leader's jobs do anything. Sealing follows
``ledger.sealing.SealSchedule``, read from the database every ``seal_check_interval`` seconds, so
a new leader keeps the old one's schedule and the API can publish when the next seal is due.
The anchoring loop runs every few seconds and backs off exponentially while the chain node is
unreachable (``anchoring.loop``), so an outage neither crash-loops the process nor floods the node.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from anchoring.anchorer import Anchorer
from anchoring.leader import Leadership
from anchoring.loop import AnchoringGuard
from ledger.content import ContentStore
from ledger.epochs import Anchor, seal_epoch
from ledger.feed import EngagementPolicy
from ledger.operations import new_operation_id, operation
from ledger.sealing import SNAPSHOT_EVERY, SealSchedule, sealing_state

log = logging.getLogger("tally.jobs")


@dataclass
class JobSettings:
    sealing: SealSchedule = field(default_factory=SealSchedule)
    snapshot_every: int = SNAPSHOT_EVERY
    seal_check_interval: float = 1.0
    anchor_interval: float = 3.0
    leader_interval: float = 2.0
    engagement: EngagementPolicy = field(default_factory=EngagementPolicy)
    """The feed's points, published in each manifest with the engagements they credited."""


@dataclass
class Jobs:
    sessions: sessionmaker[Session]
    store: ContentStore
    anchor: Anchor
    leadership: Leadership
    anchorer: Anchorer | None
    settings: JobSettings = field(default_factory=JobSettings)
    extra: list[tuple[str, Callable[[], object], float]] = field(default_factory=list)
    storage: Callable[[], object] | None = None
    storage_interval: float = 5.0
    checkpoint: Callable[[str], None] = lambda _name: None
    clock: Callable[[], float] = time.time
    """The time seals are stamped with and programs' periods close by (tests inject their own)."""

    def __post_init__(self) -> None:
        self.is_leader = False
        self._anchoring = AnchoringGuard()
        self._lock = threading.Lock()
        self.scheduler: BackgroundScheduler | None = None

    # ---- job bodies (each safe to call directly, e.g. from tests or the CLI)

    def keep_leadership(self) -> None:
        self.is_leader = self.leadership.try_acquire()

    def seal_if_due(self) -> int | None:
        if not self.is_leader:
            return None
        now = self.clock()
        with self.sessions() as session:
            state = sealing_state(session, now)
        if not self.settings.sealing.is_due(pending=state.pending, last_sealed_at=state.last_sealed_at,
                                            now=now):
            return None
        return self.seal_now()

    def seal_now(self) -> int | None:
        # Each pass of a job is an operation of its own: its log lines carry its id.
        with operation(new_operation_id("seal")):
            with self._lock, self.sessions() as session, session.begin():
                epoch = seal_epoch(session, self.store, self.anchor, now=int(self.clock()),
                                   snapshot_every=self.settings.snapshot_every, checkpoint=self.checkpoint,
                                   engagement=self.settings.engagement)
                number = epoch.number if epoch else None
            if number is not None:
                log.info("sealed epoch %d", number)
                self.checkpoint("after-seal")
        return number

    def storage_step(self) -> None:
        """Harden local blocks and pin to IPFS (ledger.outbox), on the leader only."""
        if not self.is_leader or self.storage is None:
            return
        with operation(new_operation_id("storage")):
            try:
                self.storage()
            except Exception:
                log.exception("storage step failed; it runs again shortly")

    def anchor_step(self) -> None:
        if self.is_leader and self.anchorer is not None:
            with operation(new_operation_id("anchor")):
                self._anchoring.run_pass(self.anchorer)

    # ---- scheduling

    def start(self) -> None:
        scheduler = BackgroundScheduler(job_defaults={"coalesce": True, "max_instances": 1})
        scheduler.add_job(self.keep_leadership, "interval", seconds=self.settings.leader_interval,
                          id="leadership", next_run_time=datetime.now(UTC))
        scheduler.add_job(self.seal_if_due, "interval", seconds=self.settings.seal_check_interval,
                          id="seal")
        scheduler.add_job(self.anchor_step, "interval", seconds=self.settings.anchor_interval, id="anchor")
        if self.storage is not None:
            scheduler.add_job(self.storage_step, "interval", seconds=self.storage_interval, id="storage")
        for name, func, interval in self.extra:
            scheduler.add_job(func, "interval", seconds=interval, id=name)
        scheduler.start()
        self.scheduler = scheduler

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None
        self.leadership.release()
        self.is_leader = False

