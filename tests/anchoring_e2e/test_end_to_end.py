"""200 real conversations over 3 epochs, anchored on a real node; every root checks out."""

from __future__ import annotations

import json

from sqlalchemy import select

from anchoring.contract import TallyAnchor
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
    anchor = TallyAnchor(stack.w3, stack.contract.address)
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
        [event] = anchor.anchored_events(epoch=number)
        header = event.header
        assert header.log_size == len(leaves) and header.log_root == rfc9162.root(leaves)
        assert "0x" + header.balances_root.hex() == StandardMerkleTree.of(values, ["address", "uint256"]).root
        assert header.total_points == sum(int(b) for _, b in values)
        assert anchor.header_hash(number) == header.hash()
        assert event.manifest_cid == epoch.manifest_cid and event.transaction_hash == epoch.tx_hash
    # The contract accepted each consistency proof: check one pair with its view, too.
    with stack.sessions() as session:
        from ledger.merkle.stored import StoredLog

        proof = StoredLog(session).consistency_proof(80, len(leaves))
    [first], [third] = anchor.anchored_events(epoch=1), anchor.anchored_events(epoch=3)
    assert first.log_size == 80 and anchor.verify_consistency(first.header, third.header, proof)
