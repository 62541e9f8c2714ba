"""A reorg that drops the anchoring transaction, and a transaction stuck under its fee ceiling."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from anchoring.chain import GWEI, FeePolicy
from ledger.lifecycle import EpochState
from ledger.models import AnchorAttempt, Epoch
from tests.anchoring_e2e.conftest import Stack, real_conversations


def epoch_row(stack: Stack, number: int) -> Epoch:
    with stack.sessions() as session:
        epoch = session.get(Epoch, number)
        assert epoch is not None
        return epoch


def test_a_reorg_that_drops_the_anchor_is_noticed_and_the_epoch_reaches_final(stack: Stack) -> None:
    stack.contribute(real_conversations(20))
    stack.seal()
    anchorer = stack.anchorer(confirmations=3)
    assert anchorer.step().sent == 1  # anvil mines it at once
    anchorer.step()
    first = epoch_row(stack, 1)
    assert first.state == EpochState.MINED and first.block_hash

    stack.chain.rpc("anvil_reorg", [1, []])  # replace the block that held it with an empty one
    assert stack.contract.functions.latestEpoch().call() == 0
    report = anchorer.step()
    assert report.reverted_to_sealed == (1,)
    assert epoch_row(stack, 1).state in (EpochState.SUBMITTED, EpochState.MINED)
    for _ in range(10):
        anchorer.step()
        stack.mine()
        if epoch_row(stack, 1).state == EpochState.FINAL:
            break
    final = epoch_row(stack, 1)
    assert final.state == EpochState.FINAL and final.block_hash != first.block_hash
    assert stack.contract.functions.latestEpoch().call() == 1
    events = stack.contract.events.EpochAnchored.get_logs(from_block=0, argument_filters={"epoch": 1})
    assert len(events) == 1 and events[0]["transactionHash"].to_0x_hex() == final.tx_hash


def test_an_anchor_left_behind_a_nonce_gap_by_a_reorg_is_sent_again_below_it(stack: Stack) -> None:
    """A reorg takes back a transaction of ours mined below the submitted anchor's nonce (as when
    it drops an earlier epoch's anchor that the next one's nonce was counted after): the anchor
    could never be mined, replacements included. It is sent again at the chain's next nonce."""
    stack.contribute(real_conversations(10))
    stack.seal()
    stack.chain.rpc("evm_setAutomine", [False])
    address = stack.account.address
    below = stack.w3.eth.get_transaction_count(address, "latest")
    other = stack.w3.eth.send_raw_transaction(stack.account.sign_transaction({
        "to": address, "value": 0, "nonce": below, "gas": 21_000, "maxFeePerGas": 100 * GWEI,
        "maxPriorityFeePerGas": GWEI, "chainId": stack.w3.eth.chain_id}).raw_transaction)
    stack.mine()
    anchorer = stack.anchorer(confirmations=1)
    assert anchorer.step().sent == 1 and epoch_row(stack, 1).tx_nonce == below + 1
    stack.chain.rpc("anvil_reorg", [1, []])  # the block of the transaction at `below` is gone...
    stack.chain.rpc("anvil_dropTransaction", [other.to_0x_hex()])  # ...and the node let it go
    assert stack.w3.eth.get_transaction_count(address, "latest") == below  # the anchor waits behind a gap

    report = anchorer.step()
    assert report.reverted_to_sealed == (1,)
    for _ in range(10):
        anchorer.step()
        stack.mine()
        if epoch_row(stack, 1).state == EpochState.FINAL:
            break
    assert epoch_row(stack, 1).state == EpochState.FINAL and epoch_row(stack, 1).tx_nonce == below
    assert stack.contract.functions.latestEpoch().call() == 1


def test_a_transaction_stuck_below_the_base_fee_is_replaced_once_the_ceiling_allows(stack: Stack) -> None:
    stack.contribute(real_conversations(10))
    stack.seal()
    high_base = 100 * GWEI
    stack.chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(high_base)])
    stack.mine()
    low_ceiling = stack.anchorer(fees=FeePolicy(max_fee_ceiling=50 * GWEI), stuck_after=0)
    assert low_ceiling.step().sent == 1
    stack.chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(high_base)])
    stack.mine()
    low_ceiling.step()
    stuck = epoch_row(stack, 1)
    assert stuck.state == EpochState.SUBMITTED and "ceiling" in (stuck.last_error or "")
    assert stack.contract.functions.latestEpoch().call() == 0

    raised = stack.anchorer(fees=FeePolicy(max_fee_ceiling=1000 * GWEI), stuck_after=0)
    stack.chain.rpc("anvil_setNextBlockBaseFeePerGas", [hex(high_base)])
    for _ in range(6):
        raised.step()
        stack.mine()
        if epoch_row(stack, 1).state == EpochState.FINAL:
            break
    landed = epoch_row(stack, 1)
    assert landed.state == EpochState.FINAL and stack.contract.functions.latestEpoch().call() == 1
    with stack.sessions() as session:
        attempts = session.scalars(select(AnchorAttempt).order_by(AnchorAttempt.id)).all()
    assert len(attempts) == 2 and attempts[0].nonce == attempts[1].nonce
    assert attempts[0].superseded and landed.tx_hash == attempts[1].tx_hash
    assert attempts[1].max_fee_per_gas > high_base
    assert stack.w3.eth.get_transaction_receipt(attempts[1].tx_hash)["status"] == 1


@pytest.mark.postgres
def test_two_anchorers_racing_on_postgresql_send_one_transaction(pg_stack: Stack) -> None:
    pg_stack.contribute(real_conversations(8))
    pg_stack.seal()
    first, second = pg_stack.anchorer(), pg_stack.anchorer()
    with ThreadPoolExecutor(max_workers=2) as pool:
        reports = list(pool.map(lambda a: a.step(), [first, second]))
    assert sorted(r.sent or 0 for r in reports) == [0, 1]
    with pg_stack.sessions() as session:
        attempts = session.scalars(select(AnchorAttempt)).all()
    assert len(attempts) == 1
    assert pg_stack.w3.eth.get_transaction_count(pg_stack.account.address) == 2  # deploy + one anchor
