"""Which perfect subtrees an RFC 9162 root or proof is made of.

Every hash of an RFC 9162 §2.1.1 tree of ``size`` leaves is either the root of a *perfect*
subtree (``2**level`` leaves starting at a multiple of ``2**level``; it never changes once the log
has that many leaves) or an *ephemeral* node on the right border, which is a hash of perfect
subtrees. So a root or a proof is: fetch some perfect-subtree hashes by their ``(level, index)``,
then fold some of them together. This module only plans that; the in-memory levels, the stored
tiles and the pure functions of :mod:`ledger.merkle.log` supply the hashes.

The planning follows transparency-dev/merkle (``compact`` and ``proof`` packages, Apache-2.0):
a proof is the seed's siblings up to the *fork* level, then the nodes covering the range to the
right of the fork (folded into the one ephemeral node), then the nodes covering the range to its
left. It yields exactly the paths of RFC 9162 §2.1.3.1 and §2.1.4.1, in the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

NodeID = tuple[int, int]
"""``(level, index)``: the perfect subtree over leaves ``[index << level, (index+1) << level)``."""

HashChildren = Callable[[bytes, bytes], bytes]


def _trailing_zeros(x: int) -> int:
    return (x & -x).bit_length() - 1


def decompose(begin: int, end: int) -> tuple[int, int]:
    """Split ``[begin, end)`` into left and right border masks (transparency-dev ``Decompose``).

    Bit ``k`` of the left mask says a perfect subtree of level ``k`` sits on the left border,
    ascending; bit ``k`` of the right mask, one on the right border, descending.
    """
    if begin == 0:
        return 0, end
    xbegin = begin - 1
    # Only the nodes below the point where the paths to leaves begin-1 and end diverge are in range.
    mask = (1 << ((xbegin ^ end).bit_length() - 1)) - 1
    return ~xbegin & mask, end & mask


def range_nodes(begin: int, end: int) -> list[NodeID]:
    """The perfect subtrees that exactly cover leaves ``[begin, end)``, left to right."""
    left, right = decompose(begin, end)
    ids: list[NodeID] = []
    pos = begin
    while left:
        level = _trailing_zeros(left)
        ids.append((level, pos >> level))
        pos += 1 << level
        left ^= 1 << level
    while right:
        level = right.bit_length() - 1
        ids.append((level, pos >> level))
        pos += 1 << level
        right ^= 1 << level
    return ids


def fold_range(hashes: Sequence[bytes], hash_children: HashChildren) -> bytes:
    """The root of the RFC 9162 tree whose compact range, left to right, is ``hashes``.

    Right-to-left, because RFC 9162 §2.1.1 splits at the largest power of two below the size, so
    the biggest (leftmost) perfect subtree is the last to join.
    """
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = hash_children(h, acc)
    return acc


@dataclass(frozen=True, slots=True)
class ProofPlan:
    """The perfect subtrees a proof is made of, and which of them fold into its ephemeral node.

    ``ids[begin:end]`` (possibly empty) are the right-border subtrees, ordered from lower to upper
    level, whose fold is the single ephemeral hash that appears in the proof in their place.
    """

    ids: tuple[NodeID, ...]
    begin: int
    end: int

    def rehash(self, hashes: Sequence[bytes], hash_children: HashChildren) -> list[bytes]:
        """Turn the hashes of :attr:`ids` into the proof."""
        if len(hashes) != len(self.ids):
            raise ValueError(f"got {len(hashes)} hashes for {len(self.ids)} nodes")
        out = list(hashes[: self.begin])
        if self.begin < self.end:
            acc = hashes[self.begin]
            for h in hashes[self.begin + 1 : self.end]:
                # Right-border nodes come lowest level first, i.e. right to left.
                acc = hash_children(h, acc)
            out.append(acc)
        out.extend(hashes[self.end :])
        return out

    def skip_first(self) -> ProofPlan:
        begin, end = (self.begin - 1, self.end - 1) if self.begin < self.end else (0, 0)
        return ProofPlan(self.ids[1:], begin, end)


def _nodes(index: int, level: int, size: int) -> ProofPlan:
    """Plan the proof that node ``(level, index)`` is part of the tree of ``size`` leaves.

    The first id is the node itself (the "seed").
    """
    # The fork is where the path to the seed leaves the path to leaf #size; its sibling is the
    # (only) ephemeral node of the proof, unless the right range is a single perfect subtree.
    inner = (index ^ (size >> level)).bit_length() - 1
    fork_level, fork_index = level + inner, index >> inner
    begin, end = fork_index << fork_level, (fork_index + 1) << fork_level

    ids: list[NodeID] = [(level, index)]
    node_level, node_index = level, index
    while node_level < fork_level:
        ids.append((node_level, node_index ^ 1))
        node_level, node_index = node_level + 1, node_index >> 1

    first_right = len(ids)
    ids.extend(reversed(range_nodes(end, size)))
    last_right = len(ids)
    ids.extend(reversed(range_nodes(0, begin)))
    if first_right >= last_right:
        first_right = last_right = 0
    return ProofPlan(tuple(ids), first_right, last_right)


def inclusion_plan(index: int, size: int) -> ProofPlan:
    """Plan of the RFC 9162 §2.1.3.1 inclusion proof of leaf ``index`` in the tree of ``size``."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} out of range for tree size {size}")
    return _nodes(index, 0, size).skip_first()


def consistency_plan(first: int, second: int) -> ProofPlan:
    """Plan of the RFC 9162 §2.1.4.1 consistency proof between sizes ``first`` and ``second``."""
    if not 0 <= first <= second:
        raise ValueError(f"cannot prove consistency of size {first} with size {second}")
    if first == second or first == 0:
        return ProofPlan((), 0, 0)
    # The seed is the biggest perfect subtree ending at leaf #first; when first is a power of two
    # the seed is the whole old tree, which the verifier already has as the first root.
    level = _trailing_zeros(first)
    index = (first - 1) >> level
    plan = _nodes(index, level, second)
    return plan.skip_first() if index == 0 else plan
