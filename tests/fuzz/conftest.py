"""A keyed Tally API on a real database, with a few real rows, for the fuzz suites.

``Seeded`` is what ``seed`` put there (contribution ids and contentHashes, a contributor, an epoch,
stored CIDs), so that generated requests also name rows that exist, not only ones that don't. The
failure limiter is set high: fuzzing sends many requests without a key (schemathesis's
`ignored_auth` check does on purpose), and past the default of 10 a minute every keyed operation
would answer 429 and nothing behind the key would be exercised.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import ApiKeys, FailureLimiter
from api.services import UsagePolicy
from ledger.content import LocalBlockStore, cid_of
from ledger.epochs import Anchor, seal_epoch
from ledger.intake import Intake
from tests.api.conftest import CHAIN_ID, Api, build_api, contributor_key, sample_conversation
from tests.images.images import image_bytes
from tests.support import postgres

ADMIN_KEY = "fuzz-admin-key-5c1e"
CONSUMER_KEY = "fuzz-consumer-key-9a47"
MASTER_KEY = bytes(range(32))

EXAMPLES = int(os.environ.get("TALLY_FUZZ_EXAMPLES", "0")) or None
"""Raise for a long run (e.g. TALLY_FUZZ_EXAMPLES=2000); each suite has its CI default."""


@dataclass
class Seeded:
    """Rows that exist in the fuzzed ledger."""

    ids: list[int] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    contributors: list[str] = field(default_factory=list)
    cids: list[str] = field(default_factory=list)
    epochs: list[int] = field(default_factory=list)


@dataclass
class FuzzApi:
    api: Api
    app: FastAPI
    client: TestClient
    seeded: Seeded

    def counts(self) -> tuple[int, int, int, int]:
        return self.api.counts()


def keyed_app(api: Api) -> FastAPI:
    """The app over `api`'s ledger with both keys set, privacy on and a limiter that never bites."""
    old = api.intake
    intake = Intake(sessions=old.sessions, store=old.store, consent=old.consent, signer=old.signer,
                    limits=old.limits, clock=old.clock, master_key=MASTER_KEY)
    services = replace(api.services, intake=intake,
                       keys=ApiKeys.of(admin=ADMIN_KEY, data_consumer=CONSUMER_KEY),
                       auth_failures=FailureLimiter(limit=10**9, window=60.0),
                       usage=UsagePolicy(points_per_unit=3))
    api.services = services
    return create_app(services)


def seed(api: Api, client: TestClient) -> Seeded:
    """Five contributions by three contributors, a grant, a usage report, one sealed epoch and two
    contributions after it (pending), the last with two images."""
    seeded = Seeded()
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    consumer = {"Authorization": f"Bearer {CONSUMER_KEY}"}

    def submit(n: int, contributor: int, nonce: int, images: list[bytes] | None = None) -> None:
        conversation = sample_conversation(f"fuzz seed {n}")
        if images:
            conversation["messages"][1]["images"] = [cid_of(data) for data in images]
        body = api.signed(conversation, contributor_key(contributor), nonce=nonce, images=images)
        answer = client.post("/v1/contributions", json=body)
        assert answer.status_code == 201, answer.text
        row = answer.json()
        seeded.ids.append(row["id"])
        seeded.hashes.append(row["contentHash"])
        seeded.cids.append(row["cid"])
        if row["contributor"] not in seeded.contributors:
            seeded.contributors.append(row["contributor"])

    for n, (contributor, nonce) in enumerate([(1, 1), (1, 2), (2, 1), (3, 1), (2, 2)]):
        submit(n, contributor, nonce)
    grant = client.post(f"/v1/accounts/{seeded.contributors[0]}/grants", json={"points": "25", "ref": "seed"},
                        headers=admin)
    assert grant.status_code == 201, grant.text
    assert client.get("/v1/export", headers=consumer).status_code == 200  # usage needs the data received
    usage = client.post("/v1/usage", json={"ref": "seed", "items": [{"contribution": seeded.ids[0], "units": 2}]},
                        headers=consumer)
    assert usage.status_code == 201, usage.text
    store = LocalBlockStore(api.blocks, fsync=False)
    with api.intake.sessions() as session, session.begin():
        epoch = seal_epoch(session, store, Anchor(CHAIN_ID, api.services.chain.contract), now=int(time.time()))
        assert epoch is not None
        seeded.epochs.append(epoch.number)
        seeded.cids.append(epoch.manifest_cid)
    submit(5, 1, 3)
    submit(6, 4, 1, [image_bytes("PNG"), image_bytes("GIF")])
    return seeded


def build_fuzz_api(db_url: str, tmp_path: Path) -> Iterator[FuzzApi]:
    api = build_api(db_url, tmp_path)
    app = keyed_app(api)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield FuzzApi(api, app, client, seed(api, client))
    api.services.sessions.kw["bind"].dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fuzz_api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzApi]:
    """One seeded ledger per module and database: fuzzing reads and writes it throughout."""
    tmp_path = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        yield from build_fuzz_api(f"sqlite:///{tmp_path / 'tally.db'}", tmp_path)
        return
    if not postgres.available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable at {postgres.PG_ADMIN_URL}")
        pytest.skip("PostgreSQL is not reachable")
    with postgres.temporary_database("tally_fuzz") as url:
        yield from build_fuzz_api(url, tmp_path)
