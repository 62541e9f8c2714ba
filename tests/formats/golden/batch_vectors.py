"""Write the ContributionBatch test vectors (``batch-consent.json``) and a batch-consented proof
bundle (``contribution-bundle-batch.json``), from ``ledger.batch_consent`` and ``ledger.formats``.

The vectors: batches of 1 to 100 canonical conversations with their contentHashes, the
contentsRoot, every item's proof, the signed ContributionBatch message, its EIP-712 digest and
the signature (deterministic, RFC 6979); the same batch in another order (the same root:
OpenZeppelin sorts the leaves); and adversarial items, each with the named error that refuses it.
The signers are the well-known test keys 1, 2, 3 (``signer`` is the key as an integer).

The bundle: the golden ``contribution-bundle.json`` with the ContributionBatch consent that
covers its leaf, signed by its contributor (key 2) over a batch of four.

    .venv/bin/python tests/formats/golden/batch_vectors.py
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from eth_keys import keys

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent.parent))

from ledger import eip712  # noqa: E402
from ledger.batch_consent import BatchMessage, item_proofs  # noqa: E402
from ledger.conversation import canonical_bytes, normalise  # noqa: E402
from ledger.encoding import hex0x  # noqa: E402
from ledger.formats import BatchConsentProof, ContributionBundle  # noqa: E402
from tally.wiring import default_terms  # noqa: E402

VECTORS, BUNDLE = "batch-consent.json", "contribution-bundle-batch.json"
CHAIN_ID, CONTRACT = 31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3"
DOMAIN = eip712.Domain(CHAIN_ID, CONTRACT)
TERMS_HASH = hashlib.sha256(default_terms()).digest()
ISSUED_AT = 1_790_000_000
SIZES = (1, 2, 3, 7, 100)


def key(n: int) -> keys.PrivateKey:
    return keys.PrivateKey(n.to_bytes(32, "big"))


def canonical(n: int) -> dict[str, Any]:
    return normalise({"messages": [
        {"role": "user", "content": f"Item {n}: what does one signature over a Merkle root consent to?"},
        {"role": "assistant", "content": f"To every leaf under the root, item {n} among them, and to nothing else."},
    ]}).to_canonical()


def content_hash(conversation: object) -> bytes:
    return hashlib.sha256(canonical_bytes(conversation)).digest()


def batch(name: str, conversations: list[Any], signer: int, nonce: int) -> dict[str, Any]:
    hashes = [content_hash(c) for c in conversations]
    root, proofs = item_proofs(hashes)
    contributor = key(signer).public_key.to_checksum_address()
    message = BatchMessage(contributor, root, len(hashes), TERMS_HASH, nonce, ISSUED_AT)
    digest = message.digest(DOMAIN)
    return {"name": name, "signer": signer, "conversations": conversations,
            "contentHashes": [hex0x(h) for h in hashes], "contentsRoot": hex0x(root),
            "proofs": [[hex0x(p) for p in proof] for proof in proofs], "message": message.to_json(),
            "digest": hex0x(digest), "signature": hex0x(eip712.sign(digest, key(signer)))}


def flip(hex_text: str) -> str:
    """The same hash with its last byte changed."""
    return hex_text[:-2] + f"{int(hex_text[-2:], 16) ^ 1:02x}"


def adversarial(seven: dict[str, Any]) -> list[dict[str, Any]]:
    """Item 3 of the batch of seven, broken one way at a time."""
    item = {"batch": seven["name"], "contentHash": seven["contentHashes"][3], "proof": seven["proofs"][3],
            "message": seven["message"], "signature": seven["signature"]}

    def signed_by(n: int, message: dict[str, Any]) -> str:
        m = BatchMessage(message["contributor"], bytes.fromhex(message["contentsRoot"][2:]), message["count"],
                         bytes.fromhex(message["termsHash"][2:]), int(message["nonce"]), message["issuedAt"])
        return hex0x(eip712.sign(m.digest(DOMAIN), key(n)))

    other = key(3).public_key.to_checksum_address()
    cases = [
        ("wrong proof: a sibling with one bit flipped", {"proof": [flip(item["proof"][0]), *item["proof"][1:]]},
         "batch-proof-mismatch"),
        ("the proof of another item of the batch (the items' proofs swapped)", {"proof": seven["proofs"][4]},
         "batch-proof-mismatch"),
        ("a proof cut short", {"proof": item["proof"][:-1]}, "batch-proof-mismatch"),
        ("a proof longer than a batch of its count has", {"proof": [*item["proof"], item["proof"][0]]},
         "batch-proof-mismatch"),
        ("a contentHash that is not in the batch", {"contentHash": content_hash(canonical(999)).hex()},
         "batch-proof-mismatch"),
        ("a count too small for the proof (2 leaves have 1-hash proofs)", {"message": {**item["message"], "count": 2}},
         "batch-proof-mismatch"),
        ("wrong count: 8 where 7 were signed", {"message": {**item["message"], "count": 8}}, "batch-signer-mismatch"),
        ("wrong count: 6 where 7 were signed", {"message": {**item["message"], "count": 6}}, "batch-signer-mismatch"),
        ("another contributor's signature over the same message", {"signature": signed_by(3, item["message"])},
         "batch-signer-mismatch"),
        ("the message claimed for another contributor", {"message": {**item["message"], "contributor": other}},
         "batch-signer-mismatch"),
        ("another nonce", {"message": {**item["message"], "nonce": str(int(item["message"]["nonce"]) + 1)}},
         "batch-signer-mismatch"),
        ("other terms", {"message": {**item["message"], "termsHash": flip(item["message"]["termsHash"])}},
         "batch-signer-mismatch"),
        ("another root that the proof does not reach", {"message": {**item["message"],
                                                                     "contentsRoot": flip(seven["contentsRoot"])}},
         "batch-proof-mismatch"),
    ]
    out = []
    for name, change, error in cases:
        case = copy.deepcopy({**item, **change})
        if not case["contentHash"].startswith("0x"):
            case["contentHash"] = "0x" + case["contentHash"]
        out.append({"name": name, **case, "error": error})
    return out


def vectors() -> dict[str, Any]:
    batches = [batch(f"batch of {n}", [canonical(i) for i in range(n)], 2, 1000 + n) for n in SIZES]
    seven = next(b for b in batches if b["name"] == "batch of 7")
    reordered = batch("batch of 7, reversed", seven["conversations"][::-1], 2, 1007)
    return {
        "about": "ContributionBatch consent (docs/formats.md, 'Batch consent'); written by "
                 "tests/formats/golden/batch_vectors.py",
        "domain": DOMAIN.as_json(),
        "termsHash": hex0x(TERMS_HASH),
        "batches": batches,
        "reordered": {"of": seven["name"], **reordered},
        "adversarial": adversarial(seven),
    }


def batch_bundle() -> dict[str, Any]:
    bundle = ContributionBundle.from_json(json.loads((HERE / "contribution-bundle.json").read_text()))
    leaf = bundle.leaf.log_leaf
    hashes = [content_hash(canonical(500)), leaf.content_hash, content_hash(canonical(501)),
              content_hash(canonical(502))]
    root, proofs = item_proofs(hashes)
    signer = key(2)
    assert signer.public_key.to_checksum_address() == leaf.contributor
    message = BatchMessage(leaf.contributor, root, len(hashes), TERMS_HASH, 77, ISSUED_AT)
    domain = eip712.Domain(bundle.envelope.chain_id, bundle.envelope.contract)
    consent = BatchConsentProof(root, len(hashes), TERMS_HASH, 77, ISSUED_AT,
                                eip712.sign(message.digest(domain), signer), proofs[1])
    return ContributionBundle.of(bundle.envelope, bundle.leaf, bundle.proof, consent).to_json()


def main() -> None:
    for name, document in ((VECTORS, vectors()), (BUNDLE, batch_bundle())):
        (HERE / name).write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
