"""200 real conversations over 3 epochs, anchored on a real node; every root checks out."""

from __future__ import annotations

import json

from sqlalchemy import select

from ledger.lifecycle import EpochState
from ledger.merkle import log as rfc9162
from ledger.merkle.standard import StandardMerkleTree
from ledger.models import Epoch
from tests.anchoring_e2e.conftest import Stack, real_conversations


def run_until(stack: Stack, anchorer, done, steps: int = 40) -> None:  # type: ignore[no-untyped-def]
    for _ in range(steps):
        anchorer.step()
        stack.mine()
        if done():
            return
    raise AssertionError("anchoring did not finish")


def states(stack: Stack) -> dict[int, str]:
    with stack.sessions() as session:
        return dict(session.execute(select(Epoch.number, Epoch.state)).all())


def test_three_epochs_of_real_conversations_anchor_and_recompute(stack: Stack) -> None:
    conversations = real_conversations(200)
    anchorer = stack.anchorer()
    for part in (conversations[:80], conversations[80:150], conversations[150:]):
        assert stack.contribute(part) > 0
        stack.seal()
    run_until(stack, anchorer, lambda: set(states(stack).values()) == {EpochState.FINAL})
    assert stack.contract.functions.latestEpoch().call() == 3

    leaves: list[bytes] = []
    replayed: dict[str, int] = {}
    for number in (1, 2, 3):
        with stack.sessions() as session:
            epoch = session.get(Epoch, number)
            assert epoch is not None and epoch.gas_used and epoch.block_number
        manifest = json.loads(stack.store.get(epoch.manifest_cid))
        for leaf in manifest["log"]["leaves"]:
            leaves.append(rfc9162.leaf_hash(rfc9162.leaf_data(
                leaf["index"], leaf["contributor"], bytes.fromhex(leaf["contentHash"][2:]), leaf["acceptedAt"],
                int(leaf["points"]))))
        for entry in manifest["journal"]:
            if entry["account"].startswith("0x"):
                replayed[entry["account"]] = replayed.get(entry["account"], 0) + int(entry["amount"])
        values = sorted([[a, str(b)] for a, b in replayed.items() if b], key=lambda v: v[0].lower())
        size, log_root, balances_root, total, anchored_at = stack.contract.functions.epochs(number).call()
        assert size == len(leaves) and log_root == rfc9162.root(leaves)
        assert "0x" + balances_root.hex() == StandardMerkleTree.of(values, ["address", "uint256"]).root
        assert total == sum(int(b) for _, b in values) and anchored_at > 0
        event = stack.contract.events.EpochAnchored.get_logs(from_block=0, argument_filters={"epoch": number})
        assert len(event) == 1 and event[0]["args"]["manifestCid"] == epoch.manifest_cid
        assert event[0]["transactionHash"].to_0x_hex() == epoch.tx_hash
    # The contract accepted each consistency proof: check one pair with its view, too.
    with stack.sessions() as session:
        from ledger.merkle.stored import StoredLog

        proof = StoredLog(session).consistency_proof(80, len(leaves))
    assert stack.contract.functions.verifyConsistency(1, 3, proof).call()
