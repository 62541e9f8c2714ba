"""The balances tree: ``@openzeppelin/merkle-tree``'s ``StandardMerkleTree``, byte for byte.

DESIGN.md §5. The format is the JS library's (v1.0.8, ``dist/standard.js``, ``merkletree.js``,
``core.js``, ``hashes.js``), so that the published dump loads in the JS library and proofs verify
with OpenZeppelin's ``MerkleProof.verify``:

* ``leaf = keccak256(keccak256(abi.encode(leafEncoding, value)))``;
* leaves are sorted by hash (ascending, stable: ties keep input order), unless ``sort_leaves`` is
  off;
* the tree is one array of ``2n - 1`` nodes in heap layout: node ``i`` has children ``2i + 1``
  and ``2i + 2``, the root is node 0 and sorted leaf ``j`` is node ``2n - 2 - j``;
* ``node = keccak256(min(a, b) || max(a, b))`` (pairs hashed in sorted order, so a proof is just
  the list of siblings from the leaf up);
* ``dump()`` is ``{"format": "standard-v1", "leafEncoding": [...], "tree": [0x-hex...],
  "values": [{"value": [...], "treeIndex": i}, ...]}`` with values in input order. The JS dump
  keeps values exactly as given; since it cannot serialise ``bigint``, JS callers pass numbers as
  decimal strings, so here an ``int`` is dumped as a decimal string and ``bytes`` as lowercase
  ``0x`` hex; strings and bools are kept as given.

Multiproofs and ``render()`` are not implemented. :meth:`StandardMerkleTree.load` is stricter than
the JS ``load``: every leaf of the tree must carry exactly one value, since a leaf without a
published value could hide a balance.

For speed and memory the tree is held as one ``bytearray`` of ``32 * (2n - 1)`` bytes (64 MB for
a million accounts, a quarter of a list of hex strings), ABI words are built by hand
(:mod:`ledger.merkle._abi`) and keccak is ``tiny-keccak`` (Rust), the fastest backend measured here
(``bench/merkle.py`` prints the rates).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

from tiny_keccak import keccak256

from ledger.encoding import hex0x

from . import _abi
from .errors import InvalidTreeError, LeafNotFoundError

__all__ = ["StandardMerkleTree", "standard_leaf_hash", "standard_node_hash"]

_H = 32
FORMAT = "standard-v1"


def standard_node_hash(a: bytes, b: bytes) -> bytes:
    """``keccak256`` of the two children in ascending order (``hashes.js`` ``standardNodeHash``)."""
    return keccak256(a + b) if a <= b else keccak256(b + a)


def _leaf_hasher(leaf_encoding: Sequence[str]) -> Callable[[Sequence[Any]], bytes]:
    encode = _abi.encoder(leaf_encoding)
    k = keccak256

    def leaf_hash(value: Sequence[Any]) -> bytes:
        # Hashed twice to rule out second-preimage attacks with 64-byte leaves (OpenZeppelin).
        return k(k(encode(value)))

    return leaf_hash


_ZERO12 = bytes(12)


def _leaf_hashes(values: Sequence[Sequence[Any]], leaf_encoding: Sequence[str]) -> list[bytes]:
    """The leaf hash of every value, in order."""
    leaf_hash = _leaf_hasher(leaf_encoding)
    if list(leaf_encoding) == ["address", "uint256"]:
        # The balances tree: one comprehension with the ABI words inlined, about twice as fast.
        # Anything it is not sure about (not "0x" + 40 hex digits, a non-int or bool balance) goes
        # through the general encoder, and any exception reruns everything through it, so errors
        # and edge cases behave exactly as they do there.
        k, z, fromhex = keccak256, _ZERO12, bytes.fromhex
        try:
            return [
                k(k(w))
                if len(w := z + fromhex(a[2:]) + b.to_bytes(32, "big")) == 64 and a[:2] == "0x" and type(b) is int
                else leaf_hash((a, b))
                for a, b in values
            ]
        except Exception:  # the general path below raises the precise error
            pass
    return [leaf_hash(v) for v in values]


def standard_leaf_hash(leaf_encoding: Sequence[str], value: Sequence[Any]) -> bytes:
    """``keccak256(keccak256(abi.encode(leaf_encoding, value)))`` (``standardLeafHash``)."""
    return _leaf_hasher(leaf_encoding)(value)


def _to_bytes32(node: Any) -> bytes:
    if isinstance(node, str):
        try:
            raw = _abi.hex_bytes(node if node[:2] in ("0x", "0X") else "0x" + node)
        except ValueError:
            raw = b""
    elif isinstance(node, bytes | bytearray | memoryview):
        raw = bytes(node)
    else:
        raw = b""
    if len(raw) != _H:
        raise ValueError(f"Merkle tree nodes must be 32 bytes, got {node!r}")
    return raw


_CHUNK = 1 << 15


def _build(leaves: list[bytes], *, ascending: bool) -> bytearray:
    """The heap-layout node array (``core.js`` ``makeMerkleTree``) as one ``bytearray``.

    ``leaves[j]`` is node ``2n - 2 - j`` (leaf 0 is the last node, as in the library);
    ``ascending`` says they are sorted. Empties ``leaves``. Nodes are computed in chunks and
    written to the array as they come, so that building a million-leaf tree needs little more
    than the array's 64 MB (one join of every leaf would be a second 32 MB next to it).
    """
    n = len(leaves)
    out = bytearray(_H * (2 * n - 1))
    base = (n - 1) * _H
    for start in range(0, n, _CHUNK):  # node n - 1 + m is leaf n - 1 - m
        end = min(start + _CHUNK, n)
        out[base + start * _H : base + end * _H] = b"".join(reversed(leaves[n - end : n - start]))
    k = keccak256
    # Node i has children 2i + 1 and 2i + 2, both leaves from i = (n - 1) // 2 on: leaves
    # 2n - 4 - 2i and 2n - 3 - 2i, adjacent, and already in hashing order if sorted.
    first_leaf_parent = (n - 1) // 2
    step = _CHUNK // 8  # joins under 256 KiB stay out of the allocator's mmap path
    for a in range(first_leaf_parent, n - 1, step):
        b = min(a + step, n - 1)
        pairs = leaves[2 * n - 2 - 2 * b : 2 * n - 2 - 2 * a]  # the children of nodes b-1 .. a
        if ascending:
            joined = b"".join(pairs)
            hashes = [k(joined[i : i + 64]) for i in range(0, len(joined), 64)]
        else:
            hashes = [k(x + y) if x <= y else k(y + x) for x, y in zip(pairs[0::2], pairs[1::2], strict=True)]
        hashes.reverse()
        out[a * _H : b * _H] = b"".join(hashes)
    leaves.clear()
    # Node i depends only on nodes > i. A chunk of parents [a, b) with a >= b // 2 has all its
    # children at 2a + 1 >= b, i.e. already computed, so go down from there.
    b = first_leaf_parent
    while b > 0:
        a = max(b - _CHUNK, b // 2)
        kids = bytes(out[(2 * a + 1) * _H : (2 * b + 1) * _H])
        out[a * _H : b * _H] = b"".join(
            [
                k(kids[i : i + 64])
                if kids[i : i + 32] <= kids[i + 32 : i + 64]
                else k(kids[i + 32 : i + 64] + kids[i : i + 32])
                for i in range(0, len(kids), 64)
            ]
        )
        b = a
    return out


class StandardMerkleTree:
    """A tree of ABI-encoded values in the format of ``@openzeppelin/merkle-tree`` 1.0.8."""

    __slots__ = ("_hash_lookup", "_leaf_hash", "_nodes", "_tree_index", "_values", "leaf_encoding")

    def __init__(
        self,
        nodes: bytes | bytearray,
        values: Sequence[Any],
        tree_index: array[int],
        leaf_encoding: Sequence[str],
    ) -> None:
        # Use of() or load(): this trusts that nodes, values and tree_index agree.
        self._nodes = nodes
        self._values = values
        self._tree_index = tree_index
        self.leaf_encoding = list(leaf_encoding)
        self._leaf_hash = _leaf_hasher(self.leaf_encoding)
        self._hash_lookup: dict[bytes, int] | None = None

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def of(
        cls,
        values: Sequence[Sequence[Any]],
        leaf_encoding: Sequence[str],
        *,
        sort_leaves: bool = True,
    ) -> StandardMerkleTree:
        """Build the tree of ``values`` (each a sequence matching ``leaf_encoding``).

        ``StandardMerkleTree.of(values, leafEncoding, {sortLeaves})``. ``values`` is kept by
        reference, not copied.
        """
        if len(values) == 0:
            raise ValueError("Expected non-zero number of leaves")
        hashes = _leaf_hashes(values, leaf_encoding)
        n = len(hashes)
        order = sorted(range(n), key=hashes.__getitem__) if sort_leaves else range(n)
        sorted_leaves = [hashes[i] for i in order]
        del hashes
        tree_index = array("q", [0]) * n
        last = 2 * n - 2
        for position, value_index in enumerate(order):
            tree_index[value_index] = last - position
        del order
        return cls(_build(sorted_leaves, ascending=sort_leaves), values, tree_index, leaf_encoding)

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> StandardMerkleTree:
        """Rebuild a tree from :meth:`dump` output (or the JS ``dump()``), checking every hash.

        Raises :class:`~ledger.merkle.errors.InvalidTreeError` if the format is unknown, a node is
        not 32 bytes, an inner node is not the hash of its children, a value does not hash to its
        leaf, or the values are not exactly one per leaf.
        """
        if data.get("format") != FORMAT:
            raise InvalidTreeError(f"Unknown format '{data.get('format')}'")
        leaf_encoding = data.get("leafEncoding")
        if not isinstance(leaf_encoding, list) or not all(isinstance(t, str) for t in leaf_encoding):
            raise InvalidTreeError("Expected leaf encoding")
        tree = data.get("tree")
        entries = data.get("values")
        if not isinstance(tree, list) or not isinstance(entries, list):
            raise InvalidTreeError("Expected 'tree' and 'values' lists")
        try:
            raw = [_to_bytes32(node) for node in tree]
        except ValueError as e:
            raise InvalidTreeError(str(e)) from None
        size = len(raw)
        if size % 2 == 0:
            # Even: some node has a left child but no right one (core.js isValidMerkleTree).
            raise InvalidTreeError("Merkle tree is invalid")
        n = (size + 1) // 2
        for i in range(n - 1):
            if raw[i] != standard_node_hash(raw[2 * i + 1], raw[2 * i + 2]):
                raise InvalidTreeError(f"Merkle tree is invalid: node {i} is not the hash of its children")
        if len(entries) != n:
            raise InvalidTreeError(f"the tree has {n} leaves but {len(entries)} values")

        leaf_hash = _leaf_hasher(leaf_encoding)
        values: list[Any] = []
        tree_index = array("q", [0]) * n
        seen = bytearray(n)
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or "value" not in entry or "treeIndex" not in entry:
                raise InvalidTreeError(f"value {i} must be an object with 'value' and 'treeIndex'")
            value, index = entry["value"], entry["treeIndex"]
            if not isinstance(index, int) or isinstance(index, bool) or not n - 1 <= index < size:
                raise InvalidTreeError(f"value {i}: treeIndex {index!r} is not a leaf")
            if seen[index - (n - 1)]:
                raise InvalidTreeError(f"value {i}: leaf {index} already has a value")
            seen[index - (n - 1)] = 1
            try:
                matches = leaf_hash(value) == raw[index]
            except (ValueError, TypeError) as e:
                raise InvalidTreeError(f"value {i} does not fit {leaf_encoding}: {e}") from None
            if not matches:
                raise InvalidTreeError(f"value {i}: Merkle tree does not contain the expected value")
            values.append(value)
            tree_index[i] = index
        return cls(b"".join(raw), values, tree_index, leaf_encoding)

    # --- reading ------------------------------------------------------------------------------

    def _node(self, i: int) -> bytes:
        return bytes(self._nodes[i * _H : (i + 1) * _H])

    @property
    def root(self) -> str:
        """The root as ``0x`` hex (``tree.root``)."""
        return hex0x(self._node(0))

    def __len__(self) -> int:
        return len(self._values)

    def at(self, index: int) -> Any:
        """The value at ``index`` in input order."""
        return self._values[index]

    def entries(self) -> Iterator[tuple[int, Any]]:
        return enumerate(self._values)

    def leaf_hash(self, value: Sequence[Any]) -> str:
        """The leaf hash of ``value`` as ``0x`` hex (``tree.leafHash(value)``)."""
        return hex0x(self._leaf_hash(value))

    def leaf_lookup(self, value: Sequence[Any]) -> int:
        """The index (input order) of ``value``; the last one if it occurs more than once."""
        if self._hash_lookup is None:
            # Built on first use: a million-entry dict costs ~100 MB.
            self._hash_lookup = {self._node(t): i for i, t in enumerate(self._tree_index)}
        found = self._hash_lookup.get(self._leaf_hash(value))
        if found is None:
            raise LeafNotFoundError("Leaf is not in tree")
        return found

    def _value_index(self, leaf: int | Sequence[Any]) -> int:
        if isinstance(leaf, int) and not isinstance(leaf, bool):
            if not 0 <= leaf < len(self._values):
                raise IndexError("Index out of bounds")
            return leaf
        return self.leaf_lookup(cast(Sequence[Any], leaf))

    def get_proof(self, leaf: int | Sequence[Any]) -> list[str]:
        """The proof of a value, given by its index in input order or as the value itself.

        ``tree.getProof(leaf)``: the siblings from the leaf up to (not including) the root.
        """
        i = self._tree_index[self._value_index(leaf)]
        nodes = self._nodes
        proof = []
        while i > 0:
            s = i + 1 if i & 1 else i - 1
            # hex0x inlined here and in iter_proofs: a call and a copy per sibling cost a third
            # of the proof rate (bench/merkle.py).
            proof.append("0x" + nodes[s * _H : s * _H + _H].hex())
            i = (i - 1) >> 1
        return proof

    def iter_proofs(self) -> Iterator[tuple[int, list[str]]]:
        """Every ``(value index, proof)``, in tree order, each proof a fresh list.

        Much faster than calling :meth:`get_proof` for every value: consecutive leaves share all
        but the lowest part of their path, so the hex of upper siblings is computed once.
        """
        nodes = self._nodes
        total = len(nodes) // _H
        n = (total + 1) // 2
        value_at = array("q", [0]) * n
        for value_index, t in enumerate(self._tree_index):
            value_at[t - (n - 1)] = value_index
        # cache[depth] = (node, its proof): the last node seen at that depth.
        cache: list[tuple[int, list[str]]] = [(-1, [])] * (total.bit_length() + 1)
        cache[0] = (0, [])

        def proof_of(i: int) -> list[str]:
            depth = (i + 1).bit_length() - 1
            cached = cache[depth]
            if cached[0] == i:
                return cached[1]
            s = i + 1 if i & 1 else i - 1
            p = ["0x" + nodes[s * _H : s * _H + _H].hex(), *proof_of((i - 1) >> 1)]
            cache[depth] = (i, p)
            return p

        for t in range(n - 1, total):
            s = t + 1 if t & 1 else t - 1
            upper = proof_of((t - 1) >> 1) if t > 0 else None
            if upper is None:
                yield value_at[t - (n - 1)], []
            else:
                yield value_at[t - (n - 1)], ["0x" + nodes[s * _H : s * _H + _H].hex(), *upper]

    # --- verification -------------------------------------------------------------------------

    @staticmethod
    def verify(
        root: str | bytes,
        leaf_encoding: Sequence[str],
        value: Sequence[Any],
        proof: Sequence[str | bytes],
    ) -> bool:
        """Whether ``proof`` leads from ``value`` to ``root`` (``StandardMerkleTree.verify``).

        Like the JS library (``core.js`` ``processProof``), this raises ``ValueError`` rather than
        returning ``False`` when the root or a proof element is not 32 bytes.
        """
        acc = standard_leaf_hash(leaf_encoding, value)
        for p in proof:
            acc = standard_node_hash(acc, _to_bytes32(p))
        return acc == _to_bytes32(root)

    # --- export -------------------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """The JS ``dump()`` structure (format ``standard-v1``); ``json.dumps`` it to publish."""
        big = self._nodes.hex()
        tree = ["0x" + big[i : i + 64] for i in range(0, len(big), 64)]
        encoding = self.leaf_encoding
        json_value = _abi.json_value
        values = [
            {
                "value": [json_value(t, v) for t, v in zip(encoding, value, strict=True)],
                "treeIndex": t,
            }
            for value, t in zip(self._values, self._tree_index, strict=True)
        ]
        return {"format": FORMAT, "leafEncoding": list(encoding), "tree": tree, "values": values}
