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

For speed and memory (``bench/merkle.py`` times a million accounts with every proof against the
3N keccaks the tree is made of, and bench/README-merkle.md says where the rest goes): the tree is
one ``bytearray`` of ``32 * (2n - 1)`` nodes, allocated once and filled in place through a numpy
view; :meth:`StandardMerkleTree.of_balances` takes the balances tree's input as two columns
(20-byte addresses concatenated, and amounts) so that a caller streaming a million rows never
holds a million tuples; ABI words are laid out with array copies (:mod:`ledger.merkle._abi` for
the general case); leaves are sorted by a stable numpy sort of their first 8 bytes (all 32 when
two share them); each pair is put in ascending order with array operations, so Python only calls
keccak, once per node; a proof is one ``bytes`` of its siblings, built from its parent's; and
keccak is ``tiny-keccak`` (Rust), the fastest backend measured here (``bench/merkle.py`` prints
the rates).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, cast, overload

import numpy as np
from tiny_keccak import keccak256

from ledger.encoding import hex0x

from . import _abi
from .errors import InvalidTreeError, LeafNotFoundError

__all__ = ["StandardMerkleTree", "standard_leaf_hash", "standard_node_hash"]

_H = 32
FORMAT = "standard-v1"
BALANCE_ENCODING = ("address", "uint256")


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
    if tuple(leaf_encoding) == BALANCE_ENCODING:
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


_CHUNK = 1 << 14  # leaves or nodes per step: the joins stay under 1 MB, out of the mmap path


def _amount_words(amounts: Sequence[int] | bytes, start: int, end: int) -> bytes:
    """The uint256 ABI words of ``amounts[start:end]``, 32 bytes each."""
    if isinstance(amounts, bytes | bytearray | memoryview):
        return bytes(amounts[32 * start : 32 * end])
    chunk = amounts[start:end]
    if set(map(type, chunk)) <= {int}:  # not bool, which is an int to to_bytes
        try:
            return b"".join([x.to_bytes(32, "big") for x in chunk])
        except OverflowError:  # negative or 2**256 and over: the general encoder says which
            pass
    return b"".join([_abi.uint_word(x) for x in chunk])


def _balance_hashes(accounts: bytes, amounts: Sequence[int] | bytes) -> Iterator[tuple[int, list[bytes]]]:
    """``(start, leaf hashes)`` of the balances tree from its two columns, a chunk at a time.

    The 64-byte ABI encodings of a chunk (12 zero bytes, the address, the amount) are laid out
    with two strided copies into one array, not two slices and two joins per leaf; then each
    leaf is two keccaks of a 64-byte slice.
    """
    n = len(accounts) // 20
    k = keccak256
    for start in range(0, n, _CHUNK):
        end = min(start + _CHUNK, n)
        m = end - start
        words = np.zeros((m, 64), np.uint8)
        words[:, 12:32] = np.frombuffer(accounts, np.uint8, 20 * m, 20 * start).reshape(m, 20)
        words[:, 32:] = np.frombuffer(_amount_words(amounts, start, end), np.uint8).reshape(m, 32)
        data = words.tobytes()
        yield start, [k(k(data[i : i + 64])) for i in range(0, 64 * m, 64)]


def _sorted_order(leaves: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The input indices of ``leaves`` (an n x 32 array of hashes) in ascending order of hash,
    ties in input order (the JS library's stable sort).

    A stable sort on the first 8 bytes as a big-endian integer orders every leaf unless two share
    them (for hashes, practically only equal leaves); then a stable sort on all 32 bytes.
    """
    keys = leaves.view(">u8")
    order = np.argsort(keys[:, 0], kind="stable")
    first = keys[order, 0]
    if len(first) > 1 and bool(np.any(first[1:] == first[:-1])):
        order = np.lexsort((keys[:, 3], keys[:, 2], keys[:, 1], keys[:, 0]))
    return order


def _node_array(chunks: Iterable[tuple[int, list[bytes]]], n: int) -> tuple[bytearray, np.ndarray[Any, Any]]:
    """The node array of ``2n - 1`` nodes, as a ``bytearray`` and a (2n - 1) x 32 view of it,
    with the leaf hashes given in chunks ``(first value index, hashes)`` as nodes ``0 .. n - 1``
    for now, in input order: the inner nodes' place holds them until :func:`_place` moves them,
    so that they never take 32 MB a million of their own."""
    buffer = bytearray(_H * (2 * n - 1))
    nodes = np.frombuffer(buffer, np.uint8).reshape(2 * n - 1, _H)
    for start, hashes in chunks:
        nodes[start : start + len(hashes)] = np.frombuffer(b"".join(hashes), np.uint8).reshape(-1, _H)
    return buffer, nodes


def _place(nodes: np.ndarray[Any, Any], order: np.ndarray[Any, Any]) -> None:
    """Move the leaves held as nodes ``0 .. n - 1`` (in input order) to nodes ``n - 1 ..``, leaf
    ``order[m]`` as node ``n - 1 + m``. The two places share only node ``n - 1``: the leaf held
    there is copied aside first."""
    n = len(order)
    last = nodes[n - 1].copy()
    step = 1 << 16
    for c in range(0, n, step):
        which = order[c : c + step]
        moved = np.take(nodes, which, axis=0)
        moved[which == n - 1] = last
        nodes[n - 1 + c : n - 1 + c + len(which)] = moved


def _build(nodes: np.ndarray[Any, Any], n: int) -> None:
    """Fill the inner nodes ``0 .. n - 2`` of the heap-layout node array (``core.js``
    ``makeMerkleTree``), whose leaves (nodes ``n - 1 ..``) are in place: node ``i`` has children
    ``2i + 1`` and ``2i + 2``.

    Node i depends only on nodes > i. A chunk of parents [a, b) with a >= b // 2 has all its
    children at 2a + 1 >= b, i.e. already computed, so go down from there. Each chunk's pairs are
    put in ascending order with array operations (the first differing 8-byte word of the two,
    compared as big-endian integers, decides), then each pair is one keccak of a 64-byte slice:
    no comparison, slice or join per pair in Python.
    """
    k = keccak256
    b = n - 1
    while b > 0:
        a = max(b - _CHUNK, b // 2)
        kids = nodes[2 * a + 1 : 2 * b + 1].reshape(b - a, 2, _H)
        words = kids.view(">u8")  # (pairs, 2, 4)
        left, right = words[:, 0], words[:, 1]
        differ = left != right
        first = np.argmax(differ, axis=1)
        rows = np.arange(b - a)
        swap = left[rows, first] > right[rows, first]
        pairs = kids.copy()
        pairs[swap] = kids[swap][:, ::-1]
        data = pairs.tobytes()
        nodes[a:b] = np.frombuffer(b"".join([k(data[i : i + 2 * _H]) for i in range(0, len(data), 2 * _H)]),
                                   np.uint8).reshape(b - a, _H)
        b = a


class _Balances(Sequence[tuple[str, int]]):
    """The values of a tree built from columns, read from them on demand: ``(address, amount)``
    with the address as ``0x`` and lower-case hex."""

    __slots__ = ("_accounts", "_amounts")

    def __init__(self, accounts: bytes, amounts: Sequence[int] | bytes) -> None:
        self._accounts = accounts
        self._amounts = amounts

    def __len__(self) -> int:
        return len(self._accounts) // 20

    def _at(self, i: int) -> tuple[str, int]:
        amounts = self._amounts
        amount = (
            int.from_bytes(amounts[32 * i : 32 * i + 32], "big")
            if isinstance(amounts, bytes | bytearray | memoryview)
            else amounts[i]
        )
        return "0x" + self._accounts[20 * i : 20 * i + 20].hex(), amount

    @overload
    def __getitem__(self, i: int) -> tuple[str, int]: ...
    @overload
    def __getitem__(self, i: slice) -> list[tuple[str, int]]: ...
    def __getitem__(self, i: int | slice) -> tuple[str, int] | list[tuple[str, int]]:
        if isinstance(i, slice):
            return [self._at(j) for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError("Index out of bounds")
        return self._at(i)


class StandardMerkleTree:
    """A tree of ABI-encoded values in the format of ``@openzeppelin/merkle-tree`` 1.0.8."""

    __slots__ = ("_hash_lookup", "_leaf_hash", "_nodes", "_order", "_tree_index", "_values", "leaf_encoding")

    def __init__(
        self,
        nodes: bytes | bytearray,
        values: Sequence[Any],
        leaf_encoding: Sequence[str],
        *,
        order: array[int] | None = None,
        tree_index: array[int] | None = None,
    ) -> None:
        # Use of(), of_balances() or load(): this trusts that nodes, values and the index agree.
        # ``order[m]`` is the value at node n - 1 + m; ``tree_index[v]`` the node of value v.
        # Either gives the other, made when first needed (a proof by index, a dump).
        self._nodes = nodes
        self._values = values
        self._order = order
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
        return cls._finish(((s, hashes[s : s + _CHUNK]) for s in range(0, len(hashes), _CHUNK)), len(hashes),
                           sort_leaves, values, leaf_encoding)

    @classmethod
    def of_balances(
        cls,
        accounts: bytes,
        amounts: Sequence[int] | bytes,
        *,
        sort_leaves: bool = True,
    ) -> StandardMerkleTree:
        """The tree of ``leafEncoding ["address", "uint256"]`` given as two columns: ``accounts``
        the 20-byte addresses one after the other, ``amounts`` the balances as ints (or as
        32-byte big-endian words one after the other).

        The same tree, byte for byte, as ``of`` with ``[["0x" + address.hex(), amount], ...]``,
        for about 70 MB per million accounts instead of the 230 of a list of pairs. The columns
        are kept by reference; :meth:`at` reads a value back as ``("0x" + lower-case hex, int)``.
        """
        n, extra = divmod(len(accounts), 20)
        if extra:
            raise _abi.AbiError(f"accounts must be 20 bytes each, got {len(accounts)} bytes")
        if n == 0:
            raise ValueError("Expected non-zero number of leaves")
        words = isinstance(amounts, bytes | bytearray | memoryview)
        count = len(amounts) / 32 if words else len(amounts)
        if count != n:
            raise _abi.AbiError(f"{n} accounts but {count:g} amounts")
        accounts = bytes(accounts)
        values = _Balances(accounts, amounts)
        return cls._finish(_balance_hashes(accounts, amounts), n, sort_leaves, values, BALANCE_ENCODING)

    @classmethod
    def _finish(
        cls,
        chunks: Iterable[tuple[int, list[bytes]]],
        n: int,
        sort_leaves: bool,
        values: Sequence[Any],
        leaf_encoding: Sequence[str],
    ) -> StandardMerkleTree:
        """The tree of the leaf hashes given in chunks ``(first value index, hashes)``.

        The node array is one ``bytearray`` allocated once (every fresh 64 MB costs ~100 ms of
        page faults on the shared VM), filled in place through an array view (the leaves first
        where the inner nodes will be, then sorted into their place) and kept as it is: a
        ``bytes`` copy of it would be 64 MB more at the peak for a million leaves.
        """
        buffer, nodes = _node_array(chunks, n)
        # Tree order: sorted leaf j is node 2n - 2 - j, so the largest (ties: the later value) first.
        order = _sorted_order(nodes[:n])[::-1] if sort_leaves else np.arange(n - 1, -1, -1)
        _place(nodes, order)
        _build(nodes, n)
        del nodes
        leaf_order = array("I")
        leaf_order.frombytes(order.astype(np.uint32).tobytes())
        return cls(buffer, values, leaf_encoding, order=leaf_order)

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
        return cls(b"".join(raw), values, leaf_encoding, tree_index=tree_index)

    # --- reading ------------------------------------------------------------------------------

    def _node(self, i: int) -> bytes:
        return bytes(self._nodes[i * _H : (i + 1) * _H])

    def _leaf_order(self) -> array[int]:
        """``order[m]``: the value at node ``n - 1 + m``."""
        if self._order is None:
            assert self._tree_index is not None
            n = len(self._values)
            order = array("I", [0]) * n
            for value_index, t in enumerate(self._tree_index):
                order[t - (n - 1)] = value_index
            self._order = order
        return self._order

    def _tree_indices(self) -> array[int]:
        """``tree_index[v]``: the node of value ``v``."""
        if self._tree_index is None:
            assert self._order is not None
            n = len(self._values)
            tree_index = array("q", [0]) * n
            for m, value_index in enumerate(self._order, n - 1):
                tree_index[value_index] = m
            self._tree_index = tree_index
        return self._tree_index

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
            self._hash_lookup = {self._node(t): i for i, t in enumerate(self._tree_indices())}
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

    def _path(self, leaf: int | Sequence[Any]) -> Iterator[int]:
        """The byte offsets of the siblings from the leaf up to (not including) the root."""
        i = self._tree_indices()[self._value_index(leaf)]
        while i > 0:
            yield (i + 1 if i & 1 else i - 1) * _H
            i = (i - 1) >> 1

    def get_proof(self, leaf: int | Sequence[Any]) -> list[str]:
        """The proof of a value, given by its index in input order or as the value itself.

        ``tree.getProof(leaf)``: the siblings from the leaf up to (not including) the root.
        """
        nodes = self._nodes
        # hex0x inlined here and in iter_proofs: a call and a copy per sibling cost a third
        # of the proof rate (bench/merkle.py).
        return ["0x" + nodes[s : s + _H].hex() for s in self._path(leaf)]

    def proof_bytes(self, leaf: int | Sequence[Any]) -> bytes:
        """:meth:`get_proof` as one ``bytes``: the 32-byte siblings one after the other."""
        nodes = self._nodes
        return b"".join([nodes[s : s + _H] for s in self._path(leaf)])

    def iter_proof_bytes(self) -> Iterator[tuple[int, bytes]]:
        """Every ``(value index, proof)``, in tree order, each proof one fresh ``bytes`` of its
        siblings (as :meth:`proof_bytes`).

        Each is its sibling and then its parent's proof, and that one is made once for both its
        children: about two joins per leaf for a million proofs of 20 siblings.
        """
        nodes = self._nodes
        join = b"".join  # the node array may be a bytearray, whose slices + bytes are bytearrays
        total = len(nodes) // _H
        n = (total + 1) // 2
        order = self._leaf_order()
        if n == 1:
            yield order[0], b""
            return
        # made[d], above[d]: the last inner node of depth d whose proof was made, and that proof.
        depth = total.bit_length()
        made, above = [-1] * depth, [b""] * depth
        made[0] = 0

        def proof_of(i: int) -> bytes:
            chain = []
            while made[(i + 1).bit_length() - 1] != i:
                chain.append(i)
                i = (i - 1) >> 1
            proof = above[(i + 1).bit_length() - 1]
            for j in reversed(chain):
                s = (j + 1 if j & 1 else j - 1) * _H
                proof = join((nodes[s : s + _H], proof))
                d = (j + 1).bit_length() - 1
                made[d], above[d] = j, proof
            return proof

        value = iter(order).__next__  # the leaves come in node order, as ``order`` is
        if n == 2:  # the root's two leaves: each is the other's proof
            yield value(), bytes(nodes[2 * _H : 3 * _H])
            yield value(), bytes(nodes[_H : 2 * _H])
            return
        if n & 1:  # leaf n - 1 is a right child, and its sibling n - 2 an inner node
            t = n - 1
            yield value(), join((nodes[(t - 1) * _H : t * _H], proof_of((t - 1) >> 1)))
        # Then one step per parent of two leaves (first .. n - 2), its grandparent's proof made
        # once per two parents. Making a chunk's proofs in list comprehensions instead took half
        # as long again (1.44 s against 0.95 s of CPU for a million): here each proof is used
        # while it is still in the CPU cache.
        grand, above_grand = -1, b""
        for p in range((n - 1) // 2, n - 1):
            g = (p - 1) >> 1
            if g != grand:
                grand, above_grand = g, proof_of(g)
            s = (p + 1 if p & 1 else p - 1) * _H
            parent = join((nodes[s : s + _H], above_grand))
            t = (2 * p + 1) * _H  # leaves 2p + 1 and 2p + 2
            yield value(), join((nodes[t + _H : t + 2 * _H], parent))
            yield value(), join((nodes[t : t + _H], parent))

    def iter_proofs(self) -> Iterator[tuple[int, list[str]]]:
        """Every ``(value index, proof)``, in tree order, each proof a fresh list of ``0x`` hex
        (as :meth:`get_proof`).

        Much faster than calling :meth:`get_proof` for every value: consecutive leaves share all
        but the lowest part of their path, so the hex of upper siblings is computed once. (Hex
        made from :meth:`iter_proof_bytes` instead took 6 s for a million, against 1.)
        """
        nodes = self._nodes
        total = len(nodes) // _H
        n = (total + 1) // 2
        order = self._leaf_order()
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
            value = order[t - (n - 1)]
            if t == 0:
                yield value, []
            else:
                yield value, ["0x" + nodes[s * _H : s * _H + _H].hex(), *proof_of((t - 1) >> 1)]

    # --- verification -------------------------------------------------------------------------

    @staticmethod
    def verify(
        root: str | bytes,
        leaf_encoding: Sequence[str],
        value: Sequence[Any],
        proof: Sequence[str | bytes] | bytes,
    ) -> bool:
        """Whether ``proof`` leads from ``value`` to ``root`` (``StandardMerkleTree.verify``).

        ``proof`` is a list of siblings (hex or 32 bytes each) or one ``bytes`` of them all (as
        :meth:`proof_bytes`). Like the JS library (``core.js`` ``processProof``), this raises
        ``ValueError`` rather than returning ``False`` when the root or a proof element is not
        32 bytes.
        """
        if isinstance(proof, bytes | bytearray | memoryview):
            if len(proof) % _H:
                raise ValueError(f"a proof of concatenated siblings is a multiple of 32 bytes, got {len(proof)}")
            proof = [bytes(proof[i : i + _H]) for i in range(0, len(proof), _H)]
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
            for value, t in zip(self._values, self._tree_indices(), strict=True)
        ]
        return {"format": FORMAT, "leafEncoding": list(encoding), "tree": tree, "values": values}
