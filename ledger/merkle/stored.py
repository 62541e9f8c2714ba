"""The contribution log stored in the database, as tiles of perfect-subtree hashes.

Why tiles
---------
A root or proof of an RFC 9162 log only ever needs hashes of *perfect* subtrees (see
:mod:`ledger.merkle._compact`), and those never change once written. So the log stores them,
not the tree: like Go's ``golang.org/x/mod/sumdb/tlog`` (and the C2SP tlog-tiles layout), the
hashes of tree level ``8t`` are cut into *tiles* of 256 consecutive hashes, one row each:

* row ``(level=t, number=N)`` holds the hashes of nodes ``(8t, 256N)`` .. ``(8t, 256N + 255)``
  (``t = 0`` are the leaf hashes), 8 KiB when full;
* a node of level ``8t + k`` (``0 <= k < 8``) is the root of ``2**k`` consecutive hashes of one
  tile, computed on read (at most 255 SHA-256 per tile touched);
* the last tile of each level is partial (fewer than 256 hashes) and is rewritten as it fills.

A 10-million-leaf log is 39,063 + 153 + 1 = 39,217 rows holding 10.04 million hashes (321 MB),
where a row per node would be 20 million rows and 640 MB. Storing every eighth level costs 0.4%
over the leaf hashes, and in exchange reads hash at most 255 nodes per tile: an inclusion or
consistency proof reads the ``log n / 8`` tiles on the leaf's path plus the partial tiles at the
right edge (about 3 to 6 rows for 10M leaves, in one query) and never rebuilds anything.
Appending ``k`` leaves reads the (at most ``log n / 8``) partial tiles, hashes about ``k`` nodes
(one per leaf: the 255 inside each tile that fills up), and writes about ``k / 256`` rows, so
``O(k + log n)``. Height 8 is tlog's: taller tiles would mean fewer rows but up to ``2**h - 1``
hashes per tile on every read and a bigger partial tile rewritten on every append; shorter ones,
more rows and more tiles per proof.

Tables: ``merkle_log`` (one head row per named log) and ``merkle_log_tile``.

A head row per log holds its size and current root; an append moves it with a compare-and-set on
the size (after ``SELECT ... FOR UPDATE`` where the backend has it), so two sealers cannot both
extend the same size.

Transactions belong to the caller: nothing here commits or rolls back, so an epoch's leaves, its
root and the rest of the epoch commit (or vanish) together. Nothing is cached between calls, since
a rolled-back append must leave no trace. Tables are on :class:`ledger.db.Base` and work on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, LargeBinary, SmallInteger, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.db import Base

from . import _compact
from .errors import ConcurrentAppendError
from .log import EMPTY_ROOT, HASH_SIZE, hash_children
from .memory import parents

__all__ = ["TILE_HEIGHT", "TILE_WIDTH", "MerkleLogHead", "MerkleLogTile", "StoredLog"]

TILE_HEIGHT = 8
"""Tree levels per tile level: tiles hold the hashes of tree levels 0, 8, 16, ..."""
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile."""
_TILE_BYTES = TILE_WIDTH * HASH_SIZE


class MerkleLogHead(Base):
    """One append-only log: its name, size and current root."""

    __tablename__ = "merkle_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(HASH_SIZE))

    __table_args__ = (CheckConstraint("size >= 0", name="size_not_negative"),)


class MerkleLogTile(Base):
    """Up to 256 consecutive hashes of tree level ``8 * level``, from node ``256 * number`` on."""

    __tablename__ = "merkle_log_tile"

    log_id: Mapped[int] = mapped_column(ForeignKey("merkle_log.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        CheckConstraint(
            f"length(hashes) BETWEEN {HASH_SIZE} AND {_TILE_BYTES} AND length(hashes) % {HASH_SIZE} = 0",
            name="hashes_whole_tile",
        ),
    )


TileKey = tuple[int, int]


def _tile_root(hashes: bytes) -> bytes:
    """The root of a full tile: the node of tree level ``8(t + 1)`` above it."""
    level = hashes
    while len(level) > HASH_SIZE:
        level = parents(level)
    return level


def _tile_levels(hashes: bytes) -> list[bytes]:
    """The complete nodes of a tile at each of its 8 levels (level 0 is the tile itself)."""
    levels = [hashes]
    while len(levels) < TILE_HEIGHT and len(levels[-1]) >= 2 * HASH_SIZE:
        levels.append(parents(levels[-1]))
    return levels


class _Nodes:
    """Perfect-subtree hashes of one log, read from its tiles (plus tiles not yet in the DB)."""

    def __init__(self, session: Session, log_id: int | None, overlay: dict[TileKey, bytes]) -> None:
        self._session = session
        self._log_id = log_id
        self._tiles: dict[TileKey, bytes] = dict(overlay)
        self._levels: dict[TileKey, list[bytes]] = {}

    @staticmethod
    def tile_of(node: _compact.NodeID) -> TileKey:
        level, index = node
        t, k = divmod(level, TILE_HEIGHT)
        return t, (index << k) >> TILE_HEIGHT

    def tile(self, key: TileKey) -> bytes:
        self.load([key])
        return self._tiles[key]

    def load(self, keys: Iterable[TileKey]) -> None:
        missing = {key for key in keys if key not in self._tiles}
        if not missing:
            return
        if self._log_id is None:
            raise LookupError(f"tiles {sorted(missing)} of an empty log")
        tile = MerkleLogTile
        # An OR of whole primary keys: SQLite (MULTI-INDEX OR) and PostgreSQL (BitmapOr) both
        # look each tile up by key. "(level, number) IN (...)" is a scan of all the log's tiles
        # on SQLite, and "number IN (...)" per level one on PostgreSQL without table statistics.
        query = sa.select(tile.level, tile.number, tile.hashes).where(
            sa.or_(
                *(
                    sa.and_(tile.log_id == self._log_id, tile.level == level, tile.number == number)
                    for level, number in sorted(missing)
                )
            )
        )
        for level, number, hashes in self._session.execute(query):
            self._tiles[(level, number)] = bytes(hashes)
        absent = missing - self._tiles.keys()
        if absent:
            raise LookupError(f"log {self._log_id} is missing tiles {sorted(absent)}")

    def get(self, nodes: Sequence[_compact.NodeID]) -> list[bytes]:
        self.load(self.tile_of(n) for n in nodes)
        out = []
        for level, index in nodes:
            t, k = divmod(level, TILE_HEIGHT)
            key = (t, (index << k) >> TILE_HEIGHT)
            levels = self._levels.get(key)
            if levels is None or len(levels) <= k:
                levels = self._levels[key] = _tile_levels(self._tiles[key])
            offset = (index - (key[1] << (TILE_HEIGHT - k))) * HASH_SIZE
            node = levels[k][offset : offset + HASH_SIZE]
            if len(node) != HASH_SIZE:
                raise LookupError(f"node ({level}, {index}) is not in tile {key}")
            out.append(node)
        return out


class StoredLog:
    """An append-only RFC 9162 log in the database, through the caller's session.

    ``StoredLog(session)`` is the ledger's contribution log; ``name`` allows other logs in the
    same tables. Every method runs in the session's current transaction and never commits.
    """

    def __init__(self, session: Session, name: str = "contributions") -> None:
        self.session = session
        self.name = name

    # --- head ---------------------------------------------------------------------------------

    def _head(self, *, for_update: bool = False) -> tuple[int, int, bytes] | None:
        head = MerkleLogHead
        query = sa.select(head.id, head.size, head.root).where(head.name == self.name)
        if for_update:
            query = query.with_for_update()
        row = self.session.execute(query).one_or_none()
        return None if row is None else (row[0], row[1], bytes(row[2]))

    def size(self) -> int:
        """The number of leaves."""
        head = self._head()
        return 0 if head is None else head[1]

    def _resolve(self, size: int | None) -> tuple[int | None, int]:
        head = self._head()
        log_id, current = (None, 0) if head is None else (head[0], head[1])
        if size is None:
            return log_id, current
        if not 0 <= size <= current:
            raise ValueError(f"tree size {size} is outside 0..{current}")
        return log_id, size

    # --- reading ------------------------------------------------------------------------------

    def root(self, size: int | None = None) -> bytes:
        """``MTH(D[size])`` (RFC 9162 §2.1.1); the current root by default."""
        head = self._head()
        if head is not None and (size is None or size == head[1]):
            return head[2]
        log_id, size = self._resolve(size)
        if size == 0:
            return EMPTY_ROOT
        return _root(_Nodes(self.session, log_id, {}), size)

    def leaf_hash(self, index: int) -> bytes:
        """The hash of leaf ``index``."""
        log_id, size = self._resolve(None)
        if not 0 <= index < size:
            raise IndexError(f"leaf index {index} is outside a log of size {size}")
        return _Nodes(self.session, log_id, {}).get([(0, index)])[0]

    def leaf_hashes(self, start: int = 0, end: int | None = None) -> list[bytes]:
        """The hashes of leaves ``start`` to ``end - 1`` (to the last leaf by default)."""
        log_id, size = self._resolve(None)
        end = size if end is None else end
        if not 0 <= start <= end <= size:
            raise IndexError(f"leaf range {start}..{end} is outside a log of size {size}")
        if start == end:
            return []
        tile = MerkleLogTile
        rows = self.session.execute(
            sa.select(tile.number, tile.hashes)
            .where(
                tile.log_id == log_id,
                tile.level == 0,
                tile.number.between(start >> TILE_HEIGHT, (end - 1) >> TILE_HEIGHT),
            )
            .order_by(tile.number)
        )
        blob = b"".join(bytes(hashes) for _, hashes in rows)
        offset = (start - ((start >> TILE_HEIGHT) << TILE_HEIGHT)) * HASH_SIZE
        return [blob[i : i + HASH_SIZE] for i in range(offset, offset + (end - start) * HASH_SIZE, HASH_SIZE)]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """``PATH(index, D[size])`` (RFC 9162 §2.1.3.1); in the current tree by default."""
        log_id, size = self._resolve(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of size {size}")
        plan = _compact.inclusion_plan(index, size)
        return plan.rehash(_Nodes(self.session, log_id, {}).get(plan.ids), hash_children)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """``PROOF(first, D[second])`` (RFC 9162 §2.1.4.1); up to the current tree by default."""
        log_id, second = self._resolve(second)
        if not 0 <= first <= second:
            raise ValueError(f"cannot prove consistency of size {first} with size {second}")
        plan = _compact.consistency_plan(first, second)
        if not plan.ids:
            return []
        return plan.rehash(_Nodes(self.session, log_id, {}).get(plan.ids), hash_children)

    # --- writing ------------------------------------------------------------------------------

    def append(self, leaf_hashes: Sequence[bytes]) -> bytes:
        """Append leaves (their RFC 9162 leaf hashes, in order) and return the new root.

        Flushes its writes to the session's transaction; does not commit. Raises
        :class:`~ledger.merkle.errors.ConcurrentAppendError` if another transaction moved the log
        since this one read its size.
        """
        for i, h in enumerate(leaf_hashes):
            if len(h) != HASH_SIZE:
                raise ValueError(f"leaf hash #{i} is {len(h)} bytes, expected {HASH_SIZE}")
        if not leaf_hashes:
            return self.root()
        head = self._head(for_update=True)
        if head is None:
            self.session.execute(sa.insert(MerkleLogHead).values(name=self.name, size=0, root=EMPTY_ROOT))
            head = self._head(for_update=True)
            assert head is not None
        log_id, old, _ = head
        new = old + len(leaf_hashes)

        # The partial tile at each tile level (if any) is extended by this append.
        partial = {
            (t, (old >> (TILE_HEIGHT * t)) >> TILE_HEIGHT)
            for t in range(_levels(old))
            if (old >> (TILE_HEIGHT * t)) % TILE_WIDTH
        }
        nodes = _Nodes(self.session, log_id, {})
        nodes.load(partial)

        written: dict[TileKey, bytes] = {}
        t, first, fresh = 0, old, b"".join(leaf_hashes)
        while fresh:
            number = first >> TILE_HEIGHT
            # Hashes of this tree level from the start of tile `number`, old then new.
            data = nodes.tile((t, number)) + fresh if first % TILE_WIDTH else fresh
            above = []
            for j in range(0, len(data), _TILE_BYTES):
                chunk = data[j : j + _TILE_BYTES]
                written[(t, number + j // _TILE_BYTES)] = chunk
                if len(chunk) == _TILE_BYTES:
                    # The tile just filled up: its root is the next node of tree level 8(t + 1),
                    # whose index there is this tile's number.
                    above.append(_tile_root(chunk))
            t, first, fresh = t + 1, number, b"".join(above)

        rows = [{"log_id": log_id, "level": t, "number": n, "hashes": h} for (t, n), h in sorted(written.items())]
        inserts = [r for r in rows if (r["level"], r["number"]) not in partial]
        updates = [r for r in rows if (r["level"], r["number"]) in partial]
        if inserts:
            self.session.execute(sa.insert(MerkleLogTile), inserts)
        if updates:
            self.session.execute(sa.update(MerkleLogTile), updates)

        new_root = _root(_Nodes(self.session, log_id, written), new)
        moved = self.session.execute(
            sa.update(MerkleLogHead)
            .where(MerkleLogHead.id == log_id, MerkleLogHead.size == old)
            .values(size=new, root=new_root)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentAppendError(f"log {self.name!r} changed size during an append")
        return new_root


def _levels(size: int) -> int:
    """How many tile levels a log of ``size`` leaves has (tiles with at least one hash)."""
    t = 0
    while size >> (TILE_HEIGHT * t):
        t += 1
    return t


def _root(nodes: _Nodes, size: int) -> bytes:
    return _compact.fold_range(nodes.get(_compact.range_nodes(0, size)), hash_children)
