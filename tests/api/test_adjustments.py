"""Grants and clawbacks over HTTP: admin only, idempotent by ref, never below zero, and sealed
into the next epoch like any other journal transfer (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ledger import adjustments, journal
from ledger.content import LocalBlockStore
from ledger.epochs import Anchor, seal_epoch
from ledger.models import Adjustment
from tests.api.conftest import Api, build_api, contributor_key, sample_conversation

ADMIN = {"Authorization": "Bearer s3cret"}
ALICE = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"  # contributor_key(0)'s address


@pytest.fixture
def admin(db_url: str, tmp_path: Path) -> tuple[Api, TestClient]:
    api = build_api(db_url, tmp_path)
    return api, api.client_with(admin_api_key="s3cret")


def balance(client: TestClient, account: str = ALICE) -> int:
    return int(client.get(f"/v1/accounts/{account}").json()["balance"])


def test_a_grant_credits_the_account_once_per_ref(admin: tuple[Api, TestClient]) -> None:
    api, client = admin
    body = {"points": "250", "ref": "launch-bonus/2026-11"}
    first = client.post(f"/v1/accounts/{ALICE.lower()}/grants", json=body, headers=ADMIN)
    assert first.status_code == 201, first.json()
    assert first.json()["account"] == ALICE and first.json()["kind"] == "grant" and first.json()["points"] == "250"
    assert balance(client) == 250
    before = api.counts()
    again = client.post(f"/v1/accounts/{ALICE}/grants", json=body, headers=ADMIN)
    assert again.status_code == 200 and again.json() == first.json()
    assert api.counts() == before and balance(client) == 250
    history = client.get(f"/v1/accounts/{ALICE}").json()["history"]["items"]
    assert [(e["kind"], e["amount"], e["ref"]) for e in history] == [("grant", "250", "launch-bonus/2026-11")]

    reused = client.post(f"/v1/accounts/{ALICE}/grants", json={**body, "points": "251"}, headers=ADMIN)
    assert reused.status_code == 409 and reused.json()["type"] == "/problems/ref-reused"
    assert reused.json()["existing"] == first.json()
    as_clawback = client.post(f"/v1/accounts/{ALICE}/clawbacks", json=body, headers=ADMIN)
    assert as_clawback.status_code == 409 and as_clawback.json()["type"] == "/problems/ref-reused"
    assert api.counts() == before


def test_a_clawback_never_takes_an_account_below_zero(admin: tuple[Api, TestClient]) -> None:
    api, client = admin
    created = client.post("/v1/contributions", json=api.signed(sample_conversation(), contributor_key(0)))
    earned = int(created.json()["points"])
    assert earned > 0 and balance(client) == earned
    before = api.counts()
    too_much = client.post(f"/v1/accounts/{ALICE}/clawbacks", json={"points": str(earned + 1), "ref": "fraud-1"},
                           headers=ADMIN)
    assert too_much.status_code == 409 and too_much.json()["type"] == "/problems/insufficient-points"
    assert api.counts() == before
    done = client.post(f"/v1/accounts/{ALICE}/clawbacks", json={"points": earned, "ref": "fraud-1"}, headers=ADMIN)
    assert done.status_code == 201 and done.json()["kind"] == "clawback"
    assert balance(client) == 0
    with api.intake.sessions() as session:
        assert journal.journal_sum(session) == 0
        assert journal.balance_of(session, journal.REWARDS_POOL).balance == 0


@pytest.mark.parametrize(("path", "body", "headers", "status", "problem"), [
    (f"/v1/accounts/{ALICE}/grants", {"points": "5", "ref": "r"}, {}, 401, "unauthorized"),
    (f"/v1/accounts/{ALICE}/grants", {"points": "5", "ref": "r"}, {"Authorization": "Bearer nope"}, 401,
     "unauthorized"),
    ("/v1/accounts/0x1234/grants", {"points": "5", "ref": "r"}, ADMIN, 422, "invalid-address"),
    (f"/v1/accounts/{ALICE}/grants", {"points": "0", "ref": "r"}, ADMIN, 422, "invalid-request"),
    (f"/v1/accounts/{ALICE}/grants", {"points": "-5", "ref": "r"}, ADMIN, 422, "invalid-request"),
    (f"/v1/accounts/{ALICE}/grants", {"points": "05", "ref": "r"}, ADMIN, 422, "invalid-request"),
    (f"/v1/accounts/{ALICE}/grants", {"points": "1.5", "ref": "r"}, ADMIN, 422, "invalid-request"),
    (f"/v1/accounts/{ALICE}/grants", {"points": True, "ref": "r"}, ADMIN, 422, "invalid-request"),
    (f"/v1/accounts/{ALICE}/grants", {"points": str(10**12 + 1), "ref": "r"}, ADMIN, 422, "invalid-request"),
    (f"/v1/accounts/{ALICE}/grants", {"points": "5"}, ADMIN, 422, "invalid-request"),
    (f"/v1/accounts/{ALICE}/grants", {"points": "5", "ref": ""}, ADMIN, 422, "invalid-request"),
    (f"/v1/accounts/{ALICE}/grants", {"points": "5", "ref": "x" * 129}, ADMIN, 422, "invalid-request"),
    (f"/v1/accounts/{ALICE}/grants", {"points": "5", "ref": "a\nb"}, ADMIN, 422, "invalid-request"),
    (f"/v1/accounts/{ALICE}/grants", {"points": "5", "ref": "r", "reason": "x"}, ADMIN, 422, "invalid-request"),
    (f"/v1/accounts/{ALICE}/grants", ["points", "5"], ADMIN, 422, "invalid-request"),
    (f"/v1/accounts/{journal.REWARDS_POOL}/grants", {"points": "5", "ref": "r"}, ADMIN, 422, "invalid-address"),
])
def test_bad_requests_are_refused_and_change_nothing(admin: tuple[Api, TestClient], path: str, body: Any,
                                                     headers: dict[str, str], status: int, problem: str) -> None:
    api, client = admin
    before = api.counts()
    answer = client.post(path, json=body, headers=headers)
    assert answer.status_code == status, answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == f"/problems/{problem}"
    assert api.counts() == before


def test_malformed_json_is_a_400(admin: tuple[Api, TestClient]) -> None:
    _, client = admin
    answer = client.post(f"/v1/accounts/{ALICE}/grants", content=b"{points:", headers={
        **ADMIN, "Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["type"] == "/problems/malformed-json"


def test_racing_clawbacks_cannot_overdraw(admin: tuple[Api, TestClient]) -> None:
    api, client = admin
    granted = client.post(f"/v1/accounts/{ALICE}/grants", json={"points": "100", "ref": "g"}, headers=ADMIN)
    assert granted.status_code == 201
    results: list[str] = []
    start = threading.Barrier(4)

    def claw(n: int) -> None:
        start.wait()
        try:
            with api.intake.sessions() as session, session.begin():
                adjustments.claw_back(session, account=ALICE, points=60, ref=f"claw-{n}", now=1)
            results.append("ok")
        except adjustments.InsufficientPointsError:
            results.append("refused")

    threads = [threading.Thread(target=claw, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok", "refused", "refused", "refused"]
    assert balance(client) == 40


def test_adjustments_are_sealed_into_the_next_epoch_and_its_manifest(admin: tuple[Api, TestClient]) -> None:
    api, client = admin
    client.post(f"/v1/accounts/{ALICE}/grants", json={"points": "70", "ref": "grant-7"}, headers=ADMIN)
    client.post(f"/v1/accounts/{ALICE}/clawbacks", json={"points": "20", "ref": "claw-7"}, headers=ADMIN)
    with api.intake.sessions() as session, session.begin():  # as the sealing job does
        epoch = seal_epoch(session, LocalBlockStore(api.blocks, fsync=False),
                           Anchor(31337, api.services.chain.contract), now=5)
    assert epoch is not None  # adjustments alone are something new to seal
    manifest = client.get(f"/v1/epochs/{epoch.number}/manifest").json()
    moves = [(e["account"], e["amount"], e["kind"], e["ref"]) for e in manifest["journal"]]
    assert (ALICE, "70", "grant", "grant-7") in moves and (ALICE, "-20", "clawback", "claw-7") in moves
    assert client.get(f"/v1/accounts/{ALICE}").json()["pending"] == "0"
    with api.intake.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Adjustment)) == 2
