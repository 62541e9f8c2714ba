"""Near-duplicates at the API: refused with 409 near-duplicate naming the earlier contribution,
nothing written, in a batch too, and two racing near-copies on PostgreSQL cannot both pass."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.intake import Intake
from tests.api.conftest import Api, build_api, contributor_key, sample_conversation

ALICE, BOB = contributor_key(0), contributor_key(1)


def near_copy(conversation: dict[str, Any]) -> dict[str, Any]:
    """The same conversation, upper-cased with a word added: a farmer's second submission."""
    messages = [{**m, "content": m["content"].upper()} for m in conversation["messages"]]
    messages[-1]["content"] += " INDEED"
    return {"messages": messages}


def test_a_near_copy_is_refused_naming_the_original_and_writes_nothing(api: Api) -> None:
    original = sample_conversation("original")
    first = api.client.post("/v1/contributions", json=api.signed(original, ALICE, nonce=1))
    assert first.status_code == 201, first.text
    before = api.counts()
    again = api.client.post("/v1/contributions", json=api.signed(near_copy(original), BOB, nonce=1))
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    problem = again.json()
    assert problem["type"] == "/problems/near-duplicate" and problem["existing"] == first.json()["id"]
    assert api.counts() == before
    # The exact copy stays an exact duplicate, and another conversation is still welcome.
    exact = api.client.post("/v1/contributions", json=api.signed(original, BOB, nonce=2))
    assert exact.json()["type"] == "/problems/duplicate-contribution"
    other = api.client.post("/v1/contributions", json=api.signed(sample_conversation("other"), BOB, nonce=3))
    assert other.status_code == 201, other.text


def test_a_batch_refuses_near_copies_of_the_ledger_and_of_its_own_items(api: Api) -> None:
    original = sample_conversation("in the ledger")
    assert api.client.post("/v1/contributions", json=api.signed(original, ALICE, nonce=1)).status_code == 201
    fresh = sample_conversation("fresh")
    items = [api.signed(near_copy(original), BOB, nonce=1), api.signed(fresh, BOB, nonce=2),
             api.signed(near_copy(fresh), BOB, nonce=3), api.signed(sample_conversation("third"), BOB, nonce=4)]
    body = api.client.post("/v1/contributions:batch", json={"items": items}).json()
    assert [r["status"] for r in body["results"]] == [409, 201, 409, 201]
    assert body["results"][0]["problem"]["type"] == "/problems/near-duplicate"
    assert body["results"][2]["problem"]["existing"] is None  # nearly the item before it, in this batch


def test_racing_near_copies_on_postgresql_cannot_both_pass(pg_url: str, tmp_path: Path) -> None:
    api = build_api(pg_url, tmp_path)
    original = sample_conversation("raced")
    copies = [original] + [{"messages": [*original["messages"][:-1], {
        "role": "assistant", "content": original["messages"][-1]["content"] + f" ({n})"}]} for n in range(7)]
    bodies = [api.signed(c, contributor_key(10 + n), nonce=n) for n, c in enumerate(copies)]
    assert api.submit_racing(bodies) == [201] + [409] * (len(bodies) - 1)
    assert api.counts()[0] == 1


def test_accept_mode_takes_near_copies_leaves_them_out_of_the_index_and_config_says_so(
        api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import func, select

    from ledger.models import NearDuplicateKey
    from tally.settings import Settings

    assert api.config["nearDuplicates"] == "refuse"
    intake = api.intake
    accepting = Intake(sessions=intake.sessions, store=intake.store, consent=intake.consent, signer=intake.signer,
                       limits=intake.limits, clock=intake.clock, near_duplicates=False)
    client = TestClient(create_app(replace(api.services, intake=accepting)))
    assert client.get("/v1/config").json()["nearDuplicates"] == "accept"
    original = sample_conversation("accepted twice")
    assert api.client.post("/v1/contributions", json=api.signed(original, ALICE, nonce=1)).status_code == 201
    with intake.sessions() as session:
        indexed = session.scalar(select(func.count()).select_from(NearDuplicateKey))
    copy = client.post("/v1/contributions", json=api.signed(near_copy(original), BOB, nonce=1))
    assert copy.status_code == 201, copy.text
    with intake.sessions() as session:
        assert session.scalar(select(func.count()).select_from(NearDuplicateKey)) == indexed
    # An exact copy is still refused: the contentHash is unique whatever the mode.
    assert client.post("/v1/contributions", json=api.signed(original, BOB, nonce=2)).status_code == 409

    monkeypatch.setenv("TALLY_HOME", str(tmp_path / "home"))
    assert Settings().near_duplicates == "refuse"
    monkeypatch.setenv("TALLY_NEAR_DUPLICATES", "accept")
    assert Settings().near_duplicates == "accept"
    monkeypatch.setenv("TALLY_NEAR_DUPLICATES", "sometimes")
    with pytest.raises(ValueError, match="refuse"):
        Settings()
