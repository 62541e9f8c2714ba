"""An epoch's full balances, on demand and in proofs, rebuilt from manifests that publish only
the balances each epoch changed (manifest version 3) and a snapshot every few epochs."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ledger.balances import balances_root
from ledger.content import LocalBlockStore, cid_of
from ledger.epochs import Anchor, seal_epoch
from ledger.formats import BalancesSnapshot
from ledger.lifecycle import EpochState
from ledger.merkle.standard import standard_leaf_hash, standard_node_hash
from ledger.models import Epoch
from tests.api.conftest import Api, build_api, contributor_key

ADMIN = {"Authorization": "Bearer s3cret"}
ACCOUNTS = [contributor_key(n).public_key.to_checksum_address() for n in range(4)]


@pytest.fixture
def three_epochs(db_url: str, tmp_path: Path) -> tuple[Api, TestClient]:
    """Epoch 1 grants to every account, epoch 2 (which publishes a snapshot) to two of them,
    epoch 3 empties one account and grants to another; all three marked final."""
    api = build_api(db_url, tmp_path)
    client = api.client_with(admin_api_key="s3cret")
    rounds = [[(a, "100", "grant") for a in ACCOUNTS],
              [(ACCOUNTS[0], "5", "grant"), (ACCOUNTS[1], "7", "grant")],
              [(ACCOUNTS[2], "100", "clawback"), (ACCOUNTS[3], "1", "grant")]]
    for number, moves in enumerate(rounds, start=1):
        for i, (account, points, kind) in enumerate(moves):
            answer = client.post(f"/v1/accounts/{account}/{kind}s", json={"points": points, "ref": f"r{number}-{i}"},
                                 headers=ADMIN)
            assert answer.status_code == 201, answer.json()
        with api.intake.sessions() as session, session.begin():  # as the sealing job does
            epoch = seal_epoch(session, LocalBlockStore(api.blocks, fsync=False),
                               Anchor(31337, api.services.chain.contract), now=number, snapshot_every=2)
            assert epoch is not None and epoch.number == number
            epoch.state = EpochState.FINAL
    return api, client


def test_any_epochs_balances_are_served_on_demand_and_prove_themselves(three_epochs: tuple[Api, TestClient]) -> None:
    _, client = three_epochs
    expected = {1: {a: 100 for a in ACCOUNTS},
                2: {ACCOUNTS[0]: 105, ACCOUNTS[1]: 107, ACCOUNTS[2]: 100, ACCOUNTS[3]: 100},
                3: {ACCOUNTS[0]: 105, ACCOUNTS[1]: 107, ACCOUNTS[3]: 101}}
    for number in (3, 1, 2):  # epoch 3 rebuilds from epoch 2's snapshot; epoch 1 from nothing
        answer = client.get(f"/v1/epochs/{number}/balances")
        assert answer.status_code == 200
        snapshot = BalancesSnapshot.from_json(answer.json())
        header = client.get(f"/v1/epochs/{number}").json()
        assert snapshot.epoch == number and "0x" + snapshot.root.hex() == header["balancesRoot"]
        assert balances_root(snapshot.values) == snapshot.root and dict(snapshot.values) == expected[number]
        assert answer.headers["X-Content-CID"] == cid_of(answer.content)
    # The epoch whose manifest names a snapshot: served on demand, it is that very document.
    manifest = client.get("/v1/epochs/2/manifest").json()
    assert manifest["balances"]["snapshot"] == client.get("/v1/epochs/2/balances").headers["X-Content-CID"]
    assert client.get("/v1/epochs/3/manifest").json()["balances"]["changed"] == sorted(
        [[ACCOUNTS[2], "0"], [ACCOUNTS[3], "101"]], key=lambda pair: pair[0].lower())
    missing = client.get("/v1/epochs/4/balances")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_balance_proofs_of_every_epoch_lead_to_its_root(three_epochs: tuple[Api, TestClient]) -> None:
    api, client = three_epochs
    for number in (3, 1, 2):
        for account in ACCOUNTS:
            answer = client.get(f"/v1/accounts/{account}/proof", params={"epoch": number})
            if number == 3 and account == ACCOUNTS[2]:  # emptied in epoch 3: no leaf to prove
                assert answer.status_code == 404
                continue
            bundle = answer.json()
            node = standard_leaf_hash(["address", "uint256"], [account, int(bundle["leaf"]["balance"])])
            for sibling in bundle["proof"]:
                node = standard_node_hash(node, bytes.fromhex(sibling[2:]))
            assert "0x" + node.hex() == bundle["header"]["balancesRoot"]
    with api.intake.sessions() as session:
        assert session.get(Epoch, 3).accounts == 3  # type: ignore[union-attr]
