"""Running the anchorer on a real node: until final, backing off while the node is down, giving
up at the timeout, halting for good when the contract holds someone else's epoch, and sharing a ledger
with another anchorer."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

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


def test_an_epoch_another_anchorer_lands_during_a_pass_is_reconciled_not_a_crash(stack: Stack) -> None:
    """Two anchorers of one ledger (the server's jobs and a `tally demo` or `tally anchor` beside
    them): the other's transaction for this epoch is mined after this pass read latestEpoch and
    before this database shows it, so the node's estimate reverts with UnexpectedEpoch. The pass
    sends nothing and the next one reconciles the epoch as mined by the other's transaction."""
    stack.contribute(real_conversations(10))
    stack.seal()
    landed: list[str] = []

    def the_other_anchorer_lands_first(session: Session, epoch: Epoch) -> bool:
        if not landed:
            call = racer._anchor_call(session, epoch)
            tx = call.build_transaction({"from": stack.account.address,
                                         "nonce": stack.w3.eth.get_transaction_count(stack.account.address)})
            tx_hash = stack.w3.eth.send_raw_transaction(stack.account.sign_transaction(tx).raw_transaction)
            assert stack.w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1
            landed.append(tx_hash.to_0x_hex())
        return True

    racer = stack.anchorer()
    racer.ready = the_other_anchorer_lands_first
    assert racer.step().sent is None
    with stack.sessions() as session:
        epoch = session.get_one(Epoch, 1)
        assert (epoch.state, epoch.tx_hash, epoch.last_error) == (EpochState.SEALED, None, None)
    assert racer.step().mined == (1,)
    with stack.sessions() as session:
        assert session.get_one(Epoch, 1).tx_hash == landed[0]
    anchor_all(stack)
    assert state(stack, 1) == EpochState.FINAL and len(landed) == 1


def test_a_header_the_contract_refuses_is_recorded_and_the_pass_goes_on(stack: Stack) -> None:
    """Any other refusal of the node's estimate is kept on the epoch, named, and nothing is sent."""
    stack.contribute(real_conversations(10))
    stack.seal()
    with stack.sessions() as session, session.begin():
        session.get_one(Epoch, 1).manifest_cid = ""  # the contract refuses it: EmptyManifestCid()
    report = stack.anchorer().step()
    assert report.sent is None
    with stack.sessions() as session:
        epoch = session.get_one(Epoch, 1)
        assert (epoch.state, epoch.last_error) == (EpochState.SEALED,
                                                    "the contract refuses the header: EmptyManifestCid()")
