"""The epoch lifecycle (DESIGN.md §6) on real rows: every state x every transition is either the
one allowed move, setting and clearing exactly its fields, or a named refusal changing nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ledger import lifecycle
from ledger.db import make_engine, make_sessionmaker
from ledger.errors import InvariantError
from ledger.lifecycle import ContributionStatus, EpochState, LifecycleError, Transition, contribution_status
from ledger.migrate import upgrade
from ledger.models import Epoch

# A row that has been everywhere: every field of the way onto the chain holds an old value, so a
# move that forgets to clear a field, or clears one it should keep, shows.
BEFORE: dict[str, Any] = {
    "tx_hash": "0x" + "aa" * 32, "tx_nonce": 4, "submitted_at": 100, "block_number": 7,
    "block_hash": "0x" + "bb" * 32, "gas_used": 90_000, "mined_at": 110, "finalized_at": 120,
    "last_error": "transaction 0xaa reverted",
}
TRACKED = ["state", *BEFORE]


@dataclass(frozen=True)
class Case:
    move: Callable[[Epoch], None]
    target: EpochState
    changes: dict[str, Any]
    """The fields the move sets (to these values) or clears (to None); every other one is kept."""


NEW_TX, NEW_BLOCK = "0x" + "cc" * 32, "0x" + "dd" * 32
CASES: dict[Transition, Case] = {
    Transition.SUBMIT: Case(
        lambda e: lifecycle.submit(e, tx_hash=NEW_TX, nonce=5, at=200), EpochState.SUBMITTED,
        {"tx_hash": NEW_TX, "tx_nonce": 5, "submitted_at": 200}),
    Transition.MINE: Case(
        lambda e: lifecycle.mine(e, tx_hash=NEW_TX, block_number=9, block_hash=NEW_BLOCK, gas_used=80_000, at=210),
        EpochState.MINED,
        {"tx_hash": NEW_TX, "block_number": 9, "block_hash": NEW_BLOCK, "gas_used": 80_000, "mined_at": 210,
         "last_error": None}),
    Transition.REVERT_TO_SEALED: Case(
        lifecycle.revert_to_sealed, EpochState.SEALED,
        {"tx_hash": None, "tx_nonce": None, "submitted_at": None, "block_number": None, "block_hash": None,
         "gas_used": None, "mined_at": None}),
    Transition.REORG_TO_SUBMITTED: Case(
        lifecycle.reorg_to_submitted, EpochState.SUBMITTED,
        {"block_number": None, "block_hash": None, "gas_used": None, "mined_at": None}),
    Transition.FINALIZE: Case(lambda e: lifecycle.finalize(e, at=220), EpochState.FINAL, {"finalized_at": 220}),
    Transition.REVOKE_FINALITY: Case(
        lifecycle.revoke_finality, EpochState.SEALED,
        {"tx_hash": None, "tx_nonce": None, "submitted_at": None, "block_number": None, "block_hash": None,
         "gas_used": None, "mined_at": None, "finalized_at": None}),
}

# Written out here, not read from lifecycle.MOVES, so that a change to the table shows up as a failure.
ALLOWED: set[tuple[Transition, EpochState]] = {
    (Transition.SUBMIT, EpochState.SEALED),
    (Transition.MINE, EpochState.SEALED),  # reconciling an anchor the contract already holds
    (Transition.MINE, EpochState.SUBMITTED),
    (Transition.REVERT_TO_SEALED, EpochState.SUBMITTED),
    (Transition.REVERT_TO_SEALED, EpochState.MINED),
    (Transition.REORG_TO_SUBMITTED, EpochState.MINED),
    (Transition.FINALIZE, EpochState.MINED),
    (Transition.REVOKE_FINALITY, EpochState.FINAL),  # a reorg deeper than the confirmations
}


@pytest.fixture
def sessions(db_url: str) -> sessionmaker[Session]:
    upgrade(db_url)
    return make_sessionmaker(make_engine(db_url))


def add_epoch(sessions: sessionmaker[Session], number: int, state: EpochState) -> None:
    with sessions() as session, session.begin():
        session.add(Epoch(
            number=number, state=state.value, sealed_at=50, first_index=0, log_size=3, log_root=bytes(32),
            balances_root=bytes(32), total_points=12, accounts=1, contributions=3, journal_entries=3,
            manifest_cid="bafy-test", chain_id=31337, contract="0x" + "11" * 20, **BEFORE))


def fields(epoch: Epoch) -> dict[str, Any]:
    return {name: getattr(epoch, name) for name in TRACKED}


def test_the_table_is_the_lifecycle() -> None:
    assert {(t, s) for t in Transition for s in EpochState if lifecycle.allows(t, s)} == ALLOWED
    assert {t: m.target for t, m in lifecycle.MOVES.items()} == {t: c.target for t, c in CASES.items()}


@pytest.mark.parametrize("state", list(EpochState))
def test_every_transition_from_every_state(sessions: sessionmaker[Session], state: EpochState) -> None:
    for number, transition in enumerate(Transition, start=1):
        add_epoch(sessions, number, state)
        case = CASES[transition]
        if (transition, state) in ALLOWED:
            with sessions() as session, session.begin():
                epoch = session.get(Epoch, number)
                assert epoch is not None
                case.move(epoch)
            with sessions() as session:  # what the database holds, read back fresh
                stored = session.get(Epoch, number)
                assert stored is not None
                expected = {**BEFORE, **case.changes, "state": case.target}
                assert fields(stored) == expected, transition
                assert type(stored.state) is str  # the column stays a plain string
        else:
            with sessions() as session, session.begin():
                epoch = session.get(Epoch, number)
                assert epoch is not None
                with pytest.raises(LifecycleError) as refused:
                    case.move(epoch)
                assert str(refused.value) == f"epoch {number}: cannot {transition} from {state}"
                assert isinstance(refused.value, InvariantError)
                assert refused.value.extensions == {"epoch": number, "transition": str(transition), "state": state}
                assert fields(epoch) == {**BEFORE, "state": state}  # refused before touching anything


def test_a_whole_life_with_a_reorg_on_the_way(sessions: sessionmaker[Session]) -> None:
    add_epoch(sessions, 1, EpochState.SEALED)
    with sessions() as session, session.begin():
        epoch = session.get(Epoch, 1)
        assert epoch is not None
        lifecycle.submit(epoch, tx_hash=NEW_TX, nonce=5, at=200)
        lifecycle.mine(epoch, tx_hash=NEW_TX, block_number=9, block_hash=NEW_BLOCK, gas_used=1, at=210)
        lifecycle.reorg_to_submitted(epoch)
        lifecycle.mine(epoch, tx_hash=NEW_TX, block_number=10, block_hash=NEW_BLOCK, gas_used=1, at=230)
        lifecycle.finalize(epoch, at=240)
    with sessions() as session:
        final = session.get(Epoch, 1)
        assert final is not None
        assert (final.state, final.tx_hash, final.tx_nonce, final.block_number, final.finalized_at) == \
            (EpochState.FINAL, NEW_TX, 5, 10, 240)
        assert lifecycle.open_epochs(session) == []
        with pytest.raises(LifecycleError, match="epoch 1: cannot revert to sealed from final"):
            lifecycle.revert_to_sealed(final)


def test_open_epochs_are_those_not_final_in_order(sessions: sessionmaker[Session]) -> None:
    for number, state in enumerate([EpochState.FINAL, EpochState.MINED, EpochState.FINAL, EpochState.SEALED], 1):
        add_epoch(sessions, number, state)
    with sessions() as session:
        assert lifecycle.open_epochs(session) == [2, 4]


@pytest.mark.parametrize(("epoch", "epoch_state", "status"), [
    (None, None, ContributionStatus.PENDING),
    (3, EpochState.SEALED, ContributionStatus.SEALED),
    (3, EpochState.SUBMITTED, ContributionStatus.SEALED),
    (3, EpochState.MINED, ContributionStatus.SEALED),  # mined is not final: a reorg may still drop it
    (3, EpochState.FINAL, ContributionStatus.ANCHORED),
    (3, "final", ContributionStatus.ANCHORED),  # as the database returns it
])
def test_a_contribution_is_anchored_only_once_its_epoch_is_final(
    epoch: int | None, epoch_state: str | None, status: ContributionStatus
) -> None:
    assert contribution_status(epoch, epoch_state) == status
