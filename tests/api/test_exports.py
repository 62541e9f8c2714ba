"""Data out to consumers over HTTP: contributions as JSON Lines in id order (decrypted in privacy
mode, erased ones left out), every export recorded and listed for admins, and usage accepted only
for what the consumer received (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import UsagePolicy
from ledger import jcs
from tests.api.conftest import Api, build_api, contributor_key, sample_conversation

CONSUMER = {"Authorization": "Bearer consumer-key"}
ADMIN = {"Authorization": "Bearer admin-key"}


@pytest.fixture
def private(db_url: str, tmp_path: Path) -> tuple[Api, TestClient, list[dict[str, Any]]]:
    """Privacy mode: four contributions stored encrypted, the third erased."""
    api = build_api(db_url, tmp_path, master_key=bytes(range(32)))
    client = api.client_with(admin_api_key="admin-key", usage_api_key="consumer-key",
                             usage=UsagePolicy(points_per_unit=5))
    accepted = [client.post("/v1/contributions", json=api.signed(sample_conversation(f"x{i}"), contributor_key(i)))
                .json() for i in range(4)]
    assert all("id" in a for a in accepted), accepted
    assert client.post(f"/v1/contributions/{accepted[2]['id']}:erase", headers=ADMIN).json()["erased"]
    return api, client, accepted


def lines(answer: Any) -> list[dict[str, Any]]:
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-ndjson"
    return [json.loads(line) for line in answer.text.splitlines()]


def test_an_export_pages_through_the_contributions_decrypted_and_without_the_erased(
        private: tuple[Api, TestClient, list[dict[str, Any]]]) -> None:
    _, client, accepted = private
    first = client.get("/v1/export", params={"limit": 2}, headers=CONSUMER)
    got = lines(first)
    assert [line["id"] for line in got] == [accepted[0]["id"], accepted[1]["id"]]
    assert first.headers["X-Export-Count"] == "2" and first.headers["X-Export-Last-Id"] == str(accepted[1]["id"])
    for line, made in zip(got, accepted, strict=False):
        assert set(line) == {"id", "contentHash", "cid", "contributor", "acceptedAt", "scorer", "points",
                             "termsHash", "conversation", "images"}
        assert line["images"] == []
        # The canonical object itself: its JCS bytes are what the contentHash commits to.
        assert "0x" + hashlib.sha256(jcs.dumps(line["conversation"])).hexdigest() == line["contentHash"]
        assert (line["contentHash"], line["contributor"], line["points"]) == (
            made["contentHash"], made["contributor"], made["points"])
    rest = lines(client.get("/v1/export", params={"after": first.headers["X-Export-Last-Id"]}, headers=CONSUMER))
    assert [line["id"] for line in rest] == [accepted[3]["id"]]  # the erased one is never sent
    empty = client.get("/v1/export", params={"after": accepted[3]["id"]}, headers=CONSUMER)
    assert lines(empty) == [] and empty.headers["X-Export-Last-Id"] == str(accepted[3]["id"])

    listed = client.get("/v1/admin/exports", headers=ADMIN).json()["items"]
    assert [(e["after"], e["last"], e["count"], e["consumer"]) for e in listed] == [
        (accepted[3]["id"], accepted[3]["id"], 0, "data-consumer"),
        (accepted[1]["id"], accepted[3]["id"], 1, "data-consumer"),
        (0, accepted[1]["id"], 2, "data-consumer")]


@pytest.mark.parametrize(("params", "headers", "status"), [
    ({}, {}, 401),
    ({}, ADMIN, 401),
    ({"limit": 0}, CONSUMER, 422),
    ({"limit": 1001}, CONSUMER, 422),
    ({"after": -1}, CONSUMER, 422),
    ({"after": "x"}, CONSUMER, 422),
])
def test_a_bad_export_request_is_refused_and_records_nothing(
        private: tuple[Api, TestClient, list[dict[str, Any]]], params: dict[str, Any], headers: dict[str, str],
        status: int) -> None:
    _, client, _ = private
    answer = client.get("/v1/export", params=params, headers=headers)
    assert answer.status_code == status and answer.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/admin/exports", headers=ADMIN).json()["items"] == []


def test_usage_is_accepted_only_for_contributions_the_consumer_received(
        private: tuple[Api, TestClient, list[dict[str, Any]]]) -> None:
    _, client, accepted = private
    report = {"ref": "run-1", "items": [{"contribution": accepted[1]["id"], "units": 2}]}
    refused = client.post("/v1/usage", json=report, headers=CONSUMER)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "items[0].contribution"
    assert "never exported" in refused.json()["detail"]
    balance = client.get(f"/v1/accounts/{accepted[1]['contributor']}").json()["balance"]

    client.get("/v1/export", params={"limit": 1}, headers=CONSUMER)  # sends only the first
    assert client.post("/v1/usage", json=report, headers=CONSUMER).status_code == 422
    client.get("/v1/export", params={"after": accepted[0]["id"]}, headers=CONSUMER)
    assert client.post("/v1/usage", json=report, headers=CONSUMER).status_code == 201
    assert int(client.get(f"/v1/accounts/{accepted[1]['contributor']}").json()["balance"]) == int(balance) + 10
