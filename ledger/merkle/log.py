"""The contribution log's Merkle tree: RFC 9162 §2.1 with SHA-256, as pure functions.

Hashing (RFC 9162 §2.1.1): ``leaf = SHA-256(0x00 || data)``,
``node = SHA-256(0x01 || left || right)``, the empty tree's root is ``SHA-256("")``, and a tree
of ``n > 1`` leaves splits at the largest power of two smaller than ``n``. Proofs are generated
as RFC 9162 §2.1.3.1 (inclusion) and §2.1.4.1 (consistency) define them, and verified with the
algorithms of §2.1.3.2 and §2.1.4.2, which raise a named
:class:`~ledger.merkle.errors.ProofError` instead of returning ``False``.

The functions here take the list of leaf hashes and recompute what they need (a proof over ``n``
leaves costs about ``n`` hashes). To serve many proofs use :class:`ledger.merkle.memory.MemoryLog`
or, for the ledger's log that lives in the database, :class:`ledger.merkle.stored.StoredLog`.

:func:`leaf_data` is the ledger's leaf encoding (DESIGN.md §4).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from . import _abi, _compact
from .errors import (
    ConsistencyHashSizeError,
    ConsistencyProofSizeError,
    FirstRootMismatchError,
    InclusionHashSizeError,
    InclusionProofSizeError,
    InclusionRootMismatchError,
    IndexOutOfRangeError,
    SecondRootMismatchError,
    TreeSizeError,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "LEAF_DATA_SIZE",
    "consistency_proof",
    "hash_children",
    "inclusion_proof",
    "leaf_data",
    "leaf_hash",
    "root",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
LEAF_DATA_SIZE = 160

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT = _sha256(b"").digest()
"""Root of the empty tree, ``SHA-256("")`` (RFC 9162 §2.1.1)."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one leaf (RFC 9162 §2.1.1)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the hash of an interior node (RFC 9162 §2.1.1)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _perfect_root(hashes: Sequence[bytes]) -> bytes:
    # Only called with a power-of-two count: then pairing level by level is the RFC recursion.
    level = list(hashes)
    while len(level) > 1:
        level = [_sha256(_NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
    return level[0]


def _node(leaf_hashes: Sequence[bytes], node: _compact.NodeID) -> bytes:
    level, index = node
    return _perfect_root(leaf_hashes[index << level : (index + 1) << level])


def _check_hashes(leaf_hashes: Sequence[bytes], size: int) -> None:
    if not 0 <= size <= len(leaf_hashes):
        raise ValueError(f"tree size {size} is outside 0..{len(leaf_hashes)}")
    for i in range(size):
        if len(leaf_hashes[i]) != HASH_SIZE:
            raise ValueError(f"leaf hash #{i} is {len(leaf_hashes[i])} bytes, expected {HASH_SIZE}")


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """``MTH(D[n])``: the root of the tree whose leaves have these hashes (RFC 9162 §2.1.1)."""
    size = len(leaf_hashes)
    _check_hashes(leaf_hashes, size)
    if size == 0:
        return EMPTY_ROOT
    nodes = [_node(leaf_hashes, n) for n in _compact.range_nodes(0, size)]
    return _compact.fold_range(nodes, hash_children)


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """``PATH(index, D[size])``: the inclusion proof of leaf ``index`` in the first ``size`` leaves.

    RFC 9162 §2.1.3.1. ``leaf_hashes`` may hold more than ``size`` leaves (a log that has grown);
    only the first ``size`` are used.
    """
    _check_hashes(leaf_hashes, size)
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    plan = _compact.inclusion_plan(index, size)
    return plan.rehash([_node(leaf_hashes, n) for n in plan.ids], hash_children)


def consistency_proof(leaf_hashes: Sequence[bytes], first: int, second: int) -> list[bytes]:
    """``PROOF(first, D[second])``: proves the first ``first`` leaves are a prefix of ``second``.

    RFC 9162 §2.1.4.1. The proof is empty when ``first == second`` or ``first == 0`` (every tree
    extends the empty one).
    """
    _check_hashes(leaf_hashes, second)
    if not 0 <= first <= second:
        raise ValueError(f"cannot prove consistency of size {first} with size {second}")
    plan = _compact.consistency_plan(first, second)
    return plan.rehash([_node(leaf_hashes, n) for n in plan.ids], hash_children)


# --- verification ---------------------------------------------------------------------------


def _inclusion_proof_size(index: int, size: int) -> int:
    # The path has one hash per level below the point where the paths to leaf #index and to the
    # last leaf diverge ("inner"), then one per left sibling above it ("border").
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def root_from_inclusion_proof(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` leads to from ``leaf_hash`` at ``index`` in a tree of ``size``.

    RFC 9162 §2.1.3.2 steps 1 to 4. Raises an :class:`~ledger.merkle.errors.InclusionProofError`
    if the inputs cannot form a proof (index out of range, wrong number or size of hashes).
    """
    if not 0 <= index < size:
        # Step 1: "If leaf_index is greater than or equal to tree_size, then fail".
        raise IndexOutOfRangeError(f"leaf index {index} is outside a tree of size {size}")
    if len(leaf_hash) != HASH_SIZE:
        raise InclusionHashSizeError(f"leaf hash is {len(leaf_hash)} bytes, expected {HASH_SIZE}")
    expected = _inclusion_proof_size(index, size)
    if len(proof) != expected:
        raise InclusionProofSizeError(
            f"inclusion proof of leaf {index} in a tree of size {size} has {len(proof)} hashes, expected {expected}",
            expected=expected,
            got=len(proof),
        )
    for i, p in enumerate(proof):
        if len(p) != HASH_SIZE:
            raise InclusionHashSizeError(f"proof element {i} is {len(p)} bytes, expected {HASH_SIZE}")

    # Steps 2 to 4, verbatim.
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            # Unreachable after the size check above; kept so the loop is the RFC's on its own.
            raise InclusionProofSizeError("inclusion proof is too long", expected=expected, got=len(proof))
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InclusionProofSizeError("inclusion proof is too short", expected=expected, got=len(proof))
    return r


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``proof`` puts ``leaf_hash`` at ``index`` in the tree of ``size`` with ``root``.

    RFC 9162 §2.1.3.2. Returns ``None`` on success; raises an
    :class:`~ledger.merkle.errors.InclusionProofError` subclass naming the failure otherwise:
    :class:`~ledger.merkle.errors.IndexOutOfRangeError`,
    :class:`~ledger.merkle.errors.InclusionProofSizeError`,
    :class:`~ledger.merkle.errors.InclusionHashSizeError` or
    :class:`~ledger.merkle.errors.InclusionRootMismatchError`.
    """
    if len(root) != HASH_SIZE:
        raise InclusionHashSizeError(f"root is {len(root)} bytes, expected {HASH_SIZE}")
    calculated = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if calculated != root:
        # Step 5: "Compare r against the root_hash".
        raise InclusionRootMismatchError(
            f"inclusion proof of leaf {index} in a tree of size {size} leads to root "
            f"{calculated.hex()}, expected {root.hex()}",
            expected=root,
            calculated=calculated,
        )


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree (``second``, ``second_root``) extends (``first``, ``first_root``).

    RFC 9162 §2.1.4.2 for ``0 < first < second``. For ``first == second`` the proof must be empty
    and the roots equal; for ``first == 0`` the proof must be empty and ``first_root`` the empty
    root (every tree extends the empty tree). Returns ``None`` on success; raises a
    :class:`~ledger.merkle.errors.ConsistencyProofError` subclass naming the failure otherwise:
    :class:`~ledger.merkle.errors.TreeSizeError`,
    :class:`~ledger.merkle.errors.ConsistencyProofSizeError`,
    :class:`~ledger.merkle.errors.ConsistencyHashSizeError`,
    :class:`~ledger.merkle.errors.FirstRootMismatchError` or
    :class:`~ledger.merkle.errors.SecondRootMismatchError`.
    """
    if first < 0 or second < 0:
        raise TreeSizeError(f"tree sizes must not be negative, got {first} and {second}")
    if first > second:
        raise TreeSizeError(f"first tree size {first} is larger than the second, {second}")
    for name, value in (("first root", first_root), ("second root", second_root)):
        if len(value) != HASH_SIZE:
            raise ConsistencyHashSizeError(f"{name} is {len(value)} bytes, expected {HASH_SIZE}")

    if first == second or first == 0:
        if proof:
            raise ConsistencyProofSizeError(
                f"consistency proof between sizes {first} and {second} must be empty, got {len(proof)} hashes",
                expected=0,
                got=len(proof),
            )
        if first == 0 and first_root != EMPTY_ROOT:
            raise FirstRootMismatchError(
                f"the root of the empty tree is {EMPTY_ROOT.hex()}, got {first_root.hex()}",
                expected=first_root,
                calculated=EMPTY_ROOT,
            )
        if first == second and first_root != second_root:
            raise SecondRootMismatchError(
                f"trees of the same size {first} have different roots {first_root.hex()} and {second_root.hex()}",
                expected=second_root,
                calculated=first_root,
            )
        return

    # The proof is the inclusion proof of the biggest perfect subtree ending at leaf #first,
    # preceded by that subtree's hash unless it is the whole first tree (first a power of two).
    level = (first & -first).bit_length() - 1
    seed_index = (first - 1) >> level
    expected = _inclusion_proof_size(seed_index, ((second - 1) >> level) + 1) + (seed_index != 0)
    if len(proof) != expected:
        # Step 1 ("If consistency_path is an empty array ... fail") is a case of this one.
        raise ConsistencyProofSizeError(
            f"consistency proof between sizes {first} and {second} has {len(proof)} hashes, expected {expected}",
            expected=expected,
            got=len(proof),
        )
    for i, p in enumerate(proof):
        if len(p) != HASH_SIZE:
            raise ConsistencyHashSizeError(f"proof element {i} is {len(p)} bytes, expected {HASH_SIZE}")

    # Steps 2 to 6, verbatim.
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ConsistencyProofSizeError("consistency proof is too long", expected=expected, got=len(proof))
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1

    # Step 7.
    if sn != 0:
        raise ConsistencyProofSizeError("consistency proof is too short", expected=expected, got=len(proof))
    if fr != first_root:
        raise FirstRootMismatchError(
            f"consistency proof leads to first root {fr.hex()}, expected {first_root.hex()}",
            expected=first_root,
            calculated=fr,
        )
    if sr != second_root:
        raise SecondRootMismatchError(
            f"consistency proof leads to second root {sr.hex()}, expected {second_root.hex()}",
            expected=second_root,
            calculated=sr,
        )


# --- the ledger's leaves --------------------------------------------------------------------


def leaf_data(index: int, contributor: str | bytes, content_hash: bytes | str, accepted_at: int, points: int) -> bytes:
    """The 160-byte leaf of DESIGN.md §4.

    ``abi.encode(uint64 index, address contributor, bytes32 contentHash, uint64 acceptedAt,
    uint128 points)``. ``contributor`` is a ``0x`` address (EIP-55 checksum checked when mixed
    case) or 20 bytes; ``content_hash`` is 32 bytes or ``0x`` + 64 hex digits.
    """
    return b"".join(
        (
            _abi.uint_word(index, 64),
            _abi.address_word(_abi.parse_address(contributor, strict=True)),
            _abi.bytes32_word(content_hash),
            _abi.uint_word(accepted_at, 64),
            _abi.uint_word(points, 128),
        )
    )
