"""Properties of the RFC 9162 log: every proof verifies, every single-bit change is caught.

Proof generation is cross-checked against the literal RFC recursion of ``rfc_reference.py``.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import errors, log
from ledger.merkle.memory import MemoryLog
from tests.merkle import rfc_reference as ref

MAX = 260  # past 256, so sizes cross a few powers of two
RNG = random.Random(9162)
LEAVES = [RNG.randbytes(32) for _ in range(MAX)]
TREE = MemoryLog(LEAVES)
ROOTS = [TREE.root(n) for n in range(MAX + 1)]
SETTINGS = settings(max_examples=25, deadline=None, database=None)


def test_roots_match_the_rfc_recursion() -> None:
    for n in range(MAX + 1):
        assert ROOTS[n] == ref.mth(LEAVES[:n])
    assert log.root(LEAVES) == ROOTS[MAX]


def test_every_inclusion_proof_verifies() -> None:
    for n in range(1, MAX + 1):
        for i in range(n):
            log.verify_inclusion(LEAVES[i], i, n, TREE.inclusion_proof(i, n), ROOTS[n])


def test_every_consistency_proof_verifies() -> None:
    for n in range(MAX + 1):
        for m in range(n + 1):
            log.verify_consistency(m, n, ROOTS[m], ROOTS[n], TREE.consistency_proof(m, n))


def test_small_trees_match_the_rfc_recursion_everywhere() -> None:
    for n in range(1, 34):
        leaves = LEAVES[:n]
        for i in range(n):
            want = ref.path(i, leaves)
            assert log.inclusion_proof(LEAVES, i, n) == want
            assert TREE.inclusion_proof(i, n) == want
        for m in range(1, n + 1):
            want = ref.proof(m, leaves)
            assert log.consistency_proof(LEAVES, m, n) == want
            assert TREE.consistency_proof(m, n) == want


@SETTINGS
@given(st.data())
def test_proofs_match_the_rfc_recursion(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 700))
    leaves = [RNG.randbytes(32) for _ in range(n)]
    tree = MemoryLog(leaves)
    i = data.draw(st.integers(0, n - 1))
    m = data.draw(st.integers(1, n))
    assert tree.inclusion_proof(i) == ref.path(i, leaves) == log.inclusion_proof(leaves, i, n)
    assert tree.consistency_proof(m) == ref.proof(m, leaves) == log.consistency_proof(leaves, m, n)
    assert tree.root() == ref.mth(leaves) == log.root(leaves)


def _flips(h: bytes) -> list[bytes]:
    out = []
    for bit in range(8 * len(h)):
        b = bytearray(h)
        b[bit // 8] ^= 1 << (bit % 8)
        out.append(bytes(b))
    return out


@SETTINGS
@given(st.data())
def test_every_bit_flip_breaks_an_inclusion_proof(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, MAX))
    i = data.draw(st.integers(0, n - 1))
    proof = TREE.inclusion_proof(i, n)
    for j in range(len(proof)):
        for flipped in _flips(proof[j]):
            with pytest.raises(errors.InclusionRootMismatchError):
                log.verify_inclusion(LEAVES[i], i, n, [*proof[:j], flipped, *proof[j + 1 :]], ROOTS[n])
    for flipped in _flips(ROOTS[n]):
        with pytest.raises(errors.InclusionRootMismatchError):
            log.verify_inclusion(LEAVES[i], i, n, proof, flipped)
    for flipped in _flips(LEAVES[i]):
        with pytest.raises(errors.InclusionRootMismatchError):
            log.verify_inclusion(flipped, i, n, proof, ROOTS[n])


@SETTINGS
@given(st.data())
def test_every_bit_flip_breaks_a_consistency_proof(data: st.DataObject) -> None:
    n = data.draw(st.integers(2, MAX))
    m = data.draw(st.integers(1, n - 1))
    proof = TREE.consistency_proof(m, n)
    for j in range(len(proof)):
        for flipped in _flips(proof[j]):
            with pytest.raises(errors.ConsistencyProofError) as raised:
                log.verify_consistency(m, n, ROOTS[m], ROOTS[n], [*proof[:j], flipped, *proof[j + 1 :]])
            assert isinstance(raised.value, errors.RootMismatchError)
    for flipped in _flips(ROOTS[m]):
        with pytest.raises((errors.FirstRootMismatchError, errors.SecondRootMismatchError)):
            log.verify_consistency(m, n, flipped, ROOTS[n], proof)
    for flipped in _flips(ROOTS[n]):
        with pytest.raises(errors.SecondRootMismatchError):
            log.verify_consistency(m, n, ROOTS[m], flipped, proof)


@SETTINGS
@given(st.lists(st.integers(0, 300), max_size=8))
def test_appending_in_batches_gives_the_same_tree(batches: list[int]) -> None:
    tree, leaves = MemoryLog(), []
    for k in batches:
        batch = [RNG.randbytes(32) for _ in range(k)]
        leaves += batch
        assert tree.append(batch) == log.root(leaves)
    assert tree.size() == len(leaves)
    for m in range(0, len(leaves) + 1, 97):
        assert tree.root(m) == log.root(leaves[:m])


def test_proofs_for_impossible_trees_are_refused() -> None:
    for call in (
        lambda: log.inclusion_proof(LEAVES, 5, 5),
        lambda: log.inclusion_proof(LEAVES, 0, MAX + 1),
        lambda: log.consistency_proof(LEAVES, 6, 5),
        lambda: TREE.inclusion_proof(-1, 5),
        lambda: TREE.consistency_proof(3, MAX + 1),
        lambda: TREE.root(MAX + 1),
        lambda: log.root([b"short"]),
        lambda: MemoryLog([b"short"]),
    ):
        with pytest.raises(ValueError):
            call()
