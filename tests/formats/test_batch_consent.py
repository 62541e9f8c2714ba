"""ContributionBatch consent (ledger.batch_consent) against its vectors (golden/batch-consent.json)
and the batch-consented golden bundle: every root, proof, digest and signature recomputed, eth-account
agreeing on the digest, and each adversarial case refused with its named error."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys.datatypes import PrivateKey

from anchoring.verify import VerificationError, Verifier, check_batch_consent, verify_contribution
from api.views import eip712_json
from ledger import eip712
from ledger.batch_consent import (
    BatchConsentError,
    BatchMessage,
    BatchProofMismatchError,
    BatchSignerMismatchError,
    contents_root,
    item_proofs,
    verify_item,
)
from ledger.conversation import canonical_bytes
from ledger.formats import ContributionBundle, InvalidBundleError
from tests.formats.test_golden import GOLDEN, NOWHERE

VECTORS = json.loads((GOLDEN / "batch-consent.json").read_text())
DOMAIN = eip712.Domain(VECTORS["domain"]["chainId"], VECTORS["domain"]["verifyingContract"])
ERRORS: dict[str, type[BatchConsentError]] = {"batch-proof-mismatch": BatchProofMismatchError,
                                              "batch-signer-mismatch": BatchSignerMismatchError}
BUNDLE = json.loads((GOLDEN / "contribution-bundle-batch.json").read_text())


def message_of(m: dict[str, Any]) -> BatchMessage:
    return BatchMessage(m["contributor"], bytes.fromhex(m["contentsRoot"][2:]), m["count"],
                        bytes.fromhex(m["termsHash"][2:]), int(m["nonce"]), m["issuedAt"])


def raw(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h[2:]) for h in hexes]


@pytest.mark.parametrize("vector", VECTORS["batches"], ids=lambda v: v["name"])
def test_each_batch_recomputes_and_every_item_s_consent_verifies(vector: dict[str, Any]) -> None:
    hashes = [hashlib.sha256(canonical_bytes(c)).digest() for c in vector["conversations"]]
    assert ["0x" + h.hex() for h in hashes] == vector["contentHashes"]
    root, proofs = item_proofs(hashes)
    assert "0x" + root.hex() == vector["contentsRoot"] and [["0x" + p.hex() for p in proof] for proof in proofs] \
        == vector["proofs"]
    message = message_of(vector["message"])
    assert message.count == len(hashes) and message.contents_root == root
    digest = message.digest(DOMAIN)
    assert "0x" + digest.hex() == vector["digest"]
    # eth-account computes the same digest from the types /v1/config publishes.
    batch_types = eip712_json(DOMAIN)["batch"]
    typed = {"domain": DOMAIN.as_json(), "types": batch_types["types"], "primaryType": batch_types["primaryType"],
             "message": {**vector["message"], "nonce": int(vector["message"]["nonce"])}}
    signer = Account.recover_message(encode_typed_data(full_message=typed),
                                     signature=bytes.fromhex(vector["signature"][2:]))
    assert signer == vector["message"]["contributor"] == Account.from_key(vector["signer"].to_bytes(32, "big")).address
    for content_hash, proof in zip(hashes, vector["proofs"], strict=True):
        verify_item(DOMAIN, message, content_hash, raw(proof), bytes.fromhex(vector["signature"][2:]))


def test_the_order_of_the_items_does_not_change_the_root() -> None:
    reordered = VECTORS["reordered"]
    original = next(b for b in VECTORS["batches"] if b["name"] == reordered["of"])
    assert reordered["contentHashes"] == original["contentHashes"][::-1]
    assert reordered["contentsRoot"] == original["contentsRoot"]
    assert contents_root(raw(reordered["contentHashes"])) == contents_root(raw(original["contentHashes"]))


@pytest.mark.parametrize("case", VECTORS["adversarial"], ids=lambda c: c["name"])
def test_each_adversarial_item_is_refused_with_its_named_error(case: dict[str, Any]) -> None:
    with pytest.raises(ERRORS[case["error"]]) as refused:
        verify_item(DOMAIN, message_of(case["message"]), bytes.fromhex(case["contentHash"][2:]), raw(case["proof"]),
                    bytes.fromhex(case["signature"][2:]))
    assert refused.value.code == case["error"]


def test_the_batch_consented_bundle_reads_back_and_its_consent_checks() -> None:
    typed = ContributionBundle.from_json(BUNDLE)
    assert typed.consent is not None and typed.to_json() == BUNDLE
    verifier = Verifier()
    check_batch_consent(verifier, typed)
    assert [check.name for check in verifier.passed] == ["consent"]
    # The same leaf's bundle without a consent is the golden single-consent one.
    single = json.loads((GOLDEN / "contribution-bundle.json").read_text())
    assert {k: v for k, v in BUNDLE.items() if k != "consent"} == single


def _broken(change: Any) -> dict[str, Any]:
    bundle = copy.deepcopy(BUNDLE)
    change(bundle["consent"])
    return bundle


def _flip(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


BUNDLE_CASES = [
    ("a sibling of the item's proof changed", lambda c: c["proof"].__setitem__(0, _flip(c["proof"][0])),
     "batch-proof-mismatch"),
    ("the count changed", lambda c: c["message"].__setitem__("count", 5), "batch-signer-mismatch"),
    ("the contentsRoot changed",
     lambda c: c["message"].__setitem__("contentsRoot", _flip(c["message"]["contentsRoot"])), "batch-proof-mismatch"),
    ("another contributor's signature", lambda c: c.__setitem__("signature", "0x" + eip712.sign(
        message_of(c["message"]).digest(DOMAIN), PrivateKey((3).to_bytes(32, "big"))).hex()),
     "batch-signer-mismatch"),
    ("the nonce changed", lambda c: c["message"].__setitem__("nonce", "78"), "batch-signer-mismatch"),
]


@pytest.mark.parametrize(("name", "change", "reason"), BUNDLE_CASES, ids=[c[0] for c in BUNDLE_CASES])
def test_tally_verify_refuses_a_bundle_whose_batch_consent_does_not_cover_it(name: str, change: Any,
                                                                           reason: str) -> None:
    with pytest.raises(VerificationError) as refused:
        verify_contribution(_broken(change), NOWHERE)
    assert refused.value.check == "consent" and refused.value.extensions["reason"] == reason
    assert isinstance(refused.value.__cause__, ERRORS[reason])
    assert [check.name for check in refused.value.passed] == ["format", "leaf"]


MALFORMED = [
    ("consent.primaryType", lambda c: c.__setitem__("primaryType", "Contribution")),
    ("consent.message.contentsRoot", lambda c: c["message"].__setitem__("contentsRoot", "0x12")),
    ("consent.message.count", lambda c: c["message"].__setitem__("count", "4")),
    ("consent.message.nonce", lambda c: c["message"].__setitem__("nonce", 77)),
    ("consent.message.contributor", lambda c: c["message"].__setitem__(
        "contributor", "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf")),
    ("consent.signature", lambda c: c.__setitem__("signature", "0x1234")),
    ("consent.proof[0]", lambda c: c["proof"].__setitem__(0, "nope")),
]


@pytest.mark.parametrize(("field", "change"), MALFORMED, ids=[c[0] for c in MALFORMED])
def test_a_malformed_batch_consent_is_an_invalid_bundle_naming_the_field(field: str, change: Any) -> None:
    with pytest.raises(InvalidBundleError, match=field.replace("[", r"\[").replace("]", r"\]")):
        ContributionBundle.from_json(_broken(change))
