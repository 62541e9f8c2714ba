"""Intake refuses a submission that still holds personal data, before anything is written: 422
``contains-personal-data`` naming each kind and message, never a value; per item in a batch. Its
redacted form (what clients submit) is accepted with the contentHash they computed.
``TALLY_PII=accept`` turns the check off; /v1/config says which it is."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.conversation import canonical_bytes, content_hash
from ledger.intake import Intake
from ledger.personal_data import redact_for_submission
from tally.settings import Settings
from tests.api.conftest import Api, contributor_key, sample_conversation

ALICE = contributor_key(1)
VALUES = ["ana.rossi@gmail.com", "+44 20 7946 1234", "4666 1760 3137 2159", "DE89 3704 0044 0532 0130 00",
          "93.184.216.34", "ghp_8Kz3mQ1xV7bN4cL9wE2rT6yU0iO5pA3sD7fG"]


def with_personal_data() -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [
        {"role": "user", "content": f"Write to {VALUES[0]} or call {VALUES[1]} about my Merkle log"},
        {"role": "assistant", "content": "I would rather not keep contact details. What about the log?"},
        {"role": "user", "content": f"Pay with {VALUES[2]} or to {VALUES[3]}; the server is {VALUES[4]}, "
                                    f"token {VALUES[5]}"},
        {"role": "assistant", "content": "Please do not share those here."},
    ]}


def assert_refused(response: Any, findings: list[dict[str, Any]]) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/contains-personal-data" and problem["title"] == "Contains personal data"
    assert problem["findings"] == findings
    assert not any(value in response.text for value in VALUES)


EVERY_FINDING = [{"kind": "email", "message": 0}, {"kind": "phone", "message": 0}, {"kind": "card", "message": 2},
                 {"kind": "iban", "message": 2}, {"kind": "ip", "message": 2}, {"kind": "secret", "message": 2}]


def test_a_conversation_with_personal_data_is_refused_and_nothing_is_written(api: Api) -> None:
    before = api.counts()
    response = api.client.post("/v1/contributions", json=api.signed(with_personal_data(), ALICE, nonce=5))
    assert_refused(response, EVERY_FINDING)
    assert "email in message 0" in response.json()["detail"] and "tally redact" in response.json()["detail"]
    assert api.counts() == before
    # Nothing recorded, not even the nonce: the redacted form goes in with the same one.
    redacted, _ = redact_for_submission(with_personal_data())
    accepted = api.client.post("/v1/contributions", json=api.signed(redacted, ALICE, nonce=5))
    assert accepted.status_code == 201, accepted.text


def test_the_redacted_form_is_stored_as_the_client_hashed_it(api: Api) -> None:
    redacted, findings = redact_for_submission(with_personal_data())
    assert [f.public() for f in findings] == EVERY_FINDING
    body = api.client.post("/v1/contributions", json=api.signed(redacted, ALICE)).json()
    assert body["contentHash"] == content_hash(redacted) == content_hash(with_personal_data() | {
        "messages": redacted["messages"]})
    stored = api.intake.store.get(body["cid"])
    assert stored == canonical_bytes(redacted)
    assert b"[email]" in stored and b"[secret]" in stored and not any(v.encode() in stored for v in VALUES)


def test_a_model_name_holding_personal_data_is_refused_as_message_null(api: Api) -> None:
    conversation = sample_conversation() | {"model": "tuned by bo@firma.de"}
    response = api.client.post("/v1/contributions", json=api.signed(conversation, ALICE))
    assert_refused(response, [{"kind": "email", "message": None}])


@pytest.mark.parametrize("shape", ["sharegpt", "chatgpt"])
def test_every_accepted_format_is_checked(api: Api, shape: str) -> None:
    text = f"my card is {VALUES[2]}"
    if shape == "sharegpt":
        conversation: dict[str, Any] = {"conversations": [{"from": "human", "value": text},
                                                          {"from": "gpt", "value": "noted"}]}
    else:
        conversation = {"current_node": "b", "mapping": {
            "a": {"message": {"author": {"role": "user"}, "content": {"parts": [text]}}, "parent": None},
            "b": {"message": {"author": {"role": "assistant"}, "content": {"parts": ["noted"]}}, "parent": "a"}}}
    assert_refused(api.client.post("/v1/contributions", json=api.signed(conversation, ALICE)),
                   [{"kind": "card", "message": 0}])


def test_reserved_names_and_ranges_are_accepted(api: Api) -> None:
    conversation = {"messages": [
        {"role": "user", "content": "Mail user@example.com from 192.0.2.10 or 2001:db8::1; my router is 192.168.1.1"},
        {"role": "assistant", "content": "Those are documentation and private addresses: fine to share."}]}
    assert api.client.post("/v1/contributions", json=api.signed(conversation, ALICE)).status_code == 201


def test_batch_items_are_refused_one_by_one(api: Api) -> None:
    redacted, _ = redact_for_submission(with_personal_data())
    items = [api.signed(sample_conversation("clean"), ALICE, nonce=1),
             api.signed(with_personal_data(), ALICE, nonce=2),
             api.signed(redacted, ALICE, nonce=3)]
    response = api.client.post("/v1/contributions:batch", json={"items": items})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 422, 201]
    assert results[1]["problem"]["type"] == "/problems/contains-personal-data"
    assert results[1]["problem"]["findings"] == EVERY_FINDING
    assert not any(value in response.text for value in VALUES)
    assert api.counts()[0] == 2


def test_accept_mode_takes_personal_data_and_config_says_so(api: Api) -> None:
    assert api.config["personalData"] == "refuse"
    intake: Intake = api.intake
    accepting = Intake(sessions=intake.sessions, store=intake.store, consent=intake.consent, signer=intake.signer,
                       limits=intake.limits, clock=intake.clock, personal_data="accept")
    client = TestClient(create_app(replace(api.services, intake=accepting)))
    assert client.get("/v1/config").json()["personalData"] == "accept"
    response = client.post("/v1/contributions", json=api.signed(with_personal_data(), ALICE))
    assert response.status_code == 201, response.text
    assert VALUES[0].encode() in api.intake.store.get(response.json()["cid"])


def test_tally_pii_reaches_the_intake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tally.wiring import build_intake, chain_info, open_ledger

    monkeypatch.setenv("TALLY_HOME", str(tmp_path / "home"))
    assert Settings().pii == "refuse"
    monkeypatch.setenv("TALLY_PII", "accept")
    settings = Settings()
    assert settings.pii == "accept"
    assert build_intake(settings, open_ledger(settings), chain_info(settings)).personal_data == "accept"
    monkeypatch.setenv("TALLY_PII", "maybe")
    with pytest.raises(ValueError, match="refuse"):
        Settings()


def test_the_demo_s_real_conversations_are_accepted_and_not_offered_twice(api: Api) -> None:
    """tally demo submits real ShareGPT conversations: the few holding personal data go in redacted,
    and a second run gets others (the ledger's contentHashes are the redacted forms')."""
    from sqlalchemy import select

    from ledger.models import Contribution
    from tally.sharegpt import distinct_conversations

    first = distinct_conversations(60)
    assert any("v" in c for c in first)  # at least one came back redacted (the 38th holds an address)
    items = [api.signed(c, contributor_key(i % 5), nonce=i) for i, c in enumerate(first)]
    results = api.client.post("/v1/contributions:batch", json={"items": items}).json()["results"]
    assert [r["status"] for r in results] == [201] * 60
    with api.intake.sessions() as session:
        known = set(session.scalars(select(Contribution.content_hash)))
    second = distinct_conversations(60, exclude=known)
    assert {content_hash(c) for c in second}.isdisjoint({content_hash(c) for c in first})
    unredacted = distinct_conversations(60, redact=False)
    refused = api.client.post("/v1/contributions:batch", json={"items": [
        api.signed(c, ALICE, nonce=1000 + i) for i, c in enumerate(unredacted)]}).json()["results"]
    # As they are, the ones that needed redacting are refused; the rest are the ones just accepted.
    assert [r["status"] for r in refused] == [422 if "v" in c else 409 for c in first]
