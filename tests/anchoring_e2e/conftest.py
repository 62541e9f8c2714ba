"""A ledger, a real anvil node and a deployed TallyAnchor, wired to an Anchorer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from anchoring.anchorer import Anchorer, AnchorPolicy
from anchoring.chain import connect
from anchoring.devchain import DEV_FUNDED_KEY, DevChain
from api.app import ChainInfo, Services, create_app
from ledger.consent import ConsentPolicy, OperatorSigner, Terms
from ledger.content import LocalBlockStore
from ledger.conversation import normalise
from ledger.db import make_engine, make_sessionmaker
from ledger.eip712 import Domain
from ledger.epochs import Anchor, seal_epoch
from ledger.intake import Consent, Intake, Limits, Prepared, Submission, record
from ledger.lifecycle import EpochState
from ledger.migrate import upgrade
from ledger.models import Epoch
from tally.client import sign_submission
from tally.sharegpt import distinct_conversations
from tally.wiring import default_terms
from tests.api.conftest import OPERATOR_KEY, contributor_key
from tests.support.anvil import anvil, deploy_for_tests
from tests.support.server import serving_app


@dataclass
class Stack:
    sessions: sessionmaker[Session]
    store: LocalBlockStore
    chain: DevChain
    w3: Web3
    contract: Any
    account: LocalAccount
    anchor: Anchor

    def anchorer(self, **policy: Any) -> Anchorer:
        return Anchorer(sessions=self.sessions, w3=self.w3, contract=self.contract, account=self.account,
                        policy=AnchorPolicy(**{"confirmations": 2, **policy}))

    def contribute(self, conversations: list[dict[str, Any]], now: int = 1_790_000_000) -> int:
        submissions = []
        for i, conversation in enumerate(conversations):
            contributor = Account.from_key((i % 17 + 1).to_bytes(32, "big")).address
            submissions.append(Submission(Prepared.of(normalise(conversation)),
                                          Consent(contributor, hash(json.dumps(conversation)) % 2**64, now,
                                                  bytes(32), bytes(65))))
        with self.sessions() as session, session.begin():
            outcomes = record(session, submissions, store=self.store, sign_receipt=lambda _: bytes(65), now=now)
        return sum(1 for o in outcomes if isinstance(o, tuple))

    def seal(self) -> int:
        with self.sessions() as session, session.begin():
            epoch = seal_epoch(session, self.store, self.anchor)
            assert epoch is not None
            return epoch.number

    def mine(self, blocks: int = 1) -> None:
        self.chain.rpc("anvil_mine", [hex(blocks)])


def real_conversations(count: int, skip: int = 0) -> list[dict[str, Any]]:
    """Real ShareGPT conversations Tally accepts: distinct, and no near-duplicate of another."""
    return distinct_conversations(count, skip=skip)


def _stack(db_url: str, tmp_path: Path) -> Iterator[Stack]:
    upgrade(db_url)
    with anvil(tmp_path / "chain") as chain:
        w3 = connect(chain.url)
        account = Account.from_key(DEV_FUNDED_KEY)
        contract = deploy_for_tests(w3, account)
        yield Stack(make_sessionmaker(make_engine(db_url)), LocalBlockStore(tmp_path / "blocks", fsync=False),
                    chain, w3, contract, account, Anchor(31337, contract.address))


@pytest.fixture
def stack(sqlite_url: str, tmp_path: Path) -> Iterator[Stack]:
    yield from _stack(sqlite_url, tmp_path)


@pytest.fixture
def pg_stack(pg_url: str, tmp_path: Path) -> Iterator[Stack]:
    yield from _stack(pg_url, tmp_path)


def serve(stack: Stack) -> TestClient:
    """The API app on `stack`, in process."""
    domain = Domain(31337, stack.contract.address)
    intake = Intake(sessions=stack.sessions, store=stack.store,
                    consent=ConsentPolicy(domain, Terms(default_terms()), 600),
                    signer=OperatorSigner(domain, OPERATOR_KEY), limits=Limits(4 << 20, 100, 600))
    services = Services.of(intake, ChainInfo(31337, stack.contract.address, stack.chain.url, None))
    return TestClient(create_app(services))


@pytest.fixture
def served(stack: Stack) -> TestClient:
    return serve(stack)


def submit_all(client: TestClient, conversations: list[dict[str, Any]], first_key: int = 0) -> list[dict[str, Any]]:
    config = client.get("/v1/config").json()
    now = int(time.time())
    bodies = [sign_submission(config, c, contributor_key(first_key + i % 3), nonce=first_key * 1000 + i, issued_at=now)
              for i, c in enumerate(conversations)]
    results = client.post("/v1/contributions:batch", json={"items": bodies}).json()["results"]
    return [r["contribution"] for r in results if r["status"] == 201]


def anchor_all(stack: Stack) -> None:
    anchorer = stack.anchorer()
    for _ in range(30):
        anchorer.step()
        stack.mine()
        with stack.sessions() as session:
            if all(e.state == EpochState.FINAL for e in session.query(Epoch)):
                return
    raise AssertionError("not final")




@pytest.fixture
def gateway(served) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Our own API on a real port, so the audit fetches manifests over HTTP from /ipfs/{cid}."""
    with serving_app(served.app) as url:
        yield url


