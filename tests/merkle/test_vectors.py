"""RFC 9162 against vectors we did not compute: known answers, and a table of attacks on them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.merkle import errors, log
from ledger.merkle.memory import MemoryLog
from tests.merkle.testdata import generate

DATA = Path(__file__).resolve().parent / "testdata"
REFERENCE = json.loads((DATA / "rfc6962_reference.json").read_text())
LEAVES = [bytes.fromhex(x) for x in REFERENCE["leaf_inputs"]]
ROOTS = [bytes.fromhex(x) for x in REFERENCE["roots_by_size"]]


def _hashes(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


def _load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((DATA / name).read_text())["cases"]
    return cases


# --- known answers --------------------------------------------------------------------------


def test_empty_root_is_sha256_of_nothing() -> None:
    assert bytes.fromhex(REFERENCE["empty_root"]) == log.EMPTY_ROOT
    assert log.root([]) == log.EMPTY_ROOT
    assert MemoryLog().root() == log.EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_known_roots(size: int) -> None:
    hashes = [log.leaf_hash(d) for d in LEAVES[:size]]
    assert log.root(hashes) == ROOTS[size]
    assert MemoryLog(hashes).root() == ROOTS[size]
    assert MemoryLog([log.leaf_hash(d) for d in LEAVES]).root(size) == ROOTS[size]


def test_known_node_hashes() -> None:
    tree = MemoryLog(log.leaf_hash(d) for d in LEAVES)
    for level, hashes in enumerate(REFERENCE["node_hashes_by_level"]):
        for index, h in enumerate(hashes):
            assert tree.node(level, index).hex() == h


@pytest.mark.parametrize("vector", REFERENCE["inclusion_proofs"], ids=lambda v: f"{v['index']}-of-{v['size']}")
def test_known_inclusion_proofs_are_generated(vector: dict[str, Any]) -> None:
    hashes = [log.leaf_hash(d) for d in LEAVES]
    want = _hashes(vector["proof"])
    assert log.inclusion_proof(hashes, vector["index"], vector["size"]) == want
    assert MemoryLog(hashes).inclusion_proof(vector["index"], vector["size"]) == want


@pytest.mark.parametrize("vector", REFERENCE["consistency_proofs"], ids=lambda v: f"{v['first']}-to-{v['second']}")
def test_known_consistency_proofs_are_generated(vector: dict[str, Any]) -> None:
    hashes = [log.leaf_hash(d) for d in LEAVES]
    want = _hashes(vector["proof"])
    assert log.consistency_proof(hashes, vector["first"], vector["second"]) == want
    assert MemoryLog(hashes).consistency_proof(vector["first"], vector["second"]) == want


# --- the table ------------------------------------------------------------------------------


def _check(case: dict[str, Any], verify: Any) -> None:
    if not case["want"]:
        verify()
        return
    with pytest.raises(errors.ProofError) as raised:
        verify()
    for name in case["want"]:
        assert isinstance(raised.value, getattr(errors, name)), (name, raised.value)


@pytest.mark.parametrize("name", ["inclusion.json", "consistency.json"])
def test_vector_files_are_what_the_generator_writes(name: str) -> None:
    assert (DATA / name).read_text() == generate.render(generate.documents()[name])


def test_inclusion_table() -> None:
    cases = _load("inclusion.json")
    assert sum(not c["want"] for c in cases) >= 36 and sum(bool(c["want"]) for c in cases) >= 300
    for case in cases:

        def verify(c: dict[str, Any] = case) -> None:
            log.verify_inclusion(
                bytes.fromhex(c["leaf_hash"]),
                c["leaf_index"],
                c["tree_size"],
                _hashes(c["proof"]),
                bytes.fromhex(c["root"]),
            )

        _check(case, verify)
        if not case["want"]:
            assert (
                log.root_from_inclusion_proof(
                    bytes.fromhex(case["leaf_hash"]),
                    case["leaf_index"],
                    case["tree_size"],
                    _hashes(case["proof"]),
                ).hex()
                == case["root"]
            )


def test_consistency_table() -> None:
    cases = _load("consistency.json")
    assert sum(not c["want"] for c in cases) >= 40 and sum(bool(c["want"]) for c in cases) >= 300
    for case in cases:

        def verify(c: dict[str, Any] = case) -> None:
            log.verify_consistency(
                c["first"],
                c["second"],
                bytes.fromhex(c["first_root"]),
                bytes.fromhex(c["second_root"]),
                _hashes(c["proof"]),
            )

        _check(case, verify)


def test_errors_say_what_failed() -> None:
    hashes = [log.leaf_hash(d) for d in LEAVES]
    proof = log.inclusion_proof(hashes, 5, 8)
    with pytest.raises(errors.InclusionProofSizeError) as size_error:
        log.verify_inclusion(hashes[5], 5, 8, [*proof, proof[0]], ROOTS[8])
    assert (size_error.value.expected, size_error.value.got) == (3, 4)
    assert "expected 3" in str(size_error.value)
    with pytest.raises(errors.InclusionRootMismatchError) as mismatch:
        log.verify_inclusion(hashes[5], 5, 8, proof, ROOTS[7])
    assert mismatch.value.expected == ROOTS[7] and mismatch.value.calculated == ROOTS[8]
    assert isinstance(mismatch.value, ValueError)
