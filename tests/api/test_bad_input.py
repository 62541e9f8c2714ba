"""Every kind of bad submission gets its own problem type, and nothing is written."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.conftest import Api, contributor_key, sample_conversation

ALICE, BOB = contributor_key(1), contributor_key(2)
Request = Callable[[Api], Any]


def post(body: object, **kwargs: Any) -> Request:
    def send(api: Api) -> Any:
        payload = body(api) if callable(body) else body
        if isinstance(payload, bytes):
            return api.client.post("/v1/contributions", content=payload, **kwargs)
        return api.client.post("/v1/contributions", json=payload, **kwargs)
    return send


def signed(**overrides: Any) -> Callable[[Api], dict[str, Any]]:
    conversation = overrides.pop("conversation", sample_conversation("bad"))
    key = overrides.pop("key", ALICE)
    nonce = overrides.pop("nonce", 9)
    issued_at_delta = overrides.pop("issued_at_delta", 0)
    return lambda api: api.signed(conversation, key, nonce=nonce,
                                  issued_at=int(api.clock[0]) + issued_at_delta, **overrides)


CASES: list[tuple[str, int, str, Request]] = [
    ("wrong signer", 403, "signer-mismatch",
     post(signed(key=BOB, contributor=ALICE.public_key.to_checksum_address()))),
    ("replayed nonce", 409, "nonce-reused", post(signed(nonce=1))),
    ("stale issuedAt", 422, "stale-issued-at", post(signed(issued_at_delta=-601))),
    ("future issuedAt", 422, "future-issued-at", post(signed(issued_at_delta=601))),
    ("wrong termsHash", 422, "terms-mismatch", post(signed(termsHash="0x" + "11" * 32))),
    ("unknown role", 422, "unknown-role", post(lambda api: {
        **api.signed(sample_conversation(), ALICE, nonce=9),
        "conversation": {"messages": [{"role": "narrator", "content": "x"}]}})),
    ("no assistant message", 422, "incomplete-conversation", post(lambda api: {
        **api.signed(sample_conversation(), ALICE, nonce=9),
        "conversation": {"messages": [{"role": "user", "content": "anyone?"}]}})),
    ("unknown format", 422, "unknown-format", post(lambda api: {
        **api.signed(sample_conversation(), ALICE, nonce=9), "conversation": {"text": "hello"}})),
    ("body over the limit", 413, "body-too-large", post(lambda api: {
        **api.signed(sample_conversation(), ALICE, nonce=9),
        "conversation": {"messages": [{"role": "user", "content": "x" * 300_000}]}})),
    ("malformed JSON", 400, "malformed-json",
     post(b'{"contributor": "0x', headers={"content-type": "application/json"})),
    ("NaN is not JSON", 400, "malformed-json",
     post(b'{"nonce": NaN}', headers={"content-type": "application/json"})),
    ("wrong content type", 415, "unsupported-media-type",
     post(lambda api: json.dumps(api.signed(sample_conversation(), ALICE, nonce=9)).encode(),
          headers={"content-type": "text/plain"})),
    ("invalid address", 422, "invalid-address", post(signed(contributor="0x1234"))),
    ("bad address checksum", 422, "invalid-address",
     post(signed(contributor="0x5cB0154E96eB37dcF5B4ADc16c44763477FA06e9"))),
    ("missing field", 422, "invalid-request", post(lambda api: {
        k: v for k, v in api.signed(sample_conversation(), ALICE, nonce=9).items() if k != "nonce"})),
    ("nonce out of range", 422, "invalid-request", post(lambda api: {
        **api.signed(sample_conversation(), ALICE, nonce=9), "nonce": str(2**256)})),
    ("signature not hex", 422, "invalid-signature", post(signed(signature="0xzz"))),
    ("high-s signature", 422, "invalid-signature", post(lambda api: _high_s(api))),
    ("duplicate conversation", 409, "duplicate-contribution",
     post(signed(key=BOB, nonce=5, conversation=sample_conversation("first")))),
    ("body is not an object", 422, "invalid-request", post([1, 2, 3])),
]


def _high_s(api: Api) -> dict[str, Any]:
    body = api.signed(sample_conversation("hs"), ALICE, nonce=9)
    sig = bytes.fromhex(body["signature"][2:])
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = n - int.from_bytes(sig[32:64], "big")
    v = 55 - sig[64]  # the flipped s recovers with the other parity
    body["signature"] = "0x" + (sig[:32] + s.to_bytes(32, "big") + bytes([v])).hex()
    return body


@pytest.mark.parametrize(("name", "status", "slug", "request_"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_and_changes_nothing(
    api: Api, name: str, status: int, slug: str, request_: Request
) -> None:
    # A first, valid contribution so that replays and duplicates have something to collide with.
    first = api.client.post("/v1/contributions", json=api.signed(sample_conversation("first"), ALICE, nonce=1))
    assert first.status_code == 201
    before = api.counts()
    response = request_(api)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"/problems/{slug}"
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if slug == "duplicate-contribution":
        assert problem["existing"] == first.json()["id"]
    assert api.counts() == before
