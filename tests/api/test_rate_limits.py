"""Failed authentications are limited per client address and role: wrong keys up to the limit are
401, then the client gets 429 `rate-limited` with Retry-After, even with the right key, until the
window passes; other clients are unaffected; both are counted; the keys are held as digests only."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from api.app import create_app
from api.auth import ApiKeys, FailureLimiter
from ledger.migrate import upgrade
from tally.settings import Settings
from tally.web import build_app, build_services
from tally.wiring import open_ledger
from tests.api.conftest import CONTRACT, Api

ADMIN_KEY = "admin-key-0f3a9c"
CONSUMER_KEY = "consumer-key-77b2e1"
ALICE = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
LIMIT, WINDOW = 3, 60.0
ATTACKER, OPERATOR = ("10.0.0.1", 40000), ("10.0.0.2", 40001)
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(api: Api, clock: Clock) -> FastAPI:
    services = replace(api.services, keys=ApiKeys.of(admin=ADMIN_KEY, data_consumer=CONSUMER_KEY),
                       auth_failures=FailureLimiter(LIMIT, WINDOW, clock=clock))
    return create_app(services)


def grant(client: TestClient, key: str, ref: str = "r") -> Response:
    return client.post(f"/v1/accounts/{ALICE}/grants", json={"points": "5", "ref": ref},
                       headers={"Authorization": f"Bearer {key}"})


def report_usage(client: TestClient, key: str) -> Response:
    return client.post("/v1/usage", json={"ref": "u", "items": [{"contribution": 999}]},
                       headers={"Authorization": f"Bearer {key}"})


def assert_rate_limited(answer: Response, retry_after: int) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == str(retry_after)
    body = answer.json()
    assert body["type"] == "/problems/rate-limited" and body["status"] == 429
    assert body["retryAfter"] == retry_after and body["instance"] == f"/v1/accounts/{ALICE}/grants"


def metric(client: TestClient, name: str, role: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'{name}{{role="{role}"}} '):
            return float(line.split()[-1])
    raise AssertionError(f"{name}{{role={role!r}}} is not exposed")


def test_wrong_keys_up_to_the_limit_are_401_then_429_even_for_the_right_key(app: FastAPI, clock: Clock) -> None:
    attacker = TestClient(app, client=ATTACKER)
    for n in range(LIMIT):
        clock.now += 1
        assert grant(attacker, f"guess-{n}").status_code == 401
    assert_rate_limited(grant(attacker, "guess-next"), retry_after=58)  # the first failure was at 1001
    clock.now += 10
    assert_rate_limited(grant(attacker, ADMIN_KEY), retry_after=48)
    assert_rate_limited(attacker.post(f"/v1/accounts/{ALICE}/grants", json={"points": "5", "ref": "r"}), 48)


def test_after_the_window_the_right_key_works_again(app: FastAPI, clock: Clock) -> None:
    attacker = TestClient(app, client=ATTACKER)
    for n in range(LIMIT):
        assert grant(attacker, f"guess-{n}").status_code == 401
    assert grant(attacker, ADMIN_KEY).status_code == 429
    clock.now += WINDOW - 0.5
    assert_rate_limited(grant(attacker, ADMIN_KEY), retry_after=1)  # never 0: a fraction rounds up
    clock.now += 0.5
    assert grant(attacker, ADMIN_KEY).status_code == 201


def test_a_sliding_window_frees_one_attempt_per_failure_that_leaves_it(app: FastAPI, clock: Clock) -> None:
    attacker = TestClient(app, client=ATTACKER)
    for n in range(LIMIT):
        assert grant(attacker, f"guess-{n}").status_code == 401
        clock.now += 10
    clock.now = 1000.0 + WINDOW  # the first failure has left the window, the others not
    assert grant(attacker, "guess-again").status_code == 401
    assert_rate_limited(grant(attacker, ADMIN_KEY), retry_after=10)


def test_a_success_forgives_only_itself(app: FastAPI) -> None:
    client = TestClient(app, client=OPERATOR)
    for n in range(LIMIT - 1):
        assert grant(client, f"typo-{n}").status_code == 401
    for n in range(5):  # successes never use up the allowance...
        assert grant(client, ADMIN_KEY, ref=f"r{n}").status_code == 201
    assert grant(client, "typo-again").status_code == 401  # ...nor wipe the failures before them
    assert grant(client, ADMIN_KEY).status_code == 429


def test_other_clients_and_other_roles_are_not_affected(app: FastAPI) -> None:
    attacker, operator = TestClient(app, client=ATTACKER), TestClient(app, client=OPERATOR)
    for n in range(LIMIT):
        assert grant(attacker, f"guess-{n}").status_code == 401
    assert grant(attacker, ADMIN_KEY).status_code == 429

    assert grant(operator, "one-typo").status_code == 401
    assert grant(operator, ADMIN_KEY).status_code == 201
    assert grant(attacker, ADMIN_KEY).status_code == 429  # the operator's success reset nothing of the attacker's
    # The same client, locked out as admin, still reaches the data-consumer routes.
    assert report_usage(attacker, "wrong").status_code == 401
    assert report_usage(attacker, CONSUMER_KEY).status_code not in (401, 429)


def test_failures_and_refusals_are_counted_by_role(app: FastAPI) -> None:
    attacker = TestClient(app, client=ATTACKER)
    assert metric(attacker, "tally_auth_failures_total", "admin") == 0
    for n in range(LIMIT):
        grant(attacker, f"guess-{n}")
    for _ in range(4):
        grant(attacker, ADMIN_KEY)
    report_usage(attacker, "wrong")
    assert metric(attacker, "tally_auth_failures_total", "admin") == LIMIT
    assert metric(attacker, "tally_auth_rate_limited_total", "admin") == 4
    assert metric(attacker, "tally_auth_failures_total", "data-consumer") == 1
    assert metric(attacker, "tally_auth_rate_limited_total", "data-consumer") == 0


def test_the_keys_are_held_as_digests_only(app: FastAPI) -> None:
    client = TestClient(app, client=OPERATOR)
    assert grant(client, ADMIN_KEY).status_code == 201
    assert report_usage(client, CONSUMER_KEY).status_code not in (401, 429)
    services = app.state.services
    seen = repr(services) + client.get("/metrics").text + client.get("/openapi.json").text
    for key in (ADMIN_KEY, CONSUMER_KEY):
        digest = hashlib.sha256(key.encode()).digest()
        assert key not in seen
        # Not even the digest: a short key is a dictionary attack away from it.
        assert digest.hex() not in seen and repr(digest) not in seen


def test_concurrent_guesses_cannot_slip_past_the_limit() -> None:
    limiter, threads = FailureLimiter(10, 60.0), 40
    start = threading.Barrier(threads)
    admitted: list[bool] = []

    def guess() -> None:
        start.wait()
        admitted.append(limiter.attempt(("admin", "10.0.0.1")).admitted)

    workers = [threading.Thread(target=guess) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert admitted.count(True) == 10 and admitted.count(False) == threads - 10


def test_the_limiter_forgets_quiet_clients_and_tracks_a_bounded_number(clock: Clock) -> None:
    limiter = FailureLimiter(2, 60.0, clock=clock, max_clients=100)
    for n in range(1000):
        limiter.attempt(("admin", f"10.1.{n // 256}.{n % 256}"))
    assert limiter.tracked_clients == 100
    clock.now += 60
    limiter.attempt(("admin", "10.2.0.1"))
    assert limiter.tracked_clients == 1


def test_the_settings_set_the_limit(db_url: str, tmp_path: Path) -> None:
    upgrade(db_url)
    settings = Settings(home=tmp_path / "home", database_url=db_url, contract_address=CONTRACT,
                        admin_api_key=ADMIN_KEY, usage_api_key=CONSUMER_KEY,
                        auth_failure_limit=2, auth_failure_window=30)
    services = build_services(settings, open_ledger(settings))
    assert services.auth_failures.limit == 2 and services.auth_failures.window == 30
    assert ADMIN_KEY not in repr(services) and CONSUMER_KEY not in repr(services)
    with TestClient(build_app(settings, open_ledger(settings))) as client:
        assert grant(client, "wrong").status_code == grant(client, "wrong").status_code == 401
        answer = grant(client, ADMIN_KEY)
        assert answer.status_code == 429 and 29 <= int(answer.headers["retry-after"]) <= 30


def test_keyed_operations_declare_the_429_and_its_retry_after(app: FastAPI) -> None:
    document = TestClient(app).get("/openapi.json").json()
    keyed = {"eraseContribution", "grantPoints", "clawBackPoints", "reportUsage", "getAccrualReport",
             "exportContributions", "listExports", "defineProgram",
             "changeProgramMembership"}  # the last with the admin key or none (a signed enrolment)
    # Submissions are limited per contributor and per client address (ledger.quotas).
    limited = {"submitContribution", "submitContributionBatch"}
    # Engagements are limited per actor and UTC day (ledger.feed).
    limited.add("engageContribution")
    for item in document["paths"].values():
        for operation in item.values():
            declared = operation["responses"].get("429")
            if operation["operationId"] not in keyed | limited:
                assert declared is None, operation["operationId"]
                continue
            assert declared["content"] == {"application/problem+json": {"schema": PROBLEM_SCHEMA}}
            assert "/problems/rate-limited" in declared["description"] and "Retry-After" in declared["headers"]
            if operation["operationId"] in keyed:
                assert "401" in operation["responses"]  # merged into the route's own answers, not instead
