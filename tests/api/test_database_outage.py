"""A database outage is a 503 ``unavailable`` problem with ``Retry-After``, never a 500: with the
PostgreSQL server unreachable, and with the database dropped under a running API. The answer
names neither the server's address nor any password."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import RETRY_AFTER_SECONDS, ChainInfo, Services, create_app
from ledger.content import LocalBlockStore
from ledger.db import make_engine, make_sessionmaker
from ledger.intake import Intake
from ledger.outbox import OutboxStore
from tests.api.conftest import CHAIN_ID, CONTRACT, Api, build_api, contributor_key, sample_conversation
from tests.support import postgres
from tests.support.server import free_port

ALICE = contributor_key(1)
ADDRESS = ALICE.public_key.to_checksum_address()
Call = Callable[[TestClient, Api], httpx.Response]

CALLS: list[tuple[str, Call]] = [
    ("submit", lambda c, api: c.post("/v1/contributions", json=api.signed(sample_conversation("down"), ALICE,
                                                                          nonce=7))),
    ("batch", lambda c, api: c.post("/v1/contributions:batch", json={
        "items": [api.signed(sample_conversation("down b"), ALICE, nonce=8)]})),
    ("contribution", lambda c, _: c.get("/v1/contributions/1")),
    ("proof", lambda c, _: c.get("/v1/contributions/1/proof")),
    ("epochs", lambda c, _: c.get("/v1/epochs")),
    ("epoch", lambda c, _: c.get("/v1/epochs/1")),
    ("account", lambda c, _: c.get(f"/v1/accounts/{ADDRESS}")),
    ("account contributions", lambda c, _: c.get(f"/v1/accounts/{ADDRESS}/contributions")),
    ("account proof", lambda c, _: c.get(f"/v1/accounts/{ADDRESS}/proof")),
    ("consistency", lambda c, _: c.get("/v1/log/consistency?first=0")),
    ("metrics", lambda c, _: c.get("/metrics")),
]


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    problem = response.json()
    assert problem["type"] == "/problems/unavailable" and "database" in problem["detail"]
    assert "127.0.0.1" not in response.text and "s3cret" not in response.text


def unreachable(api: Api, tmp_path: Path) -> TestClient:
    """The same API, its database on a port nothing listens on."""
    url = f"postgresql+psycopg://tally:s3cret-pw@127.0.0.1:{free_port()}/tally"
    sessions = make_sessionmaker(make_engine(url))
    intake = Intake(sessions=sessions, store=OutboxStore(LocalBlockStore(tmp_path / "down"), sessions),
                    consent=api.intake.consent, signer=api.intake.signer, limits=api.intake.limits,
                    clock=api.intake.clock)
    return TestClient(create_app(Services.of(intake, ChainInfo(CHAIN_ID, CONTRACT, None, None))))


@pytest.fixture
def healthy(pg_url: str, tmp_path: Path) -> Api:
    api = build_api(pg_url, tmp_path)
    assert api.client.post("/v1/contributions", json=api.signed(sample_conversation(), ALICE)).status_code == 201
    return api


@pytest.mark.parametrize(("name", "call"), CALLS, ids=[name for name, _ in CALLS])
def test_an_unreachable_database_is_a_503_with_retry_after(healthy: Api, tmp_path: Path, name: str,
                                                            call: Call) -> None:
    assert_unavailable(call(unreachable(healthy, tmp_path), healthy))


def test_a_database_dropped_under_the_api_is_a_503_and_readyz_says_so(healthy: Api, pg_url: str) -> None:
    admin = sa.create_engine(postgres.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE "{pg_url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()
    for _, call in CALLS:
        assert_unavailable(call(healthy.client, healthy))
    ready = healthy.client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("error")
