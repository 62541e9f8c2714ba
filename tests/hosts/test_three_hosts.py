"""Three hosts, one ledger, as production runs it (docs/architecture.md, "Several hosts").

Each host is one process group with a data folder of its own: host 1 runs the first worker, host
2 an API replica, host 3 an API replica and the second worker; they share one PostgreSQL
database, one js-ipfs node and anvil. Submissions go to both replicas; host 1, the leader, is
SIGKILLed in the middle of an epoch and its data folder deleted; host 3's worker takes over and
hardens, pins, seals and anchors; then every replica serves every contribution, object, manifest
and proof, and the audit passes through each replica's gateway.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
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
from tests.support.server import ROOT, free_port
from tests.support.worker import wait_for


@dataclass
class Host:
    """One host: a process group (an API replica and/or a worker) with its own data folder."""

    home: Path
    process: subprocess.Popen[bytes]
    url: str | None

    def log(self) -> str:
        return (self.home.parent / "host.log").read_text(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def start_host(home: Path, env: dict[str, str], *, replica: bool, worker: bool) -> Host:
    home.mkdir(parents=True)
    python = shlex.quote(sys.executable)
    port = free_port()
    commands = ([f"{python} -m tally.cli serve --no-jobs --port {port} --workers 1"] if replica else []) + \
               ([f"{python} -m tally.cli worker"] if worker else [])
    script = " & ".join([*commands[:-1], f"exec {commands[-1]}"])  # one session: killed together
    with open(home.parent / "host.log", "ab") as log:
        process = subprocess.Popen(["sh", "-c", script], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **env, "TALLY_HOME": str(home), "TALLY_JOBS": "false"},
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}" if replica else None
    host = Host(home, process, url)
    if url is not None:
        def ready() -> bool:
            assert process.poll() is None, host.log()
            try:
                return httpx.get(url + "/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 60, f"the replica of {home.parent.name}")
    return host


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
    sessions = make_sessionmaker(make_engine(pg_url))

    def epochs() -> dict[int, str]:
        with sessions() as session:
            return {number: state for number, state in session.execute(select(Epoch.number, Epoch.state))}

    def final(count: int) -> bool:
        states = epochs()
        return len(states) >= count and all(states[n] == EpochState.FINAL for n in range(1, count + 1))

    with ExitStack() as running:
        leader = start_host(tmp_path / "host-1" / "tally", env, replica=False, worker=True)
        running.callback(leader.kill)
        wait_for(lambda: "now the leader" in leader.log(), 30, "a leader on host 1")
        second = start_host(tmp_path / "host-2" / "tally", env, replica=True, worker=False)
        running.callback(second.stop)
        third = start_host(tmp_path / "host-3" / "tally", env, replica=True, worker=True)
        running.callback(third.stop)
        replicas = [url for url in (second.url, third.url) if url is not None]
        conversations = real_conversations(16)
        ids = submit(replicas[0], conversations[:4], 1) + submit(replicas[1], conversations[4:8], 101)
        wait_for(lambda: final(1), 45, "epoch 1 final, anchored by host 1")
        # Mid-epoch: new contributions acknowledged, not sealed yet; host 1 dies with its disk.
        ids += submit(replicas[0], conversations[8:12], 201) + submit(replicas[1], conversations[12:], 301)
        leader.kill()
        shutil.rmtree(leader.home.parent)
        wait_for(lambda: "now the leader" in third.log(), 30, "host 3 taking over")
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
        took_over = third.log().split("now the leader", 1)[1]
        assert "sealed epoch" in took_over and "anchor" in took_over
