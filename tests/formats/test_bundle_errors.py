"""Why no bundle can be built, as ledger errors with their problem codes (``ledger.proofs``), on the
golden ledger (two final epochs) and one contribution recorded after them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from ledger.errors import NotFoundError
from ledger.formats import ContributionBundle
from ledger.lifecycle import EpochState
from ledger.models import Contribution, Epoch
from ledger.proofs import (
    BalanceTrees,
    EpochBeforeInclusionError,
    NotAnchoredError,
    balance_proof,
    contribution_bundle,
    contribution_proof,
)
from tests.formats.golden.generate import CHAIN, CONTRIBUTORS, contribute, sealed_ledger


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    sessions, store = sealed_ledger(Path(tmp_path_factory.mktemp("ledger")))
    contribute(sessions, store, range(8, 9))  # accepted, not sealed
    return sessions, store


def row(session: Session, number: int) -> Contribution:
    found = session.get(Contribution, number)
    assert found is not None
    return found


def test_a_proof_is_against_any_epoch_from_the_one_that_sealed_it(ledger: tuple[Any, Any]) -> None:
    sessions, _ = ledger
    with sessions() as session:
        own = contribution_proof(session, CHAIN, row(session, 7), 2)
        assert own.envelope.header.epoch == 2 and own.leaf.log_leaf.index == 6
        assert ContributionBundle.from_json(contribution_bundle(session, CHAIN, row(session, 7), 2)) == own
        with pytest.raises(EpochBeforeInclusionError) as early:
            contribution_proof(session, CHAIN, row(session, 7), 1)
        assert str(early.value) == "epoch 1 is before the epoch (2) that includes it"
        assert (early.value.code, early.value.status, early.value.extensions) == ("invalid-request", 422,
                                                                                  {"field": "epoch"})
        with pytest.raises(NotFoundError, match=r"^no epoch 3$"):
            contribution_proof(session, CHAIN, row(session, 7), 3)


def test_nothing_to_prove_against_yet_is_not_anchored(ledger: tuple[Any, Any]) -> None:
    sessions, _ = ledger
    with sessions() as session:
        with pytest.raises(NotAnchoredError) as pending:
            contribution_proof(session, CHAIN, row(session, 9), None)
        assert (pending.value.code, pending.value.status) == ("not-anchored", 409)
        assert "contribution 9 is not sealed" in str(pending.value)
    with sessions() as session, session.begin():
        session.get(Epoch, 2).state = EpochState.SEALED  # epoch 2 sealed but not anchored: epoch 1 is the latest final
    try:
        with sessions() as session:
            with pytest.raises(NotAnchoredError) as unanchored:
                contribution_proof(session, CHAIN, row(session, 7), None)
            assert unanchored.value.extensions == {"epoch": 2} and unanchored.value.epoch == 2
    finally:
        with sessions() as session, session.begin():
            session.get(Epoch, 2).state = EpochState.FINAL


def test_an_account_without_a_balance_is_not_found_in_that_epoch(ledger: tuple[Any, Any]) -> None:
    sessions, store = ledger
    with sessions() as session:
        trees = BalanceTrees(store)
        assert balance_proof(session, CHAIN, trees, CONTRIBUTORS[0], 1).leaf.account == CONTRIBUTORS[0]
        nobody = "0x" + "ab" * 20
        with pytest.raises(NotFoundError) as missing:
            balance_proof(session, CHAIN, trees, nobody, None)
        assert str(missing.value) == f"{nobody} has no balance in epoch 2" and missing.value.extensions == {"epoch": 2}
