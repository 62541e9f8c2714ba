"""A test oracle: RFC 9162 §2.1 written as literally as possible, recursion and all.

Independent of ``ledger.merkle`` (it imports nothing from it) and deliberately naive (``O(n log n)``
hashes per proof), so only for small trees. The tree is over leaf *hashes*: ``MTH`` of one leaf is
its leaf hash, which lets tests use random leaf hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n > 1``)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]), §2.1.1."""
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return d[0]
    k = _k(n)
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]), §2.1.3.1."""
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]), §2.1.4.1 (for 0 < m <= n; empty for m == n)."""
    return _subproof(m, d, True)


def _subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return [*_subproof(m, d[:k], b), mth(d[k:])]
    return [*_subproof(m - k, d[k:], False), mth(d[:k])]


def path_length(m: int, n: int) -> int:
    """len(PATH(m, D[n])), from the recursion's shape alone."""
    if n == 1:
        return 0
    k = _k(n)
    return 1 + (path_length(m, k) if m < k else path_length(m - k, n - k))


def proof_length(m: int, n: int) -> int:
    """len(PROOF(m, D[n])) for 0 < m <= n, from the recursion's shape alone."""

    def sub(m: int, n: int, b: bool) -> int:
        if m == n:
            return 0 if b else 1
        k = _k(n)
        return 1 + (sub(m, k, b) if m <= k else sub(m - k, n - k, False))

    return sub(m, n, True)
