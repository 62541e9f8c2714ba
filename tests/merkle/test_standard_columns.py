"""The balances tree from columns (``of_balances``) and proofs as bytes, against ``of`` and against
trees that ``@openzeppelin/merkle-tree`` built (testdata/standard_balances.json, written by
tests/merkle/js/make_standard_vectors.js), plus the inputs they must refuse."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from ledger.merkle import _abi
from ledger.merkle.standard import StandardMerkleTree

ENC = ["address", "uint256"]
VECTORS = json.loads((Path(__file__).resolve().parent / "testdata" / "standard_balances.json").read_text())["cases"]


def _columns(values: list[list[Any]]) -> tuple[bytes, list[int]]:
    return b"".join(bytes.fromhex(a[2:]) for a, _ in values), [int(b) for _, b in values]


def _words(amounts: list[int]) -> bytes:
    return b"".join(a.to_bytes(32, "big") for a in amounts)


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_the_library_s_own_trees_come_out_of_both_constructors(case: dict[str, Any]) -> None:
    sort = case["sortLeaves"]
    accounts, amounts = _columns(case["values"])
    for tree in (
        StandardMerkleTree.of(case["values"], ENC, sort_leaves=sort),
        StandardMerkleTree.of_balances(accounts, amounts, sort_leaves=sort),
        StandardMerkleTree.of_balances(accounts, _words(amounts), sort_leaves=sort),
        StandardMerkleTree.load(case["dump"]),
    ):
        assert tree.root == case["root"]
        assert tree.dump()["tree"] == case["dump"]["tree"]
        assert [v["treeIndex"] for v in tree.dump()["values"]] == [v["treeIndex"] for v in case["dump"]["values"]]
        assert [tree.get_proof(i) for i in range(len(tree))] == case["proofs"]
        every = dict(tree.iter_proof_bytes())
        for i, proof in enumerate(case["proofs"]):
            joined = b"".join(bytes.fromhex(p[2:]) for p in proof)
            assert tree.proof_bytes(i) == every[i] == joined
            assert StandardMerkleTree.verify(case["root"], ENC, case["values"][i], joined)


def _random_values(rng: random.Random, n: int) -> list[list[Any]]:
    values: list[list[Any]] = [["0x" + rng.randbytes(20).hex(), rng.choice([0, 1, rng.getrandbits(96), 2**256 - 1])]
                               for _ in range(n)]
    if n > 4:
        values[n // 2] = list(values[1])  # a duplicate leaf
        values[n // 3][0] = values[2][0]  # an account twice, with another amount
    return values


@pytest.mark.parametrize("sort", [True, False])
def test_columns_give_the_tree_of_pairs_for_every_size_and_every_proof(sort: bool) -> None:
    rng = random.Random(3)
    for n in [*range(1, 70), 127, 128, 129, 1000, 1025]:
        values = _random_values(rng, n)
        pairs = StandardMerkleTree.of(values, ENC, sort_leaves=sort)
        accounts, amounts = _columns(values)
        tree = StandardMerkleTree.of_balances(accounts, amounts, sort_leaves=sort)
        assert tree.root == pairs.root and len(tree) == n
        assert tree.dump()["tree"] == pairs.dump()["tree"]
        assert [v["value"] for v in tree.dump()["values"]] == [[a.lower(), str(b)] for a, b in values]
        hexes = dict(pairs.iter_proofs())
        assert dict(tree.iter_proofs()) == hexes
        assert [i for i, _ in tree.iter_proof_bytes()] == [i for i, _ in pairs.iter_proof_bytes()]
        for i, proof in tree.iter_proof_bytes():
            assert proof == b"".join(bytes.fromhex(p[2:]) for p in hexes[i]) == pairs.proof_bytes(i)
        i = rng.randrange(n)
        assert tree.at(i) == (values[i][0].lower(), values[i][1])
        assert tree.get_proof(values[i]) == pairs.get_proof(values[i])


def test_a_byte_proof_verifies_only_whole_and_unchanged() -> None:
    values = _random_values(random.Random(4), 50)
    tree = StandardMerkleTree.of_balances(*_columns(values))
    proof = tree.proof_bytes(7)
    assert StandardMerkleTree.verify(tree.root, ENC, values[7], proof)
    assert StandardMerkleTree.verify(tree.root, ENC, values[7], bytearray(proof))
    flipped = bytes([proof[0] ^ 1]) + proof[1:]
    for bad in (flipped, proof[:-32], proof[32:], proof + proof[:32]):
        assert not StandardMerkleTree.verify(tree.root, ENC, values[7], bad)
    assert not StandardMerkleTree.verify(tree.root, ENC, values[8], proof)
    with pytest.raises(ValueError):
        StandardMerkleTree.verify(tree.root, ENC, values[7], proof[:-1])


A = bytes(range(20))


@pytest.mark.parametrize(
    ("accounts", "amounts", "error"),
    [
        pytest.param(b"", [], ValueError, id="no accounts"),
        pytest.param(A[:19], [1], _abi.AbiError, id="an address of 19 bytes"),
        pytest.param(A + A[:1], [1, 2], _abi.AbiError, id="accounts not a multiple of 20 bytes"),
        pytest.param(A * 2, [1], _abi.AbiError, id="more accounts than amounts"),
        pytest.param(A, [1, 2], _abi.AbiError, id="more amounts than accounts"),
        pytest.param(A, [-1], _abi.AbiError, id="a negative amount"),
        pytest.param(A, [2**256], _abi.AbiError, id="an amount of 2**256"),
        pytest.param(A, [True], _abi.AbiError, id="a bool amount"),
        pytest.param(A, [1.0], _abi.AbiError, id="a float amount"),
        pytest.param(A, [None], _abi.AbiError, id="no amount"),
        pytest.param(A, bytes(31), _abi.AbiError, id="amount words of 31 bytes"),
        pytest.param(A, bytes(33), _abi.AbiError, id="amount words of 33 bytes"),
    ],
)
def test_columns_that_do_not_make_a_balances_tree_are_refused(accounts: bytes, amounts: Any, error: type) -> None:
    with pytest.raises(error):
        StandardMerkleTree.of_balances(accounts, amounts)


def test_a_decimal_string_amount_is_taken_as_the_general_encoder_takes_it() -> None:
    # The JS callers' form of a number; of() accepts it, and so do columns.
    assert (StandardMerkleTree.of_balances(A, ["12"]).root
            == StandardMerkleTree.of_balances(A, [12]).root
            == StandardMerkleTree.of([["0x" + A.hex(), "12"]], ENC).root)
