"""What one submission costs the database on PostgreSQL, counted at the wire: with every check on,
a single submission takes two round trips (the per-client count with the checks' reads, the
writes with the commit), and a refused one still writes nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Api, build_api, contributor_key, sample_conversation
from tests.api.test_near_duplicates import near_copy
from tests.support.round_trips import TurnCounter, proxied_url, upstream_of

ALICE, BOB = contributor_key(0), contributor_key(1)


@pytest.fixture
def counted(pg_url: str, tmp_path: Path) -> tuple[Api, TurnCounter]:
    proxy = TurnCounter(upstream_of(pg_url))
    from ledger.quotas import Quotas

    api = build_api(proxied_url(pg_url, proxy), tmp_path)
    api.intake.quotas = Quotas(100, 1000, 10**9, 1000)  # every limit on, none reached
    return api, proxy


def trips(proxy: TurnCounter, client: TestClient, path: str, body: object) -> tuple[int, int]:
    before = proxy.turns
    status = client.post(path, json=body).status_code
    return status, proxy.turns - before


def test_a_single_submission_takes_two_round_trips_with_every_check_on(counted: tuple[Api, TurnCounter]) -> None:
    api, proxy = counted
    with api.client as client:
        for n in range(3):  # the first opens the connection and prepares the statements
            status, used = trips(proxy, client, "/v1/contributions",
                                 api.signed(sample_conversation(f"trips {n}"), ALICE, nonce=n))
            assert status == 201
        assert used == 2
        # Refusals are answered from the same reads, and write nothing.
        rows = api.counts()
        status, _ = trips(proxy, client, "/v1/contributions",
                          api.signed(near_copy(sample_conversation("trips 0")), BOB, nonce=1))
        assert status == 409
        status, _ = trips(proxy, client, "/v1/contributions", api.signed(sample_conversation("trips 1"), BOB, nonce=2))
        assert status == 409
        status, _ = trips(proxy, client, "/v1/contributions",
                          api.signed(sample_conversation("trips 9"), ALICE, nonce=0))  # nonce reused
        assert status == 409
        assert api.counts() == rows


def test_the_contributor_limit_holds_on_the_pipelined_path(counted: tuple[Api, TurnCounter]) -> None:
    api, _ = counted
    from ledger.quotas import Quotas

    api.intake.quotas = Quotas(2, 1000, 10**9, 1000)
    api.clock[0] = time.time() // 60 * 60 + 1  # early in a minute: three requests share it
    with api.client as client:
        answers = [client.post("/v1/contributions", json=api.signed(sample_conversation(f"limit {n}"), ALICE,
                                                                    nonce=n)) for n in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2].json()["type"] == "/problems/rate-limited" and "retry-after" in answers[2].headers
    assert api.counts()[0] == 2
