"""The balances tree without node: ABI encoding against eth_abi, and the API's edge cases."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak as reference_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import errors, log
from ledger.merkle._abi import AbiError, encoder
from ledger.merkle.standard import StandardMerkleTree

ENC = ["address", "uint256"]
RNG = random.Random(5)
SETTINGS = settings(max_examples=60, deadline=None, database=None)


def _values(n: int) -> list[list[Any]]:
    return [["0x" + RNG.randbytes(20).hex(), RNG.getrandbits(100)] for _ in range(n)]


# --- ABI encoding ---------------------------------------------------------------------------

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())


@SETTINGS
@given(
    st.tuples(
        st.integers(0, 2**8 - 1),
        st.integers(-(2**255), 2**255 - 1),
        st.integers(-(2**31), 2**31 - 1),
        st.booleans(),
        st.binary(min_size=32, max_size=32),
        st.binary(min_size=3, max_size=3),
        addresses,
        st.integers(0, 2**256 - 1),
        st.text(max_size=40),
        st.binary(max_size=80),
    )
)
def test_encoding_matches_eth_abi(value: tuple[Any, ...]) -> None:
    types = [
        "uint8",
        "int256",
        "int32",
        "bool",
        "bytes32",
        "bytes3",
        "address",
        "uint",
        "string",
        "bytes",
    ]
    assert encoder(types)(value) == abi_encode(types, list(value))
    static = types[:8]
    assert encoder(static)(value[:8]) == abi_encode(static, list(value[:8]))


@SETTINGS
@given(st.lists(st.tuples(addresses, st.integers(0, 2**256 - 1)), min_size=1, max_size=40))
def test_balance_leaves_are_double_keccak_of_abi_encode(values: list[tuple[str, int]]) -> None:
    tree = StandardMerkleTree.of(values, ENC)
    for i, v in enumerate(values):
        want = reference_keccak(reference_keccak(abi_encode(ENC, list(v))))
        assert tree.leaf_hash(v) == "0x" + want.hex()
        assert StandardMerkleTree.verify(tree.root, ENC, v, tree.get_proof(i))


def test_the_fast_path_accepts_what_the_general_encoder_does() -> None:
    a = "0x" + RNG.randbytes(20).hex()
    forms: list[list[Any]] = [
        [a, 5],
        [a.upper().replace("0X", "0x"), "5"],  # checksum-like case, decimal string
        ["0X" + a[2:], "0x5"],  # upper-case prefix, hex string
        [bytes.fromhex(a[2:]), 5],  # bytes
        ["0x" + "00" * 19 + a[-2:], 5],  # the same address as ...
        ["0x" + a[-2:], 5],  # ... a short one, left-padded as abi-utils does
    ]
    one = StandardMerkleTree.of(forms[:4], ENC)
    assert len({one.leaf_hash(f) for f in forms[:4]}) == 1
    assert StandardMerkleTree.of(forms[4:], ENC).leaf_hash(forms[4]) == one.leaf_hash(forms[5])
    for bad in (
        [a, True],
        [a, -1],
        [a, 2**256],
        [a, "1.5"],
        [a[:-1] + "g", 1],
        ["0x" + " " * 40, 1],
        [a + "00", 1],
        [a, 1, 2],
        ["1x" + a[2:], 1],
    ):
        with pytest.raises(AbiError):
            StandardMerkleTree.of([[a, 1], bad], ENC)


def test_unsupported_types_are_refused() -> None:
    for types in (
        ["uint7"],
        ["uint264"],
        ["bytes33"],
        ["address[]"],
        ["(uint256,address)"],
        ["fixed"],
    ):
        with pytest.raises(AbiError):
            StandardMerkleTree.of([[1]], types)


# --- tree API -------------------------------------------------------------------------------


def test_proofs_by_index_by_value_and_all_at_once_agree() -> None:
    values = _values(1000)
    tree = StandardMerkleTree.of(values, ENC)
    assert len(tree) == 1000 and tree.at(3) is values[3]
    every = dict(tree.iter_proofs())
    for i in range(0, 1000, 7):
        proof = tree.get_proof(i)
        assert tree.get_proof(values[i]) == proof == every[i]
        assert StandardMerkleTree.verify(tree.root, ENC, values[i], proof)
        assert StandardMerkleTree.verify(bytes.fromhex(tree.root[2:]), ENC, values[i], proof)
        assert not StandardMerkleTree.verify(tree.root, ENC, [values[i][0], values[i][1] + 1], proof)
        assert not StandardMerkleTree.verify(tree.root, ENC, values[i], proof[:-1])
    with pytest.raises(errors.LeafNotFoundError):
        tree.get_proof(["0x" + "00" * 20, 1])
    with pytest.raises(IndexError):
        tree.get_proof(1000)
    with pytest.raises(ValueError):
        StandardMerkleTree.verify(tree.root, ENC, values[0], ["0x1234"])
    with pytest.raises(ValueError):
        StandardMerkleTree.of([], ENC)


def test_a_single_value_is_its_own_root() -> None:
    tree = StandardMerkleTree.of([["0x" + "11" * 20, 7]], ENC)
    assert tree.root == tree.leaf_hash(["0x" + "11" * 20, 7])
    assert tree.get_proof(0) == [] and list(tree.iter_proofs()) == [(0, [])]


def test_sorted_pairs_make_proofs_verify_like_openzeppelin_merkleproof() -> None:
    # MerkleProof.processProof: computed = hashPair(computed, proof[i]), pairs hashed sorted.
    values = _values(37)
    tree = StandardMerkleTree.of(values, ENC)
    for i, v in enumerate(values):
        computed = reference_keccak(reference_keccak(abi_encode(ENC, v)))
        for sibling in tree.get_proof(i):
            s = bytes.fromhex(sibling[2:])
            computed = reference_keccak(min(computed, s) + max(computed, s))
        assert "0x" + computed.hex() == tree.root


def test_dump_and_load_round_trip() -> None:
    values = _values(50)
    tree = StandardMerkleTree.of(values, ENC)
    dump = tree.dump()
    assert dump["format"] == "standard-v1" and dump["leafEncoding"] == ENC
    assert len(dump["tree"]) == 99 and dump["tree"][0] == tree.root
    assert [v["value"] for v in dump["values"]] == [[a, str(b)] for a, b in values]
    loaded = StandardMerkleTree.load(dump)
    assert loaded.root == tree.root and loaded.dump() == dump
    assert [loaded.get_proof(i) for i in range(50)] == [tree.get_proof(i) for i in range(50)]


def _tampered(dump: dict[str, Any], change: Any) -> dict[str, Any]:
    d = copy.deepcopy(dump)
    change(d)
    return d


def test_load_refuses_anything_that_does_not_add_up() -> None:
    dump = StandardMerkleTree.of(_values(9), ENC).dump()
    other_leaf = StandardMerkleTree.of(_values(1), ENC).root

    def set_(path: list[Any], value: Any) -> Any:
        def change(d: Any) -> None:
            for p in path[:-1]:
                d = d[p]
            d[path[-1]] = value

        return change

    bad = [
        set_(["format"], "standard-v2"),
        set_(["leafEncoding"], None),
        set_(["tree", 0], other_leaf),  # wrong root
        set_(["tree", 12], other_leaf),  # wrong leaf: its parent no longer matches
        set_(["tree", 3], "0x1234"),  # not 32 bytes
        set_(["values", 2, "value", 1], "1"),  # a changed balance
        set_(["values", 2, "treeIndex"], 0),  # not a leaf
        set_(["values", 2, "treeIndex"], dump["values"][3]["treeIndex"]),  # two values, one leaf
        lambda d: d["values"].pop(),  # a leaf without a published value
        lambda d: d["tree"].pop(),  # an even number of nodes
    ]
    for change in bad:
        with pytest.raises(errors.InvalidTreeError):
            StandardMerkleTree.load(_tampered(dump, change))


def test_unsorted_leaves_keep_input_order() -> None:
    values = _values(6)
    tree = StandardMerkleTree.of(values, ENC, sort_leaves=False)
    assert [v["treeIndex"] for v in tree.dump()["values"]] == [10, 9, 8, 7, 6, 5]
    assert StandardMerkleTree.load(tree.dump()).root == tree.root


def test_log_leaf_data_is_the_abi_encoding_of_design_section_4() -> None:
    contributor = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    content = RNG.randbytes(32)
    data = log.leaf_data(7, contributor, content, 1_700_000_000, 2**100)
    assert len(data) == log.LEAF_DATA_SIZE == 160
    assert data == abi_encode(
        ["uint64", "address", "bytes32", "uint64", "uint128"],
        [7, contributor, content, 1_700_000_000, 2**100],
    )
    assert log.leaf_data(7, contributor.lower(), "0x" + content.hex(), 1_700_000_000, 2**100) == data
    for args in (
        (2**64, contributor, content, 0, 0),
        (-1, contributor, content, 0, 0),
        (True, contributor, content, 0, 0),
        (0, contributor.replace("a", "A", 1), content, 0, 0),  # bad EIP-55 checksum
        (0, contributor[:-2], content, 0, 0),
        (0, contributor, content[:31], 0, 0),
        (0, contributor, content, 0, 2**128),
    ):
        with pytest.raises(ValueError):
            log.leaf_data(*args)
