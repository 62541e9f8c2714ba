"""Running the anchorer: one guarded pass for the scheduler, or passes until every epoch is final.

``Anchorer.step()`` is one pass and raises ``ChainUnavailableError`` while the node is down.
Whoever runs passes backs off exponentially then (1 s, 2 s, 4 s ... up to a ceiling), so an
outage neither crash-loops the process nor floods the node. ``AnchoringGuard`` is the pass of
the leader's scheduled job, which never raises and halts for good on an ``AnchorConflictError``;
``run_until_final`` is the loop of ``tally anchor --wait`` and of the demo.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from anchoring.anchorer import AnchorConflictError, Anchorer, StepReport
from anchoring.chain import ChainUnavailableError
from ledger.errors import UnavailableError
from ledger.lifecycle import open_epochs

log = logging.getLogger("tally.anchoring")


@dataclass
class Backoff:
    """Exponential backoff between failed attempts: 1 s, 2 s, 4 s ... up to ``ceiling``."""

    ceiling: float = 60.0
    failures: int = 0
    not_before: float = 0.0
    clock: Callable[[], float] = time.monotonic

    def ready(self) -> bool:
        return self.clock() >= self.not_before

    def failed(self) -> float:
        self.failures += 1
        delay = min(self.ceiling, 2.0 ** (self.failures - 1))
        self.not_before = self.clock() + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self.not_before = 0.0


OnUnavailable = Callable[[ChainUnavailableError, float], None]
"""Told of a pass the node did not answer, and of the seconds until the next attempt."""


def log_unavailable(exc: ChainUnavailableError, delay: float) -> None:
    log.warning("chain unavailable (%s); retrying in %.0f s", exc, delay)


class AnchoringTimeoutError(UnavailableError):
    """Some epoch is not final when the time allowed is up (the node is down or slow to finalize)."""

    def __init__(self, timeout: float, open_epochs: list[int]) -> None:
        super().__init__(f"not every epoch is final after {timeout:.0f} s", timeout=timeout, epochs=open_epochs)
        self.timeout = timeout
        self.open_epochs = open_epochs


def step_with_backoff(anchorer: Anchorer, backoff: Backoff,
                      on_unavailable: OnUnavailable = log_unavailable) -> StepReport | None:
    """One pass; None when the node did not answer, in which case ``backoff`` says when to try
    again and ``on_unavailable`` is told. Any other error is the caller's."""
    try:
        report = anchorer.step()
    except ChainUnavailableError as exc:
        on_unavailable(exc, backoff.failed())
        return None
    backoff.succeeded()
    return report


@dataclass
class AnchoringGuard:
    """The scheduled anchoring pass: skipped while backing off, never raising, and halted for
    good by an ``AnchorConflictError`` (another key anchored different data: alert, never retry)."""

    backoff: Backoff = field(default_factory=Backoff)
    halted: str | None = None

    def run_pass(self, anchorer: Anchorer) -> StepReport | None:
        """A pass if one is due; None when halted, backing off, or the pass failed."""
        if self.halted or not self.backoff.ready():
            return None
        try:
            return step_with_backoff(anchorer, self.backoff)
        except AnchorConflictError as exc:
            self.halted = str(exc)
            log.critical("%s", exc)
        except Exception:
            log.exception("anchoring step failed; retrying in %.0f s", self.backoff.failed())
        return None


def run_until_final(
    anchorer: Anchorer,
    sessions: sessionmaker[Session],
    *,
    timeout: float,
    interval: float = 1.0,
    on_pass: Callable[[StepReport], None] = lambda _report: None,
    on_unavailable: OnUnavailable = log_unavailable,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Run passes until no epoch is left non-final, ``interval`` seconds apart (longer while
    backing off); ``on_pass`` sees each pass the node answered. Raises ``AnchoringTimeoutError``
    once ``timeout`` seconds have passed with an epoch still open, and lets any other error
    (an ``AnchorConflictError`` first of all) end the loop."""
    backoff = Backoff(clock=clock)
    deadline = clock() + timeout
    while True:
        report = step_with_backoff(anchorer, backoff, on_unavailable)
        if report is not None:
            on_pass(report)
        with sessions() as session:
            left = open_epochs(session)
        if not left:
            return
        if clock() > deadline:
            raise AnchoringTimeoutError(timeout, left)
        sleep(max(interval, backoff.not_before - clock()))
