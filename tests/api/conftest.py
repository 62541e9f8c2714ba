"""An in-process Tally API on a real database (SQLite or PostgreSQL) and a real blockstore."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from eth_keys import keys
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import ChainInfo, Services, create_app
from api.auth import ApiKeys
from ledger.consent import ConsentPolicy, OperatorSigner, Terms
from ledger.content import LocalBlockStore
from ledger.db import make_engine, make_sessionmaker
from ledger.eip712 import Domain
from ledger.errors import TallyError
from ledger.intake import Intake, Limits
from ledger.migrate import upgrade
from ledger.models import Contribution, JournalEntry, JournalTransfer, StoredObject
from ledger.outbox import OutboxStore
from tally.client import sign_submission
from tally.wiring import default_terms
from tests.support.conversations import passage

OPERATOR_KEY = keys.PrivateKey(bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"))
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
CHAIN_ID = 31337


def contributor_key(n: int) -> keys.PrivateKey:
    return keys.PrivateKey((n + 1).to_bytes(32, "big"))


def sample_conversation(tag: str = "") -> dict[str, Any]:
    """A conversation of its own for each tag: a passage drawn by the tag keeps any two apart
    (Tally refuses near-duplicates), and the same tag gives the same conversation."""
    return {"messages": [
        {"role": "user", "content": f"Explain how an append-only Merkle log proves consistency {tag}"},
        {"role": "assistant", "content": "A consistency proof shows that the old tree is a prefix of the new "
                                         "one by giving the hashes needed to rebuild both roots. Here is a "
                                         f"worked example with these words: {passage(tag)}."},
    ]}


@dataclass
class Api:
    client: TestClient
    services: Services
    blocks: Path
    clock: list[float] = field(default_factory=lambda: [time.time()])

    @property
    def intake(self) -> Intake:
        return self.services.intake

    def client_with(self, *, admin_api_key: str | None = None, usage_api_key: str | None = None,
                    **changes: Any) -> TestClient:
        """Another app over the same ledger, with some services changed: the API keys (given in
        the clear, held as digests), policies."""
        if admin_api_key is not None or usage_api_key is not None:
            changes.setdefault("keys", ApiKeys.of(admin=admin_api_key, data_consumer=usage_api_key))
        return TestClient(create_app(replace(self.services, **changes)))

    @property
    def config(self) -> dict[str, Any]:
        return dict(self.client.get("/v1/config").json())

    def signed(self, conversation: object, key: keys.PrivateKey, *, nonce: int = 1,
               issued_at: int | None = None, images: list[bytes] | None = None, **overrides: Any) -> dict[str, Any]:
        body = sign_submission(self.config, conversation, key, nonce=nonce,
                               issued_at=int(self.clock[0]) if issued_at is None else issued_at, images=images or ())
        body.update(overrides)
        return body

    def submit_racing(self, bodies: list[dict[str, Any]]) -> list[int]:
        """Submit ``bodies`` at once, each in its own transaction from its own thread (as many
        server processes would); the statuses, sorted (201 accepted, else the refusal's)."""
        start = threading.Barrier(len(bodies))
        statuses: list[int] = []

        def race(body: dict[str, Any]) -> None:
            start.wait()
            try:
                self.intake.submit(body)
                statuses.append(201)
            except TallyError as refusal:
                statuses.append(refusal.status)

        threads = [threading.Thread(target=race, args=(body,)) for body in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sorted(statuses)

    def counts(self) -> tuple[int, int, int, int]:
        """Rows of contributions, transfers, journal entries and stored objects (the outbox)."""
        with self.intake.sessions() as session:
            rows = tuple(
                int(session.scalar(select(func.count()).select_from(t)) or 0)
                for t in (Contribution, JournalTransfer, JournalEntry, StoredObject)
            )
        return rows  # type: ignore[return-value]


def build_api(db_url: str, tmp_path: Path, master_key: bytes | None = None, **limits: int) -> Api:
    """The API over a fresh ledger; with ``master_key``, in privacy mode (conversations stored
    encrypted)."""
    upgrade(db_url)
    clock = [time.time()]
    blocks = tmp_path / "blocks"
    sessions = make_sessionmaker(make_engine(db_url))
    domain = Domain(CHAIN_ID, CONTRACT)
    window = limits.get("issued_at_window", 600)
    intake = Intake(
        sessions=sessions,
        store=OutboxStore(LocalBlockStore(blocks, fsync=False), sessions),
        consent=ConsentPolicy(domain, Terms(default_terms()), window),
        signer=OperatorSigner(domain, OPERATOR_KEY),
        limits=Limits(limits.get("max_body_bytes", 256 * 1024), limits.get("max_batch", 100), window),
        clock=lambda: clock[0],
        master_key=master_key,
    )
    services = Services.of(intake, ChainInfo(CHAIN_ID, CONTRACT, None, None))
    return Api(TestClient(create_app(services)), services, blocks, clock)


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    built = build_api(db_url, tmp_path)
    with built.client:
        yield built
