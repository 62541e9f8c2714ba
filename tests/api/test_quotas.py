"""Limits per contributor and per client address (ledger.quotas): 429 rate-limited with
Retry-After past each, nothing written, published in /v1/config, and shared by two server
processes on one PostgreSQL database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from ledger.models import RateCounter
from ledger.quotas import Quotas
from tally.client import sign_submission
from tests.api.conftest import OPERATOR_KEY, Api, contributor_key, sample_conversation
from tests.support.server import API_ONLY, tally_server

ALICE, BOB = contributor_key(0), contributor_key(1)


def limited(api: Api, **limits: int) -> Api:
    """The API with only the given limits on (the rest 0: off)."""
    api.intake.quotas = replace(Quotas.off(), **limits)
    return api


def post(api: Api, tag: str, key=ALICE, nonce: int = 0) -> httpx.Response:  # type: ignore[no-untyped-def]
    return api.client.post("/v1/contributions", json=api.signed(sample_conversation(tag), key, nonce=nonce))


@contextmanager
def two_servers(pg_url: str, tmp_path: Path, **limits: str) -> Iterator[tuple[str, str]]:
    """Two ``tally serve`` processes on one PostgreSQL database with the given ``TALLY_LIMIT_*``
    settings (the per-client limit off): two hosts (data folders) of one deployment, sharing its
    keys (ledger.identity)."""
    env = {**API_ONLY, "TALLY_DATABASE_URL": pg_url, "TALLY_OPERATOR_KEY": OPERATOR_KEY.to_hex(),
           "TALLY_MASTER_KEY": "6d" * 32, "TALLY_LIMIT_CLIENT_REQUESTS_PER_MINUTE": "0",
           **{f"TALLY_LIMIT_{name.upper()}": value for name, value in limits.items()}}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with tally_server(tmp_path / "a" / "home", env=env) as a, tally_server(tmp_path / "b" / "home", env=env) as b:
        yield a, b


def assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["type"] == "/problems/rate-limited"
    assert 1 <= int(response.headers["Retry-After"]) == response.json()["retryAfter"]


def test_contributions_per_hour(api: Api) -> None:
    limited(api, contributions_per_hour=2)
    assert [post(api, f"h{n}", nonce=n).status_code for n in range(2)] == [201, 201]
    before = api.counts()
    assert_limited(post(api, "h2", nonce=2))
    assert api.counts() == before
    assert post(api, "bob", BOB, nonce=1).status_code == 201  # another contributor is not held back


def test_points_per_day(api: Api) -> None:
    first = post(api, "p0", nonce=0)
    points = int(first.json()["points"])
    limited(api, points_per_day=points + points // 2)
    before = api.counts()
    assert_limited(post(api, "p1", nonce=1))  # would pass the day's points
    assert api.counts() == before


def test_requests_per_minute_per_contributor_a_batch_counting_once(api: Api) -> None:
    limited(api, contributor_requests_per_minute=2)
    batch = [api.signed(sample_conversation(f"b{n}"), ALICE, nonce=10 + n) for n in range(5)]
    answer = api.client.post("/v1/contributions:batch", json={"items": batch}).json()
    assert answer["accepted"] == 5  # one request, five items
    assert post(api, "r1", nonce=1).status_code == 201
    assert_limited(post(api, "r2", nonce=2))


def test_requests_per_minute_per_client_address(api: Api) -> None:
    limited(api, client_requests_per_minute=2)
    assert post(api, "c0", ALICE, 0).status_code == 201
    assert post(api, "c1", BOB, 0).status_code == 201
    before = api.counts()
    assert_limited(post(api, "c2", contributor_key(2), 0))  # any contributor, this address
    assert api.counts() == before
    assert api.client.post("/v1/contributions", json={}).status_code == 429
    api.clock[0] += 60  # the next minute
    assert post(api, "c2", contributor_key(2), 0).status_code == 201


JSON = {"Content-Type": "application/json"}


def client_requests_counted(api: Api) -> int:
    with api.intake.sessions() as session:
        return sum(session.scalars(select(RateCounter.count).where(RateCounter.scope == "client")))


def test_every_request_counts_for_its_client_address_refused_or_not(api: Api) -> None:
    """Refused before the database (a body that does not parse, verify or pass the personal-data
    scan), refused inside the intake transaction (a duplicate, a near-copy), or accepted: each is
    one of the client's requests, so a client cannot probe past its limit with refused bodies."""
    limited(api, client_requests_per_minute=7)
    original = sample_conversation("client-probed")
    accepted = api.signed(original, ALICE, nonce=1)
    assert api.client.post("/v1/contributions", json=accepted).status_code == 201
    assert api.client.post("/v1/contributions", content=b"{}").status_code == 415
    assert api.client.post("/v1/contributions", content=b"{", headers=JSON).status_code == 400
    assert api.client.post("/v1/contributions", json={}).status_code == 422
    assert api.client.post("/v1/contributions", json=api.signed(WITH_AN_EMAIL, ALICE, nonce=2)).status_code == 422
    assert api.client.post("/v1/contributions", json=accepted).json()["type"] == "/problems/duplicate-contribution"
    near = api.client.post("/v1/contributions", json=api.signed(near_copy(original), BOB, nonce=1))
    assert near.json()["type"] == "/problems/near-duplicate"
    assert client_requests_counted(api) == 7
    before = api.counts()
    assert_limited(post(api, "client-8", BOB, nonce=2))
    assert api.counts() == before


def test_a_client_past_its_limit_is_refused_before_its_body_is_read(api: Api) -> None:
    """Once refused in a minute, a client's requests of that minute are refused by the process
    that refused it without a round trip or reading the body: a body past the size limit, which
    would be a 413, is a 429, and the database's count does not move."""
    limited(api, client_requests_per_minute=1)
    assert post(api, "first", ALICE, nonce=1).status_code == 201
    assert_limited(post(api, "second", ALICE, nonce=2))
    counted = client_requests_counted(api)
    too_large = b"x" * (api.intake.limits.max_body_bytes + 1)
    assert_limited(api.client.post("/v1/contributions", content=too_large, headers=JSON))
    assert_limited(api.client.post("/v1/contributions:batch", content=too_large, headers=JSON))
    assert client_requests_counted(api) == counted
    api.clock[0] += 60
    assert api.client.post("/v1/contributions", content=too_large, headers=JSON).status_code == 413


def test_the_limits_are_published(api: Api) -> None:
    limited(api, contributor_requests_per_minute=20, contributions_per_hour=200, points_per_day=5000,
            client_requests_per_minute=120)
    limits = api.config["limits"]
    assert limits["perContributor"] == {"requestsPerMinute": 20, "contributionsPerHour": 200, "pointsPerDay": 5000}
    assert limits["perClient"] == {"requestsPerMinute": 120}


def test_two_server_processes_share_the_limits(pg_url: str, tmp_path: Path) -> None:
    with two_servers(pg_url, tmp_path, contributions_per_hour="3") as (a, b):
        config = httpx.get(a + "/v1/config").json()
        assert config["limits"]["perContributor"]["contributionsPerHour"] == 3
        statuses = []
        for n in range(6):
            body = sign_submission(config, sample_conversation(f"two-{n}"), ALICE, nonce=n,
                                   issued_at=int(time.time()))
            statuses.append(httpx.post((a, b)[n % 2] + "/v1/contributions", json=body).status_code)
    assert statuses == [201, 201, 201, 429, 429, 429]


def test_the_accrual_report_shows_the_top_accounts_and_where_they_came_from(api: Api) -> None:
    for n in range(3):
        assert post(api, f"alice-{n}", ALICE, n).status_code == 201
    assert post(api, "bob-0", BOB, 0).status_code == 201
    key = "a" * 32
    admin = api.client_with(admin_api_key=key)
    assert admin.get("/v1/admin/accruals").status_code == 401
    report = admin.get("/v1/admin/accruals", params={"since": 0, "limit": 5},
                       headers={"Authorization": f"Bearer {key}"}).json()
    first, second = report["accounts"]
    assert first["account"] == ALICE.public_key.to_checksum_address() and first["contributions"] == 3
    assert int(first["points"]) > int(second["points"]) and second["contributions"] == 1
    # The test client's address, as the API saw it.
    assert first["clients"] == [{"address": "testclient", "contributions": 3}]
    later = admin.get("/v1/admin/accruals", params={"since": int(api.clock[0]) + 3600},
                      headers={"Authorization": f"Bearer {key}"}).json()
    assert later["accounts"] == []


def rate_limited_metric(api: Api, what: str) -> float:
    for line in api.client.get("/metrics").text.splitlines():
        if line.startswith(f'tally_rate_limited_total{{what="{what}"}}'):
            return float(line.split()[-1])
    raise AssertionError(f"no tally_rate_limited_total for {what}")


def test_refusals_are_counted_for_the_alert(api: Api) -> None:
    limited(api, contributions_per_hour=1)
    assert rate_limited_metric(api, "submission") == rate_limited_metric(api, "batch-item") == 0
    assert post(api, "m0", nonce=0).status_code == 201
    assert_limited(post(api, "m1", nonce=1))
    batch = [api.signed(sample_conversation(f"mb{n}"), ALICE, nonce=10 + n) for n in range(3)]
    assert api.client.post("/v1/contributions:batch", json={"items": batch}).json()["refused"] == 3
    assert rate_limited_metric(api, "submission") == 1 and rate_limited_metric(api, "batch-item") == 3


def near_copy(conversation: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [{**m, "content": m["content"].upper()} for m in conversation["messages"]]}


WITH_AN_EMAIL = {"messages": [{"role": "user", "content": "Write to me at ana.rossi@gmail.com about the merge"},
                              {"role": "assistant", "content": "I will write to you about the merge tomorrow."}]}


def test_a_verified_contributor_pays_for_refused_probes_a_forged_or_replayed_claim_does_not(api: Api) -> None:
    limited(api, contributor_requests_per_minute=3)
    original = sample_conversation("probed")
    first = api.signed(original, BOB, nonce=1)
    assert api.client.post("/v1/contributions", json=first).status_code == 201  # Bob's: 1
    alice = ALICE.public_key.to_checksum_address()
    # Claims of Alice's address that do not verify, and Bob's accepted body replayed: none is Alice's
    # (or Bob's) doing, so none counts against anyone's requests a minute.
    forged = api.signed(sample_conversation("forged"), BOB, nonce=2, contributor=alice)
    for _ in range(5):
        assert api.client.post("/v1/contributions", json=forged).json()["type"] == "/problems/signer-mismatch"
        assert api.client.post("/v1/contributions", json={"contributor": alice}).status_code == 422
        assert api.client.post("/v1/contributions", json=first).json()["type"] == "/problems/duplicate-contribution"
    # Alice's own probes: a near-copy and personal data, refused, each counts for her.
    near = api.client.post("/v1/contributions", json=api.signed(near_copy(original), ALICE, nonce=1))
    assert near.json()["type"] == "/problems/near-duplicate"
    assert api.client.post("/v1/contributions", json=api.signed(WITH_AN_EMAIL, ALICE, nonce=2)).status_code == 422
    before = api.counts()
    assert post(api, "alice-3", ALICE, nonce=3).status_code == 201  # her third request this minute
    assert_limited(post(api, "alice-4", ALICE, nonce=4))
    assert api.counts()[0] == before[0] + 1
    assert post(api, "bob-2", BOB, nonce=2).status_code == 201  # Bob: 2 of 3, the replays did not count


def test_refused_batch_items_count_once_for_their_verified_contributor(api: Api) -> None:
    limited(api, contributor_requests_per_minute=2)
    original = sample_conversation("in the ledger")
    assert post(api, "in the ledger", BOB, nonce=1).status_code == 201
    items = [api.signed(near_copy(original), ALICE, nonce=n) for n in (1, 2)]
    items.append(api.signed(WITH_AN_EMAIL, ALICE, nonce=3))
    body = api.client.post("/v1/contributions:batch", json={"items": items}).json()
    assert body["accepted"] == 0 and [r["status"] for r in body["results"]] == [409, 409, 422]
    assert post(api, "a1", ALICE, nonce=4).status_code == 201  # the batch counted once
    assert_limited(post(api, "a2", ALICE, nonce=5))


def test_two_server_processes_share_a_client_address_count(pg_url: str, tmp_path: Path) -> None:
    with two_servers(pg_url, tmp_path, client_requests_per_minute="3") as (a, b):
        config = httpx.get(a + "/v1/config").json()
        assert config["limits"]["perClient"]["requestsPerMinute"] == 3
        if time.time() % 60 > 50:  # the five requests within one minute, whose count they share
            time.sleep(60 - time.time() % 60)
        body = sign_submission(config, sample_conversation("two-clients"), ALICE, nonce=1, issued_at=int(time.time()))
        statuses = [httpx.post(a + "/v1/contributions", json=body).status_code,
                    httpx.post(b + "/v1/contributions", json=body).status_code,  # a duplicate, refused: counted
                    httpx.post(a + "/v1/contributions", json={}).status_code]  # refused before: counted
        for nonce, server in enumerate((b, a), start=2):
            later = sign_submission(config, sample_conversation(f"two-clients-{nonce}"), BOB, nonce=nonce,
                                    issued_at=int(time.time()))
            statuses.append(httpx.post(server + "/v1/contributions", json=later).status_code)
    assert statuses == [201, 409, 422, 429, 429]


def test_two_server_processes_count_refused_probes_together(pg_url: str, tmp_path: Path) -> None:
    with two_servers(pg_url, tmp_path, contributor_requests_per_minute="4") as (a, b):
        config = httpx.get(a + "/v1/config").json()
        assert config["limits"]["perContributor"]["requestsPerMinute"] == 4
        now = int(time.time())
        original = sample_conversation("two-probed")
        assert httpx.post(a + "/v1/contributions", json=sign_submission(
            config, original, BOB, nonce=1, issued_at=now)).status_code == 201
        alice = ALICE.public_key.to_checksum_address()
        forged = sign_submission(config, sample_conversation("two-forged"), BOB, nonce=9, issued_at=now)
        forged["contributor"] = alice
        for server in (a, b, a, b, a, b):  # claims of Alice's address that do not verify: free for her
            assert httpx.post(server + "/v1/contributions", json=forged).status_code in (400, 401, 403, 422)
        statuses = []
        for n, server in enumerate((a, b, a, b, a)):
            body = sign_submission(config, near_copy(original) if n < 3 else sample_conversation(f"two-{n}"),
                                   ALICE, nonce=10 + n, issued_at=now)
            statuses.append(httpx.post(server + "/v1/contributions", json=body).status_code)
    # Three refused near-copies and one accepted conversation are Alice's four requests; the fifth waits.
    assert statuses == [409, 409, 409, 201, 429]
