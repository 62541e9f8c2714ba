"""One production-shaped deployment for the fault scenarios, and the load that runs against it.

The deployment is what `docs/architecture.md` calls the production shape: PostgreSQL, an anvil
node with its state file, a deployed TallyAnchor, one `tally serve --no-jobs` API process and one
`tally worker` process (the leader: it seals, pins and anchors), optionally a js-ipfs node. Every
process is real and can be SIGKILLed and started again; clients keep the same URL.

The load is a small thread pool submitting real ShareGPT conversations, each signed once with
EIP-712 (`tally.client.sign_submission`) and retried with the same body on a connection error,
so a retry after a crash is either acknowledged or refused as a duplicate, never counted twice.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from anchoring.chain import connect
from anchoring.devchain import DEV_FUNDED_KEY, DevChain, start_devchain
from ledger.conversation import canonical_bytes
from ledger.db import make_engine, make_sessionmaker
from ledger.lifecycle import EpochState
from ledger.migrate import upgrade
from ledger.models import Contribution, Epoch, StoredObject
from tally.client import sign_submission
from tests.api.conftest import contributor_key
from tests.support.anvil import deploy_for_tests
from tests.support.ipfs_daemon import IpfsDaemon
from tests.support.server import ServerProcess, free_port
from tests.support.worker import WorkerProcess, start_worker, wait_for

# Seven contributors: enough accounts for the balances tree to have depth, few enough that each
# account gets several entries whose sum the invariants check.
CONTRIBUTORS = 7


@dataclass
class Deployment:
    db_url: str
    home: Path
    chain_home: Path
    chain_port: int
    chain: DevChain
    w3: Web3
    contract: Any
    account: LocalAccount
    env: dict[str, str]
    sessions: sessionmaker[Session]
    server: ServerProcess
    worker: WorkerProcess | None = None
    ipfs: IpfsDaemon | None = None
    kills: Counter[str] = field(default_factory=Counter)

    # ---- processes

    def start_worker(self) -> None:
        self.worker = start_worker(self.home, self.env, f"worker-{self.kills['worker']}")

    def kill_worker(self) -> None:
        assert self.worker is not None
        self.worker.kill()
        self.kills["worker"] += 1

    def kill_server(self) -> None:
        self.server.kill()
        self.kills["server"] += 1

    def restart_chain(self) -> None:
        """A new anvil on the same port from the state file the old one dumped."""
        self.chain = start_devchain(self.chain_home, port=self.chain_port, block_time=1)

    def pause_chain(self) -> None:
        os.kill(self.chain.process.pid, signal.SIGSTOP)

    def resume_chain(self) -> None:
        os.kill(self.chain.process.pid, signal.SIGCONT)

    def stop_all(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.server.stop()
        if self.chain.process.poll() is None:
            self.resume_chain()  # a stopped process cannot act on SIGTERM
        self.chain.stop()
        if self.ipfs is not None:
            self.ipfs.stop()

    def processes_alive(self) -> dict[str, bool]:
        return {"server": self.server.alive(), "worker": self.worker is not None and self.worker.alive()}

    # ---- ledger state, read straight from the database

    def epochs(self) -> dict[int, str]:
        with self.sessions() as session:
            return dict(session.execute(select(Epoch.number, Epoch.state)).all())

    def unsealed(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).where(Contribution.epoch.is_(None))) or 0)

    def unpinned(self) -> int:
        with self.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(StoredObject)
                                      .where(StoredObject.pinned_at.is_(None))) or 0)

    def settled(self) -> bool:
        """Everything accepted is sealed, every epoch final and (with IPFS) every object pinned.
        The epochs and the unsealed count are read in one snapshot: read apart, a seal between
        the two reads showed the epochs before it (all final) and the contributions after it
        (none unsealed), and the new epoch, still being anchored, was called settled."""
        with self.sessions() as session, session.begin():
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            states = dict(session.execute(select(Epoch.number, Epoch.state)).all())
            unsealed = session.scalar(select(func.count()).where(Contribution.epoch.is_(None)))
        if not states or set(states.values()) != {EpochState.FINAL} or unsealed:
            return False
        return self.ipfs is None or self.unpinned() == 0

    def wait_settled(self, timeout: float) -> None:
        wait_for(self.settled, timeout, f"a settled ledger (epochs {self.epochs()}, unsealed {self.unsealed()})",
                 interval=0.5)


def make_deployment(db_url: str, tmp_path: Path, *, confirmations: int = 1, ipfs: IpfsDaemon | None = None,
                    extra_env: dict[str, str] | None = None) -> Deployment:
    """Migrate, start anvil (1 s blocks), deploy, start the worker and the API process (booting
    side by side: each takes seconds to import on a loaded machine)."""
    upgrade(db_url)
    chain_home, chain_port = tmp_path / "chain", free_port()
    chain = start_devchain(chain_home, port=chain_port, block_time=1)
    w3 = connect(chain.url)
    account = Account.from_key(DEV_FUNDED_KEY)
    contract = deploy_for_tests(w3, account)
    home = tmp_path / "home"
    home.mkdir(parents=True)
    env = {
        "TALLY_DATABASE_URL": db_url, "TALLY_RPC_URL": chain.url, "TALLY_CHAIN_ID": "31337",
        "TALLY_CONTRACT_ADDRESS": contract.address, "TALLY_ANCHOR_KEY": DEV_FUNDED_KEY,
        "TALLY_OPERATOR_KEY": "0x" + "42" * 32, "TALLY_MASTER_KEY": "ab" * 32,
        "TALLY_SEAL_INTERVAL": "1", "TALLY_ANCHOR_INTERVAL": "0.5", "TALLY_STORAGE_INTERVAL": "1",
        "TALLY_CONFIRMATIONS": str(confirmations),
        # The load generator stands for many contributors and clients behind one address: the
        # per-contributor and per-client limits (tested in tests/api/test_quotas.py) are off here.
        "TALLY_LIMIT_CLIENT_REQUESTS_PER_MINUTE": "0", "TALLY_LIMIT_CONTRIBUTOR_REQUESTS_PER_MINUTE": "0",
        "TALLY_LIMIT_CONTRIBUTIONS_PER_HOUR": "0", "TALLY_LIMIT_POINTS_PER_DAY": "0",
        **({"TALLY_IPFS_URL": ipfs.url, "TALLY_IPFS_TIMEOUT": "5"} if ipfs is not None else {}),
        **(extra_env or {}),
    }
    server = ServerProcess(home, env)
    deployment = Deployment(db_url, home, chain_home, chain_port, chain, w3, contract, account, env,
                            make_sessionmaker(make_engine(db_url)), server, ipfs=ipfs)
    try:
        deployment.start_worker()
        server.start()
    except BaseException:
        deployment.stop_all()
        raise
    return deployment


@dataclass
class LoadResult:
    acknowledged: dict[bytes, int] = field(default_factory=dict)  # contentHash -> id of the 201
    statuses: Counter[int] = field(default_factory=Counter)
    connection_errors: int = 0
    unfinished: int = 0  # gave up after the per-item deadline (still unacknowledged, not an error)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Load:
    """Submit ``conversations`` from ``threads`` threads until they are all answered or
    ``stop()`` is called; each item is retried on connection errors and 503s for at most
    ``item_deadline`` seconds."""

    def __init__(self, url: str, conversations: list[dict[str, Any]], *, threads: int = 3,
                 pace: float = 0.1, item_deadline: float = 90.0, first_nonce: int = 0) -> None:
        self.url = url
        self.pending = list(enumerate(conversations))
        self.pace = pace
        self.item_deadline = item_deadline
        self.first_nonce = first_nonce
        self.result = LoadResult()
        self._stop = threading.Event()
        self._queue_lock = threading.Lock()
        self._config = self._fetch_config()
        self._threads = [threading.Thread(target=self._run, name=f"load-{i}", daemon=True) for i in range(threads)]

    def _fetch_config(self) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while True:
            try:
                return dict(httpx.get(self.url + "/v1/config", timeout=5).json())
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def start(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> LoadResult:
        """Stop taking new items, let the ones in flight finish, return the counts."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.item_deadline + 30)
            assert not thread.is_alive(), "a load thread did not finish"
        return self.result

    def _next(self) -> tuple[int, dict[str, Any]] | None:
        with self._queue_lock:
            return self.pending.pop(0) if self.pending and not self._stop.is_set() else None

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while (item := self._next()) is not None:
                self._submit(client, *item)
                time.sleep(self.pace)

    def _submit(self, client: httpx.Client, index: int, conversation: dict[str, Any]) -> None:
        content_hash = hashlib.sha256(canonical_bytes(conversation)).digest()
        body = sign_submission(self._config, conversation, contributor_key(index % CONTRIBUTORS),
                               nonce=self.first_nonce + index, issued_at=int(time.time()))
        deadline = time.monotonic() + self.item_deadline
        result = self.result
        while True:
            try:
                answer = client.post(self.url + "/v1/contributions", json=body)
            except httpx.TransportError:
                with result.lock:
                    result.connection_errors += 1
                answer = None
            if answer is not None:
                with result.lock:
                    result.statuses[answer.status_code] += 1
                    if answer.status_code == 201:
                        assert content_hash not in result.acknowledged, "one body acknowledged twice"
                        result.acknowledged[content_hash] = int(answer.json()["id"])
                if answer.status_code != 503:
                    return  # 201, or a final answer the invariants judge (409 after a lost reply)
            if time.monotonic() > deadline:
                with result.lock:
                    result.unfinished += 1
                return
            time.sleep(0.3)
