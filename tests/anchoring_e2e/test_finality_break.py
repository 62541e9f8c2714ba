"""A reorg deeper than the confirmations takes final epochs off the chain: every pass re-checks
the newest final epochs against the contract, logs and counts the break, takes them back to
sealed and anchors them again; a pass where nothing broke changes nothing, for a few calls."""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from web3 import Web3
from web3.providers.rpc import HTTPProvider

from anchoring.anchorer import AnchorConflictError, Anchorer, AnchorPolicy, StepReport, contract_header
from anchoring.audit import audit
from anchoring.contract import GENESIS_HEADER, EpochHeader, TallyAnchor
from ledger.lifecycle import EpochState
from ledger.models import AnchorAttempt, Epoch, FinalityViolation
from ledger.proofs import NotAnchoredError, choose_epoch
from tests.anchoring_e2e.conftest import Stack, real_conversations, serve, submit_all

CONFIRMATIONS = 1


def epochs(stack: Stack) -> dict[int, tuple[str, str | None, int | None]]:
    """Every epoch's (state, tx_hash, block_number), as the database holds them."""
    with stack.sessions() as session:
        return {e.number: (e.state, e.tx_hash, e.block_number)
                for e in session.scalars(select(Epoch).order_by(Epoch.number))}


def run_until_final(stack: Stack, anchorer: Anchorer, passes: int = 12) -> list[StepReport]:
    reports = []
    for _ in range(passes):
        reports.append(anchorer.step())
        stack.mine()
        if all(state == EpochState.FINAL for state, _, _ in epochs(stack).values()):
            return reports
    raise AssertionError(f"not final: {epochs(stack)}")


def epoch_final(stack: Stack, served: TestClient, anchorer: Anchorer, part: int) -> list[dict[str, Any]]:
    """Submit, seal and anchor one more epoch until it is final; its contributions."""
    contributions = submit_all(served, real_conversations(5, skip=5 * part), first_key=part)
    stack.seal()
    run_until_final(stack, anchorer)
    return contributions


def chain_header_hash(stack: Stack, number: int) -> bytes:
    """What the contract holds for the epoch: its header's hash."""
    return bytes(stack.contract.functions.headerHash(number).call())


def db_header(stack: Stack, number: int) -> EpochHeader:
    with stack.sessions() as session:
        epoch = session.get(Epoch, number)
        assert epoch is not None
        return contract_header(epoch)


def violations_metric(served: TestClient) -> float:
    for line in served.get("/metrics").text.splitlines():
        if line.startswith("tally_finality_violations_total "):
            return float(line.split()[1])
    raise AssertionError("tally_finality_violations_total is not exported")


def break_finality(stack: Stack, served: TestClient, caplog: pytest.LogCaptureFixture) -> tuple[Anchorer, int]:
    """Epoch 1 final and buried; epochs 2 and 3 final, then a reorg deeper than the
    confirmations drops both their blocks. Returns the anchorer and the reorg's depth."""
    anchorer = stack.anchorer(confirmations=CONFIRMATIONS)
    epoch_final(stack, served, anchorer, 0)
    stack.mine(5)  # epoch 1's block stays out of the reorg's reach
    epoch_final(stack, served, anchorer, 1)
    epoch_final(stack, served, anchorer, 2)
    before = epochs(stack)
    assert [state for state, _, _ in before.values()] == [EpochState.FINAL] * 3
    depth = stack.w3.eth.block_number - (before[2][2] or 0) + 1
    assert depth > CONFIRMATIONS + 1  # deeper than what we trusted as final

    stack.chain.rpc("anvil_reorg", [depth, []])
    assert stack.contract.functions.latestEpoch().call() == 1  # the chain lost epochs 2 and 3
    assert epochs(stack) == before  # and the ledger has not noticed yet
    assert violations_metric(served) == 0
    return anchorer, depth


def test_a_reorg_deeper_than_the_confirmations_is_caught_counted_and_anchored_again(
        stack: Stack, served: TestClient, gateway: str, caplog: pytest.LogCaptureFixture) -> None:
    anchorer, _depth = break_finality(stack, served, caplog)
    dropped = epochs(stack)
    late = submit_all(served, real_conversations(1, skip=15), first_key=3)  # nothing to do with it
    assert late

    with caplog.at_level(logging.ERROR, logger="tally.anchoring"):
        report = anchorer.step()
    assert report.revoked == (2, 3)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "finality violation" in r.getMessage()]
    assert [r.getMessage().split()[3] for r in errors] == ["2", "3"]  # "finality violation: epoch N ..."
    with stack.sessions() as session:
        rows = session.scalars(select(FinalityViolation).order_by(FinalityViolation.id)).all()
        assert [(v.epoch, v.chain_latest, v.tx_hash, v.block_number) for v in rows] == \
            [(n, 1, dropped[n][1], dropped[n][2]) for n in (2, 3)]
        assert all(a.superseded for a in session.scalars(select(AnchorAttempt).where(AnchorAttempt.epoch >= 2)
                                                          .where(AnchorAttempt.tx_hash.in_([dropped[2][1],
                                                                                             dropped[3][1]]))))
        # The proof API reads these states: no longer offered as final.
        assert session.get(Epoch, 2).state != EpochState.FINAL  # type: ignore[union-attr]
        assert session.get(Epoch, 3).state == EpochState.SEALED  # type: ignore[union-attr]
        assert choose_epoch(session, None, 1).number == 1
    assert violations_metric(served) == 2
    assert report.sent == 2  # the same pass anchors epoch 2 again, exactly latestEpoch + 1

    run_until_final(stack, anchorer)
    again = epochs(stack)
    assert [state for state, _, _ in again.values()] == [EpochState.FINAL] * 3
    assert again[1] == dropped[1]  # below the reorg: untouched
    assert stack.contract.functions.latestEpoch().call() == 3
    for number in (1, 2, 3):
        assert chain_header_hash(stack, number) == db_header(stack, number).hash()
        events = stack.contract.events.EpochAnchored.get_logs(from_block=0, argument_filters={"epoch": number})
        assert len(events) == 1 and events[0]["transactionHash"].to_0x_hex() == again[number][1]
    assert violations_metric(served) == 2  # counted once, not at every pass
    report = audit(stack.chain.url, gateway, stack.contract.address)
    assert report.ok, report.discrepancy
    assert report.epochs == 3


def test_a_dropped_transaction_mined_again_elsewhere_is_caught_by_its_block(
        stack: Stack, served: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    anchorer, _depth = break_finality(stack, served, caplog)
    dropped = epochs(stack)
    with stack.sessions() as session:  # a node puts epoch 2's dropped transaction back in its pool
        raw = session.scalars(select(AnchorAttempt.raw_tx).where(AnchorAttempt.tx_hash == dropped[2][1])).one()
    stack.w3.eth.send_raw_transaction(raw)  # anvil mines it at once, in a new block
    assert stack.contract.functions.latestEpoch().call() == 2
    assert chain_header_hash(stack, 2) == db_header(stack, 2).hash()  # the header alone shows nothing wrong

    with caplog.at_level(logging.ERROR, logger="tally.anchoring"):
        report = anchorer.step()
    assert report.revoked == (2, 3) and report.mined == (2,)  # recorded where it is now, same pass
    with stack.sessions() as session:
        reasons = dict(session.execute(select(FinalityViolation.epoch, FinalityViolation.reason)).all())
    assert reasons == {2: f"its block {dropped[2][2]} left the canonical chain",
                       3: "the contract's latestEpoch is 2"}
    run_until_final(stack, anchorer)
    again = epochs(stack)
    assert again[2][1] == dropped[2][1] and again[2][2] != dropped[2][2]  # same transaction, new block
    assert stack.contract.functions.latestEpoch().call() == 3
    assert chain_header_hash(stack, 3) == db_header(stack, 3).hash()
    assert violations_metric(served) == 2


def test_the_proof_api_stops_offering_a_revoked_epoch_as_final(
        stack: Stack, served: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    anchorer = stack.anchorer(confirmations=CONFIRMATIONS)
    first = epoch_final(stack, served, anchorer, 0)
    stack.mine(5)
    second = epoch_final(stack, served, anchorer, 1)
    block = epochs(stack)[2][2] or 0
    assert served.get(f"/v1/contributions/{second[0]['id']}/proof").json()["header"]["state"] == "final"
    stack.chain.rpc("anvil_reorg", [stack.w3.eth.block_number - block + 1, []])

    # One pass with sending held back: the epoch is revoked and waits, sealed.
    held = Anchorer(sessions=stack.sessions, w3=stack.w3, contract=stack.contract, account=stack.account,
                    policy=AnchorPolicy(confirmations=CONFIRMATIONS), ready=lambda _s, _e: False)
    assert held.step().revoked == (2,)
    refused = served.get(f"/v1/contributions/{second[0]['id']}/proof")
    assert refused.status_code == 409 and refused.json()["type"].endswith("/not-anchored")
    asked = served.get(f"/v1/contributions/{second[0]['id']}/proof", params={"epoch": 2})
    assert asked.status_code == 200 and asked.json()["header"]["state"] == "sealed"  # asked by number: the truth
    assert asked.json()["transaction"] is None  # the dropped transaction is not offered either
    assert served.get(f"/v1/contributions/{first[0]['id']}/proof").json()["header"]["epoch"] == 1
    with stack.sessions() as session, pytest.raises(NotAnchoredError):
        choose_epoch(session, None, 2)


def test_a_final_epoch_replaced_by_different_data_stops_anchoring_and_is_no_violation(
        stack: Stack, served: TestClient) -> None:
    anchorer = stack.anchorer(confirmations=CONFIRMATIONS)
    epoch_final(stack, served, anchorer, 0)
    block = epochs(stack)[1][2] or 0
    stack.chain.rpc("anvil_reorg", [stack.w3.eth.block_number - block + 1, []])
    # Before our next pass, a transaction with other data takes epoch 1 (the same key here: a
    # second deployment of the service signing its own ledger).
    ours = db_header(stack, 1)
    other = EpochHeader(1, ours.log_size, ours.log_root, b"\x01" * 32, ours.total_points)
    foreign = TallyAnchor(stack.w3, stack.contract.address).anchor_function(
        GENESIS_HEADER, other, "bafy-other", []).transact({"from": stack.account.address})
    assert stack.w3.eth.wait_for_transaction_receipt(foreign)["status"] == 1

    with pytest.raises(AnchorConflictError, match="epoch 1"):
        anchorer.step()
    assert epochs(stack)[1][0] == EpochState.FINAL  # the conflict is for an operator, not a reorg to undo
    with stack.sessions() as session:
        assert session.scalars(select(FinalityViolation)).all() == []


class CountingProvider(HTTPProvider):
    """A real provider that counts the JSON-RPC requests it sends, by method."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.calls: Counter[str] = Counter()

    def make_request(self, method: Any, params: Any) -> Any:
        self.calls[str(method)] += 1
        return super().make_request(method, params)


def one_pass_calls(stack: Stack, recheck_final: int) -> tuple[StepReport, Counter[str]]:
    provider = CountingProvider(stack.chain.url)
    anchorer = Anchorer(sessions=stack.sessions, w3=Web3(provider), contract=stack.contract, account=stack.account,
                        policy=AnchorPolicy(confirmations=CONFIRMATIONS, recheck_final=recheck_final))
    return anchorer.step(), provider.calls


def test_a_pass_where_nothing_broke_changes_nothing_for_a_bounded_number_of_calls(
        stack: Stack, served: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    anchorer = stack.anchorer(confirmations=CONFIRMATIONS)
    for part in range(5):
        epoch_final(stack, served, anchorer, part)
    stack.mine(3)
    before = epochs(stack)

    with caplog.at_level(logging.WARNING, logger="tally.anchoring"):
        for _ in range(3):
            assert anchorer.step() == StepReport()
        checked, with_recheck = one_pass_calls(stack, recheck_final=3)
        _, without = one_pass_calls(stack, recheck_final=0)
    assert checked == StepReport()
    assert epochs(stack) == before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    with stack.sessions() as session:
        assert session.scalars(select(FinalityViolation)).all() == []
    assert violations_metric(served) == 0
    # The cost, whatever the history's length: one eth_call per re-checked epoch (3 of the 5
    # final ones) and the newest one's block, plus the eth_chainId lookups web3's validation
    # middleware makes before an eth_call.
    extra = with_recheck - without
    assert (extra["eth_call"], extra["eth_getBlockByNumber"]) == (3, 1), (with_recheck, without)
    assert set(extra) <= {"eth_call", "eth_getBlockByNumber", "eth_chainId"}, extra
    assert sum(extra.values()) <= 3 * 3 + 1, extra


@pytest.mark.postgres
def test_a_finality_break_on_postgresql(pg_stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    served = serve(pg_stack)
    anchorer, _depth = break_finality(pg_stack, served, caplog)
    second = pg_stack.anchorer(confirmations=CONFIRMATIONS)
    with caplog.at_level(logging.ERROR, logger="tally.anchoring"), ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda a: a.step(), [anchorer, second]))
    # Two anchorers racing: the FOR UPDATE locks let one take the epochs back, once.
    assert sorted(r.revoked for r in reports) == [(), (2, 3)]
    assert violations_metric(served) == 2
    with pg_stack.sessions() as session:  # and each epoch is sent again once (the other may go on to the next)
        live = session.scalars(select(AnchorAttempt.epoch).where(AnchorAttempt.superseded.is_(False))).all()
    assert 2 in live and len(live) == len(set(live)), live
    run_until_final(pg_stack, anchorer)
    assert pg_stack.contract.functions.latestEpoch().call() == 3
    for number in (2, 3):
        assert chain_header_hash(pg_stack, number) == db_header(pg_stack, number).hash()
        events = pg_stack.contract.events.EpochAnchored.get_logs(from_block=0, argument_filters={"epoch": number})
        assert len(events) == 1
    assert violations_metric(served) == 2
