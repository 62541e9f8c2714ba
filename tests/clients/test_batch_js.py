"""The JS client's ContributionBatch (signBatch, contentsRoot, batchItemProof, checkBatchConsent)
against the Python reference's vectors (tests/formats/golden/batch-consent.json) and against
@openzeppelin/merkle-tree, which it writes out rather than bundles."""

from __future__ import annotations

import json
import secrets

import pytest

from api.views import eip712_json
from ledger import eip712
from ledger.batch_consent import contents_root
from tests.clients.conftest import run_node
from tests.formats.test_golden import GOLDEN

pytestmark = pytest.mark.node

VECTORS = json.loads((GOLDEN / "batch-consent.json").read_text())


def test_the_js_batch_consent_is_the_reference_s_and_the_library_s() -> None:
    domain = eip712.Domain(VECTORS["domain"]["chainId"], VECTORS["domain"]["verifyingContract"])
    config = {"termsHash": VECTORS["termsHash"], "limits": {"maxBatch": 100}, "eip712": eip712_json(domain)}
    # Random batches of every size to 40, and some with a repeated hash (the library keeps both).
    random = [["0x" + secrets.token_hex(32) for _ in range(n)] for n in range(1, 41)]
    random += [[h, h, *batch] for batch in random[:3] for h in batch[:1]]
    answer = run_node("batch_probe.mjs", {"vectors": VECTORS, "config": config, "random": random})
    assert answer["failures"] == []
    assert answer["items"] == sum(len(b["contentHashes"]) for b in [*VECTORS["batches"], VECTORS["reordered"]])
    assert answer["refused"] == [{"name": c["name"], "error": c["error"]} for c in VECTORS["adversarial"]]
    assert answer["roots"] == ["0x" + contents_root([bytes.fromhex(h[2:]) for h in batch]).hex() for batch in random]
