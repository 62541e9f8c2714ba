"""POST /v1/contributions:batch under one ContributionBatch signature (ledger.batch_consent):
accepted per item, refused whole when the consent itself is wrong, nothing written then."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from sqlalchemy import func, select

from ledger.batch_consent import contents_root
from ledger.conversation import canonical_bytes
from ledger.models import ConsentBatch
from tally.client import check_receipt, sign_batch
from tests.api.conftest import Api, build_api, contributor_key, sample_conversation


def signed_batch(api: Api, conversations: list[Any], n: int = 1, *, nonce: int = 7, **overrides: Any) -> dict[str, Any]:
    body = sign_batch(api.config, conversations, contributor_key(n), nonce=nonce, issued_at=int(api.clock[0]))
    body.update(overrides)
    return body


def batches(api: Api) -> int:
    with api.intake.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ConsentBatch)) or 0)


def test_a_signed_batch_is_accepted_item_by_item_each_with_its_proof(api: Api) -> None:
    conversations = [sample_conversation(f"batch {i}") for i in range(5)]
    response = api.client.post("/v1/contributions:batch", json=signed_batch(api, conversations))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 5 and answer["refused"] == 0
    hashes = [hashlib.sha256(canonical_bytes(c)).digest() for c in conversations]
    root = "0x" + contents_root(hashes).hex()
    for result, expected in zip(answer["results"], hashes, strict=True):
        contribution = result["contribution"]
        assert contribution["contentHash"] == "0x" + expected.hex()
        batch = contribution["consent"]["batch"]
        assert batch["contentsRoot"] == root and batch["count"] == 5 and len(batch["proof"]) in (2, 3)
        check_receipt(api.config, contribution)  # the receipt, and the batch consent for this item
        assert api.client.get(f"/v1/contributions/{contribution['id']}").json()["consent"] == contribution["consent"]
    assert api.counts()[0] == 5 and batches(api) == 1


def test_the_batch_signature_is_eip712_as_eth_account_computes_it(api: Api) -> None:
    config = api.config
    body = signed_batch(api, [sample_conversation("eth-account")], nonce=2**200)
    root = contents_root([hashlib.sha256(canonical_bytes(body["conversations"][0])).digest()])
    typed = {"domain": config["eip712"]["domain"], "types": config["eip712"]["batch"]["types"],
             "primaryType": "ContributionBatch",
             "message": {"contributor": body["contributor"], "contentsRoot": root, "count": 1,
                         "termsHash": body["termsHash"], "nonce": 2**200, "issuedAt": body["issuedAt"]}}
    signer = Account.recover_message(encode_typed_data(full_message=typed),
                                     signature=bytes.fromhex(body["signature"][2:]))
    assert signer == body["contributor"]
    assert api.client.post("/v1/contributions:batch", json=body).json()["accepted"] == 1


def test_a_duplicate_item_is_refused_while_the_others_pass(api: Api) -> None:
    first = sample_conversation("already")
    assert api.client.post("/v1/contributions", json=api.signed(first, contributor_key(2))).status_code == 201
    conversations = [sample_conversation("new 1"), first, sample_conversation("new 2")]
    answer = api.client.post("/v1/contributions:batch", json=signed_batch(api, conversations)).json()
    assert [r["status"] for r in answer["results"]] == [201, 409, 201]
    assert answer["results"][1]["problem"]["type"] == "/problems/duplicate-contribution"
    assert (answer["accepted"], answer["refused"]) == (2, 1)


def test_malformed_and_personal_data_items_are_refused_alone(api: Api) -> None:
    malformed = {"messages": [{"role": "narrator", "content": "once upon a time"}]}
    personal = {"messages": [{"role": "user", "content": "mail me at jane.doe@gmail.com please, about logs"},
                             {"role": "assistant", "content": "Sure, " + sample_conversation("pd")["messages"][1]
                              ["content"]}]}
    good = sample_conversation("good")
    hashes = [hashlib.sha256(canonical_bytes(good)).digest()]
    from ledger import jcs
    body = signed_batch(api, [good])
    # Sign over [good, malformed, personal] as the batch rule says: a malformed item's leaf is the
    # SHA-256 of its RFC 8785 bytes.
    from ledger import eip712
    from ledger.batch_consent import BatchMessage
    from tally.client import domain_of
    hashes += [hashlib.sha256(jcs.dumps(malformed)).digest(), hashlib.sha256(canonical_bytes(personal)).digest()]
    key = contributor_key(1)
    message = BatchMessage(body["contributor"], contents_root(hashes), 3, bytes.fromhex(body["termsHash"][2:]), 8,
                           body["issuedAt"])
    body.update(conversations=[good, malformed, personal], count=3, nonce="8",
                signature="0x" + eip712.sign(message.digest(domain_of(api.config)), key).hex())
    answer = api.client.post("/v1/contributions:batch", json=body).json()
    assert [r["status"] for r in answer["results"]] == [201, 422, 422]
    assert answer["results"][1]["problem"]["type"] == "/problems/unknown-role"
    assert answer["results"][2]["problem"]["type"] == "/problems/contains-personal-data"


def _refused_whole(api: Api, body: dict[str, Any], status: int, problem: str) -> None:
    before = api.counts(), batches(api)
    response = api.client.post("/v1/contributions:batch", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{problem}"
    assert (api.counts(), batches(api)) == before


def test_a_wrong_consent_refuses_the_whole_batch_and_writes_nothing(api: Api) -> None:
    conversations = [sample_conversation(f"whole {i}") for i in range(3)]
    good = signed_batch(api, conversations)
    _refused_whole(api, {**good, "count": 2}, 422, "batch-count-mismatch")
    _refused_whole(api, {**good, "count": 4}, 422, "batch-count-mismatch")
    other = signed_batch(api, conversations, n=2)
    _refused_whole(api, {**good, "signature": other["signature"]}, 403, "signer-mismatch")
    tampered = [conversations[0], sample_conversation("swapped in"), conversations[2]]
    _refused_whole(api, {**good, "conversations": tampered}, 403, "signer-mismatch")
    edited = [*conversations[:2], {"messages": [*conversations[2]["messages"][:1],
                                                {"role": "assistant", "content": "changed"}]}]
    _refused_whole(api, {**good, "conversations": edited}, 403, "signer-mismatch")
    _refused_whole(api, {**good, "nonce": "8"}, 403, "signer-mismatch")
    _refused_whole(api, {**good, "signature": "0x12"}, 422, "invalid-signature")
    _refused_whole(api, {**good, "conversations": []}, 422, "invalid-request")
    _refused_whole(api, {key: v for key, v in good.items() if key != "count"}, 422, "invalid-request")
    # The order does not matter to the root (OpenZeppelin sorts the leaves), so a reordered batch is
    # the same consent.
    assert api.client.post("/v1/contributions:batch",
                           json={**good, "conversations": conversations[::-1]}).json()["accepted"] == 3


def test_a_batch_nonce_is_used_once(api: Api) -> None:
    body = signed_batch(api, [sample_conversation("nonce 1")], nonce=11)
    assert api.client.post("/v1/contributions:batch", json=body).json()["accepted"] == 1
    _refused_whole(api, body, 409, "nonce-reused")
    again = signed_batch(api, [sample_conversation("nonce 2")], nonce=11)
    _refused_whole(api, again, 409, "nonce-reused")
    # A batch that recorded nothing used no nonce.
    duplicate = signed_batch(api, [sample_conversation("nonce 1")], nonce=12)
    assert api.client.post("/v1/contributions:batch", json=duplicate).json()["refused"] == 1
    assert api.client.post("/v1/contributions:batch",
                           json=signed_batch(api, [sample_conversation("nonce 3")], nonce=12)).json()["accepted"] == 1
    # Another contributor's nonces are their own.
    theirs = signed_batch(api, [sample_conversation("nonce 4")], 3, nonce=11)
    assert api.client.post("/v1/contributions:batch", json=theirs).json()["accepted"] == 1


def test_an_oversized_signed_batch_is_a_413_and_changes_nothing(db_url: str, tmp_path: Path) -> None:
    api = build_api(db_url, tmp_path, max_batch=2)
    with api.client:
        body = signed_batch(api, [sample_conversation(f"big {i}") for i in range(3)])
        _refused_whole(api, body, 413, "batch-too-large")
        assert api.client.post("/v1/contributions:batch",
                               json=signed_batch(api, [sample_conversation("small")])).json()["accepted"] == 1


def test_config_publishes_the_batch_type(api: Api) -> None:
    batch = api.config["eip712"]["batch"]
    assert batch["primaryType"] == "ContributionBatch"
    assert [(f["name"], f["type"]) for f in batch["types"]["ContributionBatch"]] == [
        ("contributor", "address"), ("contentsRoot", "bytes32"), ("count", "uint32"), ("termsHash", "bytes32"),
        ("nonce", "uint256"), ("issuedAt", "uint64")]
    assert batch["types"]["EIP712Domain"] == api.config["eip712"]["types"]["EIP712Domain"]
