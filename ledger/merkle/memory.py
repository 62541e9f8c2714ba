"""An RFC 9162 log held in memory, with every perfect subtree hash kept for fast proofs.

The pure functions of :mod:`ledger.merkle.log` recompute ``O(n)`` hashes per proof. This keeps
the hash of every perfect subtree (level ``L`` holds ``size >> L`` of them), about ``2n`` hashes
in one ``bytearray`` per level (64 bytes per leaf rather than ~100 for a list of ``bytes``), so
that a root or proof for any size up to the current one costs ``O(log n)`` lookups and hashes,
and appending ``k`` leaves costs ``O(k)`` hashes amortised. Used for tests, fixtures and tools that
load a whole log; the ledger's own log is :class:`ledger.merkle.stored.StoredLog`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from . import _compact
from .log import EMPTY_ROOT, HASH_SIZE, hash_children

_sha256 = hashlib.sha256
_NODE_PREFIX = b"\x01"


def parents(level: bytes) -> bytes:
    """The hashes of the parents of consecutive pairs of ``level`` (concatenated 32-byte hashes)."""
    return b"".join([_sha256(_NODE_PREFIX + level[i : i + 64]).digest() for i in range(0, len(level) - 63, 64)])


class MemoryLog:
    """An append-only RFC 9162 Merkle log in memory."""

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self.append(leaf_hashes)

    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def append(self, leaf_hashes: Iterable[bytes]) -> bytes:
        """Append leaves (their RFC 9162 leaf hashes) and return the new root."""
        new = bytearray()
        for i, h in enumerate(leaf_hashes):
            if len(h) != HASH_SIZE:
                raise ValueError(f"leaf hash #{i} is {len(h)} bytes, expected {HASH_SIZE}")
            new += h
        levels = self._levels
        levels[0] += new
        level = 0
        while len(levels[level]) >= 2 * HASH_SIZE:
            if level + 1 == len(levels):
                levels.append(bytearray())
            below, above = levels[level], levels[level + 1]
            done = len(above) // HASH_SIZE
            complete = len(below) // (2 * HASH_SIZE)
            if complete == done:
                break
            above += parents(bytes(below[done * 64 : complete * 64]))
            level += 1
        return self.root()

    def node(self, level: int, index: int) -> bytes:
        """The hash of the perfect subtree ``(level, index)``; it must be complete."""
        start = index * HASH_SIZE
        if level >= len(self._levels) or start + HASH_SIZE > len(self._levels[level]):
            raise IndexError(f"node ({level}, {index}) is not complete in a log of {self.size()}")
        return bytes(self._levels[level][start : start + HASH_SIZE])

    def leaf_hash(self, index: int) -> bytes:
        if not 0 <= index < self.size():
            raise IndexError(f"leaf index {index} is outside a log of size {self.size()}")
        return self.node(0, index)

    def _size(self, size: int | None) -> int:
        current = self.size()
        if size is None:
            return current
        if not 0 <= size <= current:
            raise ValueError(f"tree size {size} is outside 0..{current}")
        return size

    def root(self, size: int | None = None) -> bytes:
        """``MTH(D[size])`` (RFC 9162 §2.1.1); the current root by default."""
        size = self._size(size)
        if size == 0:
            return EMPTY_ROOT
        nodes = [self.node(*n) for n in _compact.range_nodes(0, size)]
        return _compact.fold_range(nodes, hash_children)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """``PATH(index, D[size])`` (RFC 9162 §2.1.3.1); in the current tree by default."""
        size = self._size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of size {size}")
        plan = _compact.inclusion_plan(index, size)
        return plan.rehash([self.node(*n) for n in plan.ids], hash_children)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """``PROOF(first, D[second])`` (RFC 9162 §2.1.4.1); up to the current tree by default."""
        second = self._size(second)
        if not 0 <= first <= second:
            raise ValueError(f"cannot prove consistency of size {first} with size {second}")
        plan = _compact.consistency_plan(first, second)
        return plan.rehash([self.node(*n) for n in plan.ids], hash_children)
