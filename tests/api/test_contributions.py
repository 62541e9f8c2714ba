"""Submitting contributions: the happy path, the receipt, reading back, and batches."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data

from tally.client import check_receipt
from tests.api.conftest import OPERATOR_KEY, Api, contributor_key, sample_conversation


def test_a_signed_conversation_is_accepted_with_a_receipt_and_credited(api: Api) -> None:
    alice = contributor_key(1)
    response = api.client.post("/v1/contributions", json=api.signed(sample_conversation(), alice, nonce=42))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/contributions/{body['id']}"
    assert body["status"] == "pending" and int(body["points"]) == body["score"]["points"] > 0
    assert body["cid"].startswith("bafk")
    check_receipt(api.config, body)

    # The receipt verifies with eth-account's own EIP-712 implementation, from the published types.
    config = api.config
    typed = {"domain": config["eip712"]["domain"], "types": config["eip712"]["receipt"]["types"],
             "primaryType": "Receipt", "message": {**body["receipt"]["message"],
                                                   "points": int(body["receipt"]["message"]["points"])}}
    signer = Account.recover_message(encode_typed_data(full_message=typed),
                                     signature=bytes.fromhex(body["receipt"]["signature"][2:]))
    assert signer == OPERATOR_KEY.public_key.to_checksum_address() == config["operator"]

    by_id = api.client.get(f"/v1/contributions/{body['id']}").json()
    by_hash = api.client.get(f"/v1/contributions/{body['contentHash']}").json()
    assert by_id == by_hash
    assert by_id["consent"]["nonce"] == "42" and by_id["receipt"] == body["receipt"]

    account = api.client.get(f"/v1/accounts/{alice.public_key.to_checksum_address().lower()}").json()
    assert account["balance"] == account["pending"] == body["points"]
    assert [e["amount"] for e in account["history"]["items"]] == [body["points"]]
    assert api.counts() == (1, 1, 2, 1)


def test_the_stored_block_holds_the_canonical_bytes(api: Api) -> None:
    from ledger.conversation import canonical_bytes

    body = api.client.post("/v1/contributions", json=api.signed(sample_conversation(), contributor_key(1))).json()
    assert api.intake.store.get(body["cid"]) == canonical_bytes(sample_conversation())


def test_contribution_digest_matches_eth_account(api: Api) -> None:
    config = api.config
    body = api.signed(sample_conversation(), contributor_key(3), nonce=2**200)
    typed = {"domain": config["eip712"]["domain"], "types": config["eip712"]["types"],
             "primaryType": "Contribution",
             "message": {"contributor": body["contributor"],
                         "contentHash": api.client.post("/v1/contributions", json=body).json()["contentHash"],
                         "termsHash": body["termsHash"], "nonce": 2**200, "issuedAt": body["issuedAt"]}}
    signer = Account.recover_message(encode_typed_data(full_message=typed),
                                     signature=bytes.fromhex(body["signature"][2:]))
    assert signer == body["contributor"]


def test_account_history_is_paginated(api: Api) -> None:
    alice = contributor_key(1)
    for i in range(5):
        assert api.client.post("/v1/contributions",
                               json=api.signed(sample_conversation(str(i)), alice, nonce=i)).status_code == 201
    address = alice.public_key.to_checksum_address()
    first = api.client.get(f"/v1/accounts/{address}?limit=2").json()
    second = api.client.get(f"/v1/accounts/{address}?limit=2&after={first['history']['next']}").json()
    third = api.client.get(f"/v1/accounts/{address}?limit=2&after={second['history']['next']}").json()
    ids = [e["id"] for page in (first, second, third) for e in page["history"]["items"]]
    assert len(ids) == 5 == len(set(ids)) and ids == sorted(ids)
    assert third["history"]["next"] is None
    assert int(first["balance"]) == sum(int(e["amount"]) for p in (first, second, third)
                                        for e in p["history"]["items"])


def test_unknown_contribution_and_account(api: Api) -> None:
    missing = api.client.get("/v1/contributions/999")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "/problems/not-found"
    assert api.client.get("/v1/contributions/not-a-key").json()["type"] == "/problems/invalid-request"
    empty = api.client.get("/v1/accounts/0x" + "ab" * 20).json()
    assert empty["balance"] == "0" and empty["history"]["items"] == []


def test_batch_gives_one_result_per_item_and_a_bad_item_sinks_nothing(api: Api) -> None:
    alice, bob = contributor_key(1), contributor_key(2)
    good = api.signed(sample_conversation("a"), alice, nonce=1)
    wrong_signer = api.signed(sample_conversation("b"), bob, nonce=1,
                              contributor=alice.public_key.to_checksum_address())
    duplicate = api.signed(sample_conversation("a"), bob, nonce=2)
    also_good = api.signed(sample_conversation("c"), bob, nonce=3)
    response = api.client.post("/v1/contributions:batch",
                               json={"items": [good, wrong_signer, duplicate, also_good, {"nope": 1}]})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 403, 409, 201, 422]
    assert results[1]["problem"]["type"] == "/problems/signer-mismatch"
    assert results[2]["problem"]["existing"] == results[0]["contribution"]["id"]
    assert results[4]["problem"]["type"] == "/problems/invalid-request"
    assert api.counts() == (2, 2, 4, 2)


def test_batch_limit(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.api.conftest import build_api

    small = build_api(db_url, tmp_path, max_batch=2)
    items = [small.signed(sample_conversation(str(i)), contributor_key(1), nonce=i) for i in range(3)]
    response = small.client.post("/v1/contributions:batch", json={"items": items})
    assert response.status_code == 413 and response.json()["type"] == "/problems/batch-too-large"
    assert small.counts() == (0, 0, 0, 0)


def test_config_terms_and_probes(api: Api) -> None:
    import hashlib

    config = api.config
    terms = api.client.get("/v1/terms")
    assert "0x" + hashlib.sha256(terms.content).hexdigest() == config["termsHash"]
    assert config["eip712"]["domain"] == {"name": "Tally", "version": "1", "chainId": 31337,
                                          "verifyingContract": config["contract"]}
    assert config["limits"]["maxBatch"] == 100
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "content": "ok"}
    assert api.client.get("/problems/signer-mismatch").json()["status"] == 403
    assert "/v1/contributions:batch" in api.client.get("/openapi.json").json()["paths"]


def test_erasure_needs_the_admin_key_and_shreds_a_private_contribution(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ledger.privacy import ContentErasedError, read_conversation
    from tests.api.conftest import build_api

    api = build_api(db_url, tmp_path)
    api.intake._master_key = bytes(range(32))  # privacy mode
    client = api.client_with(admin_api_key="s3cret")
    created = client.post("/v1/contributions", json=api.signed(sample_conversation("private"), contributor_key(1)))
    assert created.status_code == 201 and created.json()["encrypted"] is True
    cid = created.json()["cid"]
    assert b"Merkle" not in api.intake.store.get(cid)
    denied = client.post(f"/v1/contributions/{created.json()['id']}:erase", headers={"Authorization": "Bearer nope"})
    assert denied.status_code == 401 and denied.json()["type"] == "/problems/unauthorized"
    done = client.post(f"/v1/contributions/{created.json()['id']}:erase", headers={"Authorization": "Bearer s3cret"})
    assert done.status_code == 200 and done.json()["erased"]
    after = client.get(f"/v1/contributions/{created.json()['id']}").json()
    assert after["erased"] and after["points"] == created.json()["points"] and after["cid"] == cid
    from ledger.models import Contribution

    with api.intake.sessions() as session:
        row = session.get(Contribution, after["id"])
    with pytest.raises(ContentErasedError):
        read_conversation(api.intake.store, row, bytes(range(32)))


def test_readiness_fails_when_the_blockstore_cannot_be_written(api: Api) -> None:
    import shutil

    assert api.client.get("/readyz").status_code == 200
    shutil.rmtree(api.blocks)
    api.blocks.write_text("a file where the block folder should be")  # fails for root too
    broken = api.client.get("/readyz")
    assert broken.status_code == 503
    assert broken.json()["checks"] == {"database": "ok", "content": broken.json()["checks"]["content"]}
    assert broken.json()["checks"]["content"].startswith("error")


def test_the_score_is_the_scorers_breakdown_and_the_config_names_the_scorer(api: Api) -> None:
    """What the API answers is what the manifest leaf will publish: {version, points, features},
    the points recomputing from the features; GET /v1/config names the scorer and its rules hash."""
    from ledger.conversation import normalise
    from ledger.scoring import SCORER_VERSION, points_from_features, rules_hash, score

    conversation = sample_conversation("scored")
    body = api.client.post("/v1/contributions", json=api.signed(conversation, contributor_key(3))).json()
    assert body["score"] == score(normalise(conversation)).as_dict()
    assert points_from_features(body["score"]["version"], body["score"]["features"]) == int(body["points"])
    assert api.client.get(f"/v1/contributions/{body['id']}").json()["score"] == body["score"]
    assert api.config["scorer"] == {"version": SCORER_VERSION, "rulesHash": rules_hash(SCORER_VERSION)}


def test_a_contribution_scored_by_v1_keeps_its_version_and_points_and_shows_its_features(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recorded as intake did before quality-v2 (with the v1 scorer): served with v1's version,
    its points, and the v1 features recovered from what v1 stored, which give those points."""
    from ledger import intake
    from ledger.conversation import normalise
    from ledger.scoring import points_from_features, v1

    conversation = sample_conversation("scored by v1")
    monkeypatch.setattr(intake, "score", v1.score)
    body = api.client.post("/v1/contributions", json=api.signed(conversation, contributor_key(4))).json()
    monkeypatch.undo()
    served = api.client.get(f"/v1/contributions/{body['id']}").json()
    assert served["score"]["version"] == "quality-v1" and int(served["points"]) == v1.score(
        normalise(conversation)).points
    assert served["score"]["features"] == v1.features(normalise(conversation))
    assert points_from_features("quality-v1", served["score"]["features"]) == int(served["points"])
