"""Three hosts, one ledger, as production runs it (docs/architecture.md, "Several hosts").

Each host is its own processes with a data folder of its own: host 1 runs an API replica and the
first worker, host 2 an API replica, host 3 the second worker; they share one PostgreSQL database,
one js-ipfs node and anvil. Submissions go to both replicas; the leader is SIGKILLed in the middle
of an epoch and its data folder deleted; the other worker takes over and hardens, pins, seals and
anchors; then every replica serves every contribution, object, manifest and proof, and the audit
passes through each replica's gateway.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from sqlalchemy import func, select

from anchoring.audit import audit
from anchoring.chain import connect
from anchoring.devchain import DEV_FUNDED_KEY, DevChain, start_devchain
from ledger.content import cid_of
from ledger.content.car import decode_car
from ledger.db import make_engine, make_sessionmaker
from ledger.lifecycle import EpochState
from ledger.migrate import upgrade
from ledger.models import Epoch, StoredObject
from tally.client import sign_submission
from tests.anchoring_e2e.conftest import real_conversations
from tests.api.conftest import contributor_key
from tests.support.anvil import deploy_for_tests
from tests.support.ipfs_daemon import IpfsDaemon, ipfs_daemon  # noqa: F401  (the fixture)
from tests.support.server import free_port, tally_server
from tests.support.worker import start_worker, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.serial]


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[DevChain]:
    node = start_devchain(tmp_path / "chain", port=free_port(), block_time=1)
    try:
        yield node
    finally:
        node.stop()


def submit(url: str, conversations: list[dict[str, Any]], first: int) -> list[int]:
    config = httpx.get(url + "/v1/config", timeout=10).json()
    bodies = [sign_submission(config, c, contributor_key(i % 4), nonce=first + i, issued_at=int(time.time()))
              for i, c in enumerate(conversations)]
    answer = httpx.post(url + "/v1/contributions:batch", json={"items": bodies}, timeout=60)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [201] * len(bodies), results
    return [int(r["contribution"]["id"]) for r in results]


def test_the_leader_dies_with_its_data_and_another_host_finishes_its_work(
        pg_url: str, tmp_path: Path, chain: DevChain, ipfs_daemon: IpfsDaemon) -> None:  # noqa: F811
    upgrade(pg_url)
    w3 = connect(chain.url)
    contract = deploy_for_tests(w3, Account.from_key(DEV_FUNDED_KEY))
    env = {"TALLY_DATABASE_URL": pg_url, "TALLY_RPC_URL": chain.url, "TALLY_CHAIN_ID": "31337",
           "TALLY_CONTRACT_ADDRESS": contract.address, "TALLY_ANCHOR_KEY": DEV_FUNDED_KEY,
           "TALLY_OPERATOR_KEY": "0x" + "42" * 32, "TALLY_MASTER_KEY": "5e" * 32,
           "TALLY_IPFS_URL": ipfs_daemon.url, "TALLY_SEAL_INTERVAL": "4", "TALLY_ANCHOR_INTERVAL": "0.5",
           "TALLY_STORAGE_INTERVAL": "0.5", "TALLY_CONFIRMATIONS": "1", "TALLY_PINNED_RETENTION": "0",
           "TALLY_NEAR_DUPLICATES": "accept"}
    hosts = [tmp_path / f"host-{n}" / "tally" for n in (1, 2, 3)]
    for home in hosts:
        home.mkdir(parents=True)
    sessions = make_sessionmaker(make_engine(pg_url))

    def epochs() -> dict[int, str]:
        with sessions() as session:
            return {number: state for number, state in session.execute(select(Epoch.number, Epoch.state))}

    def final(count: int) -> bool:
        states = epochs()
        return len(states) >= count and all(states[n] == EpochState.FINAL for n in range(1, count + 1))

    leader = start_worker(hosts[0], env, "worker")
    wait_for(lambda: "now the leader" in leader.log(), 30, "a leader on host 1")
    follower = start_worker(hosts[2], env, "worker")
    replica_env = {**env, "TALLY_JOBS": "false"}
    with ExitStack() as running:
        running.callback(follower.stop)
        running.callback(leader.kill)
        replicas = [running.enter_context(tally_server(hosts[0], env=replica_env)),
                    running.enter_context(tally_server(hosts[1], env=replica_env))]
        conversations = real_conversations(16)
        ids = submit(replicas[0], conversations[:4], 1) + submit(replicas[1], conversations[4:8], 101)
        wait_for(lambda: final(1), 45, "epoch 1 final, anchored by host 1")
        # Mid-epoch: new contributions acknowledged, not sealed yet; host 1's worker dies with its disk.
        ids += submit(replicas[0], conversations[8:12], 201) + submit(replicas[1], conversations[12:], 301)
        leader.kill()
        shutil.rmtree(hosts[0])
        wait_for(lambda: "now the leader" in follower.log(), 30, "host 3 taking over")
        with sessions() as session:
            last = session.scalar(select(func.max(Epoch.number))) or 0
            assert session.scalar(select(func.count()).select_from(StoredObject).where(
                StoredObject.pinned_at.is_(None))), "nothing was left to pin: the kill came too late"
        wait_for(lambda: final(last + 1), 60, "the epoch after the kill final, anchored by host 3")
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(StoredObject).where(
                StoredObject.pinned_at.is_(None))) == 0, "host 3 pinned everything"
            assert session.scalar(select(func.count()).select_from(StoredObject).where(
                StoredObject.data.is_not(None))) == 0, "pinned bytes left the database"
        count = last + 1
        assert contract.functions.latestEpoch().call() == count
        for url in replicas:
            for key in ids:
                row = httpx.get(f"{url}/v1/contributions/{key}", timeout=30).json()
                car = httpx.get(f"{url}/ipfs/{row['cid']}", params={"format": "car"}, timeout=30)
                assert car.status_code == 200 and [str(r) for r in decode_car(car.content)[0]] == [row["cid"]]
                assert httpx.get(f"{url}/v1/contributions/{key}/proof", timeout=30).status_code == 200
            for number in range(1, count + 1):
                manifest = httpx.get(f"{url}/v1/epochs/{number}/manifest", timeout=30)
                header = httpx.get(f"{url}/v1/epochs/{number}", timeout=30).json()
                assert manifest.status_code == 200 and cid_of(manifest.content) == header["manifestCid"]
            for n in range(4):
                account = contributor_key(n).public_key.to_checksum_address()
                assert httpx.get(f"{url}/v1/accounts/{account}/proof", timeout=30).status_code == 200
            report = audit(chain.url, url, contract.address, api_url=url)
            assert report.failure is None and report.epochs == count, report
    assert "sealed epoch" in follower.log() and "anchor" in follower.log().split("now the leader", 1)[1]
