"""`tally worker` processes on a real node: crashes at each step, a node outage, a leader that
dies. After each, every epoch is anchored exactly once and epoch numbers have no gap."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import select

from anchoring.chain import connect
from anchoring.devchain import DEV_FUNDED_KEY, DevChain, start_devchain
from ledger.content import LocalBlockStore
from ledger.db import make_engine, make_sessionmaker
from ledger.epochs import Anchor
from ledger.lifecycle import EpochState
from ledger.migrate import upgrade
from ledger.models import Epoch
from tests.anchoring_e2e.conftest import Stack, real_conversations
from tests.support.anvil import deploy_for_tests
from tests.support.server import free_port
from tests.support.worker import WorkerProcess, start_worker, wait_for

pytestmark = pytest.mark.slow


@dataclass
class Deployment:
    stack: Stack
    env: dict[str, str]
    home: Path
    chain_home: Path
    port: int

    def restart_chain(self) -> None:
        self.stack.chain = start_devchain(self.chain_home, port=self.port, block_time=1)

    def epochs(self) -> dict[int, str]:
        with self.stack.sessions() as session:
            return dict(session.execute(select(Epoch.number, Epoch.state)).all())

    def all_final(self, count: int) -> bool:
        states = self.epochs()
        return len(states) == count and set(states.values()) == {EpochState.FINAL}

    def assert_anchored_exactly_once(self, count: int) -> None:
        contract = self.stack.contract
        assert contract.functions.latestEpoch().call() == count
        assert sorted(self.epochs()) == list(range(1, count + 1))
        for number in range(1, count + 1):
            events = contract.events.EpochAnchored.get_logs(from_block=0, argument_filters={"epoch": number})
            assert len(events) == 1, f"epoch {number} anchored {len(events)} times"
        # One deployment plus one anchoring transaction per epoch: nothing was sent twice.
        assert self.stack.w3.eth.get_transaction_count(self.stack.account.address) == 1 + count


def make_deployment(db_url: str, tmp_path: Path) -> Iterator[Deployment]:
    upgrade(db_url)
    port = free_port()
    chain_home = tmp_path / "chain"
    chain: DevChain = start_devchain(chain_home, port=port, block_time=1)
    deployment: Deployment | None = None
    try:
        w3 = connect(chain.url)
        account = Account.from_key(DEV_FUNDED_KEY)
        contract = deploy_for_tests(w3, account)
        home = tmp_path / "home"
        stack = Stack(make_sessionmaker(make_engine(db_url)), LocalBlockStore(home / "blocks", fsync=False),
                      chain, w3, contract, account, Anchor(31337, contract.address))
        env = {
            "TALLY_DATABASE_URL": db_url, "TALLY_RPC_URL": chain.url, "TALLY_CHAIN_ID": "31337",
            "TALLY_CONTRACT_ADDRESS": contract.address, "TALLY_ANCHOR_KEY": DEV_FUNDED_KEY,
            "TALLY_OPERATOR_KEY": "0x" + "42" * 32, "TALLY_SEAL_INTERVAL": "1", "TALLY_ANCHOR_INTERVAL": "0.5",
            "TALLY_CONFIRMATIONS": "1",
        }
        deployment = Deployment(stack, env, home, chain_home, port)
        yield deployment
    finally:
        chain.stop()
        if deployment is not None:
            deployment.stack.chain.stop()  # the node may have been restarted


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Iterator[Deployment]:
    yield from make_deployment(sqlite_url, tmp_path)


@pytest.fixture
def pg_deployment(pg_url: str, tmp_path: Path) -> Iterator[Deployment]:
    yield from make_deployment(pg_url, tmp_path)


@pytest.mark.parametrize("point", ["after-seal", "after-send", "after-receipt"])
def test_a_worker_killed_at_any_step_anchors_exactly_once_after_restart(
    deployment: Deployment, point: str
) -> None:
    deployment.stack.contribute(real_conversations(15))
    crashing = start_worker(deployment.home, {**deployment.env, "TALLY_CRASH_AT": point}, "crashing")
    try:
        assert crashing.wait_exit(timeout=90) == -9, crashing.log()
    finally:
        crashing.kill()
    deployment.stack.contribute(real_conversations(10, skip=15))
    worker = start_worker(deployment.home, deployment.env)
    try:
        wait_for(lambda: deployment.all_final(2), 90, "two final epochs")
    finally:
        worker.stop()
    deployment.assert_anchored_exactly_once(2)


def test_a_node_outage_makes_the_worker_back_off_and_finish_later(deployment: Deployment) -> None:
    deployment.stack.contribute(real_conversations(10))
    worker = start_worker(deployment.home, deployment.env)
    try:
        wait_for(lambda: deployment.all_final(1), 60, "epoch 1 final")
        deployment.stack.chain.stop()
        deployment.stack.contribute(real_conversations(10, skip=10))
        wait_for(lambda: len(deployment.epochs()) == 2, 30, "epoch 2 sealed while the node is down")
        time.sleep(30)
        assert worker.alive()
        failures = worker.log().count("chain unavailable")
        assert 2 <= failures <= 15, f"{failures} attempts in 30 s: no backoff"
        deployment.restart_chain()
        wait_for(lambda: deployment.all_final(2), 120, "epoch 2 final after the node returned")
    finally:
        worker.stop()
    deployment.assert_anchored_exactly_once(2)


@pytest.mark.postgres
def test_two_workers_on_postgresql_one_anchors_and_the_other_takes_over(pg_deployment: Deployment) -> None:
    d = pg_deployment
    d.stack.contribute(real_conversations(10))
    first = start_worker(d.home, d.env, "first")
    wait_for(lambda: "now the leader" in first.log(), 30, "a leader")
    second = start_worker(d.home, d.env, "second")
    workers: dict[str, WorkerProcess] = {"first": first, "second": second}
    try:
        wait_for(lambda: d.all_final(1), 60, "epoch 1 final")
        assert "now the leader" not in second.log()
        first.kill()  # the leader dies without a word
        d.stack.contribute(real_conversations(10, skip=10))
        wait_for(lambda: "now the leader" in second.log(), 30, "the follower taking over")
        wait_for(lambda: d.all_final(2), 90, "epoch 2 final, anchored by the new leader")
    finally:
        for w in workers.values():
            w.stop()
    assert "anchoring" not in first.log().split("now the leader")[0]
    d.assert_anchored_exactly_once(2)

