"""Signed text too long (or unstorable) for its column is refused by the ledger as a 422, alone:
in a batch it is one refused item among accepted ones, never a 500 of the batch (PostgreSQL's
varchar(200) used to raise; SQLite silently stored it)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from eth_keys import keys

from ledger import eip712, jcs
from ledger.conversation import (
    MAX_MODEL_LENGTH,
    Conversation,
    MalformedConversationError,
    Message,
    normalise,
    normalise_text,
)
from ledger.encoding import hex0x
from ledger.errors import TallyError
from ledger.intake import Consent, Prepared, Submission, UnstorableError, record
from ledger.models import Contribution
from tests.api.conftest import Api, build_api, contributor_key, sample_conversation
from tests.support.conversations import passage

ALICE = contributor_key(1)


def with_model(model: str, tag: str = "") -> dict[str, Any]:
    return {**sample_conversation(tag), "model": model}


def signed(api: Api, conversation: dict[str, Any], key: keys.PrivateKey, nonce: int = 1) -> dict[str, Any]:
    """Signed over the canonical bytes as a client that knows no limit computes them."""
    canonical = Conversation(conversation["model"], tuple(
        Message(m["role"], normalise_text(m["content"])) for m in conversation["messages"]))
    content_hash = hashlib.sha256(jcs.dumps(canonical.to_canonical())).digest()
    issued_at = int(api.clock[0])
    domain = api.intake.consent.domain
    terms_hash = api.intake.consent.terms.hash
    contributor = key.public_key.to_checksum_address()
    digest = domain.contribution_digest(contributor, content_hash, terms_hash, nonce, issued_at)
    return {"contributor": contributor, "conversation": conversation, "nonce": str(nonce), "issuedAt": issued_at,
            "termsHash": hex0x(terms_hash), "signature": hex0x(eip712.sign(digest, key))}


def test_the_model_limit_is_the_column_length() -> None:
    assert Contribution.__table__.c.model.type.length == MAX_MODEL_LENGTH
    assert normalise(with_model("m" * MAX_MODEL_LENGTH)).model == "m" * MAX_MODEL_LENGTH
    with pytest.raises(MalformedConversationError, match=f"the limit is {MAX_MODEL_LENGTH}"):
        normalise(with_model("m" * (MAX_MODEL_LENGTH + 1)))


@pytest.mark.parametrize("model", ["m" * (MAX_MODEL_LENGTH + 1), "é" * (MAX_MODEL_LENGTH + 1), "gpt\x00-4"],
                         ids=["201 ASCII", "201 non-ASCII", "NUL"])
def test_a_model_name_the_column_cannot_hold_is_a_422_naming_the_problem(api: Api, model: str) -> None:
    before = api.counts()
    response = api.client.post("/v1/contributions", json=signed(api, with_model(model), ALICE))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "/problems/malformed-conversation"
    assert str(MAX_MODEL_LENGTH) in problem["detail"] or "NUL" in problem["detail"]
    assert api.counts() == before


def test_the_longest_model_name_is_stored_whole(api: Api) -> None:
    model = "ü" * MAX_MODEL_LENGTH
    response = api.client.post("/v1/contributions", json=signed(api, with_model(model), ALICE))
    assert response.status_code == 201, response.text
    assert api.client.get(f"/v1/contributions/{response.json()['id']}").json()["model"] == model


def test_a_batch_with_one_overlong_model_refuses_that_item_only(api: Api) -> None:
    items = [api.signed(sample_conversation(f"ok {i}"), contributor_key(i), nonce=i) for i in range(3)]
    items.insert(1, signed(api, with_model("m" * 500, "long"), ALICE, nonce=99))
    before = api.counts()
    response = api.client.post("/v1/contributions:batch", json={"items": items})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["refused"]) == (3, 1)
    assert [r["status"] for r in body["results"]] == [201, 422, 201, 201]
    assert body["results"][1]["problem"]["type"] == "/problems/malformed-conversation"
    assert api.counts()[0] == before[0] + 3


def test_a_value_the_database_refuses_fails_its_batch_item_alone(pg_url: str, tmp_path: Path) -> None:
    """Past every check (here one skipped on purpose), PostgreSQL's own refusal of a value is still
    that item's 422, and the rest of the batch commits."""
    api = build_api(pg_url, tmp_path)
    intake = api.intake

    def submission(model: str, n: int) -> Submission:
        conversation = Conversation(model, (Message("user", f"question {n}"),
                                            Message("assistant", f"answer: {passage(str(n))}")))
        consent = Consent(contributor_key(n).public_key.to_checksum_address(), n, int(api.clock[0]),
                          intake.consent.terms.hash, b"\x01" * 65)
        return Submission(Prepared.of(conversation), consent)

    batch = [submission("ok", 1), submission("m" * (MAX_MODEL_LENGTH + 1), 2), submission("ok", 3)]
    with intake.sessions() as session, session.begin():
        outcomes = record(session, batch, store=intake.store, sign_receipt=intake.signer.sign,
                          now=int(api.clock[0]))
    assert isinstance(outcomes[1], UnstorableError) and outcomes[1].status == 422
    assert not isinstance(outcomes[0], TallyError) and not isinstance(outcomes[2], TallyError)
    assert api.counts()[0] == 2
