"""Usage reports over HTTP: the data-consumer key, contributors credited per unit, idempotent by
ref, nothing written on a bad report, and sealed into the next epoch (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import UsagePolicy
from ledger import journal
from ledger.content import LocalBlockStore
from ledger.epochs import Anchor, seal_epoch
from ledger.models import UsageItem
from tests.api.conftest import Api, build_api, contributor_key, sample_conversation

CONSUMER = {"Authorization": "Bearer consumer-key"}


@pytest.fixture
def consumer(db_url: str, tmp_path: Path) -> tuple[Api, TestClient, list[dict[str, Any]]]:
    api = build_api(db_url, tmp_path)
    client = api.client_with(admin_api_key="admin-key", usage_api_key="consumer-key",
                             usage=UsagePolicy(points_per_unit=7))
    accepted = [client.post("/v1/contributions", json=api.signed(sample_conversation(str(i)), contributor_key(i)))
                .json() for i in range(3)]
    assert all("id" in a for a in accepted)
    # Usage may be reported only for what the consumer received.
    assert client.get("/v1/export", headers=CONSUMER).status_code == 200
    return api, client, accepted


def balance(client: TestClient, account: str) -> int:
    return int(client.get(f"/v1/accounts/{account}").json()["balance"])


def test_a_report_credits_each_contributor_per_unit_once(consumer: tuple[Api, TestClient, list[Any]]) -> None:
    api, client, accepted = consumer
    assert client.get("/v1/config").json()["usage"] == {"pointsPerUnit": "7"}
    first, second, _ = accepted
    before = {a["contributor"]: balance(client, a["contributor"]) for a in accepted}
    report = {"ref": "training-run-42", "items": [
        {"contribution": first["id"], "units": 3},
        {"contribution": second["contentHash"]},  # by contentHash; one unit by default
    ]}
    answer = client.post("/v1/usage", json=report, headers=CONSUMER)
    assert answer.status_code == 201, answer.json()
    assert answer.json() | {"createdAt": 0} == {"ref": "training-run-42", "items": 2, "points": "28", "createdAt": 0}
    assert balance(client, first["contributor"]) == before[first["contributor"]] + 21
    assert balance(client, second["contributor"]) == before[second["contributor"]] + 7
    history = client.get(f"/v1/accounts/{first['contributor']}").json()["history"]["items"]
    assert ("usage", "21", "training-run-42") in [(e["kind"], e["amount"], e["ref"]) for e in history]

    counts = api.counts()
    again = client.post("/v1/usage", json=report, headers=CONSUMER)
    assert again.status_code == 200 and again.json() == answer.json()
    assert api.counts() == counts
    changed = {"ref": "training-run-42", "items": [{"contribution": first["id"], "units": 4}]}
    reused = client.post("/v1/usage", json=changed, headers=CONSUMER)
    assert reused.status_code == 409 and reused.json()["type"] == "/problems/ref-reused"
    assert api.counts() == counts
    with api.intake.sessions() as session:
        assert journal.journal_sum(session) == 0


@pytest.mark.parametrize(("body", "headers", "status", "field"), [
    ({"ref": "r", "items": [{"contribution": 1}]}, {}, 401, None),
    ({"ref": "r", "items": [{"contribution": 1}]}, {"Authorization": "Bearer admin-key"}, 401, None),
    ({"ref": "r", "items": []}, CONSUMER, 422, "items"),
    ({"ref": "r", "items": [{"contribution": 999}]}, CONSUMER, 422, "items[0].contribution"),
    ({"ref": "r", "items": [{"contribution": 1}, {"contribution": "0x" + "ab" * 32}]}, CONSUMER, 422,
     "items[1].contribution"),
    ({"ref": "r", "items": [{"contribution": "0x12"}]}, CONSUMER, 422, "items[0].contribution"),
    ({"ref": "r", "items": [{"contribution": True}]}, CONSUMER, 422, "items[0].contribution"),
    ({"ref": "r", "items": [{"contribution": 1, "units": 0}]}, CONSUMER, 422, "items[0].units"),
    ({"ref": "r", "items": [{"contribution": 1, "units": 10**6 + 1}]}, CONSUMER, 422, "items[0].units"),
    ({"ref": "r", "items": [{"contribution": 1, "price": 3}]}, CONSUMER, 422, "items[0]"),
    ({"ref": "", "items": [{"contribution": 1}]}, CONSUMER, 422, "body"),
    ({"items": [{"contribution": 1}]}, CONSUMER, 422, "ref"),
    ({"ref": "r", "items": [{"contribution": 1}], "extra": 1}, CONSUMER, 422, "body"),
])
def test_bad_reports_are_refused_and_change_nothing(consumer: tuple[Api, TestClient, list[Any]], body: Any,
                                                    headers: dict[str, str], status: int, field: str | None) -> None:
    api, client, _ = consumer
    before = api.counts()
    answer = client.post("/v1/usage", json=body, headers=headers)
    assert answer.status_code == status, answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert answer.json()["errors"][0]["field"] == field
    assert api.counts() == before


def test_usage_needs_the_consumer_key_and_at_zero_points_a_unit_is_recorded_unpaid(
        db_url: str, tmp_path: Path) -> None:
    api = build_api(db_url, tmp_path)
    accepted = api.client.post("/v1/contributions", json=api.signed(sample_conversation(), contributor_key(0))).json()
    body = {"ref": "r", "items": [{"contribution": accepted["id"], "units": 4}]}
    assert api.client.post("/v1/usage", json=body, headers={"Authorization": "Bearer "}).status_code == 401
    unpaid = api.client_with(usage_api_key="k", usage=UsagePolicy(points_per_unit=0))
    assert unpaid.get("/v1/export", headers={"Authorization": "Bearer k"}).status_code == 200
    before = balance(unpaid, accepted["contributor"])
    answer = unpaid.post("/v1/usage", json=body, headers={"Authorization": "Bearer k"})
    assert answer.status_code == 201 and answer.json()["points"] == "0"
    assert balance(unpaid, accepted["contributor"]) == before  # recorded, not paid
    with api.intake.sessions() as session:
        items = session.execute(select(UsageItem.account, UsageItem.units, UsageItem.points)).all()
    assert items == [(accepted["contributor"], 4, 0)]


def test_usage_rewards_are_sealed_into_the_next_epoch(consumer: tuple[Api, TestClient, list[Any]]) -> None:
    api, client, accepted = consumer
    store, anchor = LocalBlockStore(api.blocks, fsync=False), Anchor(31337, api.services.chain.contract)
    with api.intake.sessions() as session, session.begin():
        seal_epoch(session, store, anchor)
    report = {"ref": "eval-set-2026-11", "items": [{"contribution": accepted[2]["id"], "units": 2}]}
    assert client.post("/v1/usage", json=report, headers=CONSUMER).status_code == 201
    with api.intake.sessions() as session, session.begin():
        epoch = seal_epoch(session, store, anchor)
    assert epoch is not None and epoch.number == 2 and epoch.contributions == 0  # usage alone is new
    manifest = client.get("/v1/epochs/2/manifest").json()
    assert [(e["account"], e["amount"], e["kind"], e["ref"]) for e in manifest["journal"]] == [
        (journal.REWARDS_POOL, "-14", "usage", "eval-set-2026-11"),
        (accepted[2]["contributor"], "14", "usage", "eval-set-2026-11")]
