"""Running the anchorer on a real node: until final, backing off while the node is down, giving
up at the timeout, and halting for good when the contract holds someone else's epoch."""

from __future__ import annotations

from pathlib import Path

import pytest

from anchoring.anchorer import AnchorConflictError, StepReport
from anchoring.chain import ChainUnavailableError
from anchoring.loop import AnchoringGuard, AnchoringTimeoutError, run_until_final
from ledger.content import LocalBlockStore
from ledger.db import make_engine, make_sessionmaker
from ledger.errors import InvariantError
from ledger.lifecycle import EpochState
from ledger.migrate import upgrade
from ledger.models import Epoch
from tests.anchoring_e2e.conftest import Stack, anchor_all, real_conversations


class Time:
    """A clock the loop sleeps on: sleeping moves it forward at once (and may mine a block)."""

    def __init__(self, stack: Stack | None = None) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.stack = stack

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.stack is not None:
            self.stack.mine()


def state(stack: Stack, number: int) -> str:
    with stack.sessions() as session:
        epoch = session.get(Epoch, number)
        assert epoch is not None
        return epoch.state


def test_passes_run_until_every_epoch_is_final_and_each_is_reported(stack: Stack) -> None:
    stack.contribute(real_conversations(10))
    stack.seal()
    stack.contribute(real_conversations(10, skip=10))
    stack.seal()
    time = Time(stack)  # confirmations come from the blocks mined between passes
    reports: list[StepReport] = []
    run_until_final(stack.anchorer(), stack.sessions, timeout=60, interval=0.5, on_pass=reports.append,
                    clock=time.clock, sleep=time.sleep)
    assert [r.sent for r in reports if r.sent] == [1, 2]
    assert [n for r in reports for n in r.final] == [1, 2]
    assert (state(stack, 1), state(stack, 2)) == (EpochState.FINAL, EpochState.FINAL)
    assert set(time.sleeps) == {0.5}


def test_an_epoch_that_cannot_become_final_ends_in_a_timeout(stack: Stack) -> None:
    stack.contribute(real_conversations(10))
    stack.seal()
    time = Time()  # no block is mined after the anchoring one: 5 confirmations never come
    reports: list[StepReport] = []
    with pytest.raises(AnchoringTimeoutError) as timed_out:
        run_until_final(stack.anchorer(confirmations=5), stack.sessions, timeout=10, on_pass=reports.append,
                        clock=time.clock, sleep=time.sleep)
    assert str(timed_out.value) == "not every epoch is final after 10 s"
    assert timed_out.value.open_epochs == [1] and timed_out.value.extensions["epochs"] == [1]
    assert reports[0].sent == 1 and not any(r.final for r in reports)
    assert state(stack, 1) == EpochState.MINED
    assert time.now == 11  # one pass a second until the deadline has passed
    assert stack.contract.functions.latestEpoch().call() == 1


def test_a_node_outage_backs_off_exponentially_until_the_timeout(stack: Stack) -> None:
    stack.contribute(real_conversations(10))
    stack.seal()
    anchorer = stack.anchorer()
    stack.chain.stop()
    time = Time()
    delays: list[float] = []

    def unavailable(exc: ChainUnavailableError, delay: float) -> None:
        delays.append(delay)

    with pytest.raises(AnchoringTimeoutError):
        run_until_final(anchorer, stack.sessions, timeout=20, on_pass=lambda r: pytest.fail(f"a pass: {r}"),
                        on_unavailable=unavailable, clock=time.clock, sleep=time.sleep)
    assert delays == [1, 2, 4, 8, 16, 32]
    assert time.sleeps == [1, 2, 4, 8, 16]  # each wait is the backoff, never a pass in between
    assert state(stack, 1) == EpochState.SEALED


def test_someone_elses_epoch_on_the_contract_halts_anchoring_for_good(stack: Stack, tmp_path: Path) -> None:
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    upgrade(other_url)
    other = Stack(make_sessionmaker(make_engine(other_url)), LocalBlockStore(tmp_path / "other", fsync=False),
                  stack.chain, stack.w3, stack.contract, stack.account, stack.anchor)
    other.contribute(real_conversations(10))
    other.seal()
    anchor_all(other)  # epoch 1 on the contract is the other ledger's
    stack.contribute(real_conversations(10, skip=10))
    stack.seal()

    with pytest.raises(AnchorConflictError) as conflict:
        run_until_final(stack.anchorer(), stack.sessions, timeout=60)
    assert isinstance(conflict.value, InvariantError)

    guard = AnchoringGuard()
    assert guard.run_pass(stack.anchorer()) is None
    assert guard.halted is not None and "differs from the sealed one" in guard.halted
    other.contribute(real_conversations(10, skip=20))
    other.seal()
    assert guard.run_pass(other.anchorer()) is None  # halted: not even a healthy ledger's epoch goes out
    assert state(other, 2) == EpochState.SEALED
    assert guard.backoff.failures == 0  # a conflict is not an outage to retry
