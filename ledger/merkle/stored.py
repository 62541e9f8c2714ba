"""The contribution log stored in the database, as tiles of perfect-subtree hashes.

Why tiles
---------
A root or proof of an RFC 9162 log only ever needs hashes of *perfect* subtrees (see
:mod:`ledger.merkle._compact`), and those never change once written. So the log stores them,
not the tree: like Go's ``golang.org/x/mod/sumdb/tlog`` (and the C2SP tlog-tiles layout), the
hashes of tree level ``7t`` are cut into *tiles* of 128 consecutive hashes, one row each:

* row ``(level=t, number=N)`` holds the hashes of nodes ``(7t, 128N)`` .. ``(7t, 128N + 127)``
  (``t = 0`` are the leaf hashes), 4 KiB when full;
* a node of level ``7t + k`` (``0 <= k < 7``) is the root of ``2**k`` consecutive hashes of one
  tile, computed on read (at most 127 SHA-256 per tile touched);
* the last tile of each level is partial (fewer than 128 hashes) and is rewritten as it fills.

Why 128 hashes and not tlog's 256: a proof read with a cold cache costs a disk read per page it
touches, and an 8 KiB tile does not fit in a PostgreSQL page (at most 8,160 bytes a row), so it
went to TOAST: five 2 KB chunks on two pages behind a second index, about 5-6 reads per tile
where a 4 KiB row kept in place (``STORAGE PLAIN``) costs 2, its index leaf and its heap page.
With everything cold, a proof at 10M leaves read 22-26 pages before and 12 with these tiles, 8
with the upper tiles kept in the process (below; ``EXPLAIN (ANALYZE, BUFFERS)``, latencies in
bench/README-merkle.md). The price is space on
PostgreSQL: one such row per 8 KiB page, 64 bytes a leaf instead of 33.

A 10-million-leaf log is 78,125 + 611 + 5 + 1 = 78,742 rows holding 10.08 million hashes.
Storing every seventh level costs 0.8% over the leaf hashes, and in exchange reads hash at most
127 nodes per tile.

The compact range at every appended size
----------------------------------------
Every hash of a proof that is not on the leaf's own path up to the *fork* (where the path leaves
the right edge of the tree) is one of the perfect subtrees covering ``[0, size)`` left to right,
the *compact range* of ``size`` (at most ``log2 size`` hashes; see ``_compact._nodes``). Those
sit at the right edge of every level, in partial tiles, and at an old size they are spread over
tiles that have grown since. So each append also writes the compact range of its new size, one
small row (``merkle_log_range``), and a proof at a size that was appended (an epoch's size)
reads that row and the tiles on its path: 3 tiles and 1 range row at 10M leaves, where the right
edge alone was 2-3 more tiles. A size never appended at still works, from tiles alone.

Tables: ``merkle_log`` (one head row per named log), ``merkle_log_tile`` and
``merkle_log_range``.

A head row per log holds its size and current root; an append moves it with a compare-and-set on
the size (after ``SELECT ... FOR UPDATE`` where the backend has it), so two sealers cannot both
extend the same size.

The upper tiles in the process
------------------------------
Every proof at a size reads one leaf tile of its own and the same few upper tiles (611 + 5 + 1 at
10M leaves, 2.4 MB). Those are kept in the process per size asked (:class:`_UpperTiles`): the
first proof at a size reads them all in one statement, and every later one reads only the head,
the range and its leaf tile, 7 pages with a cold cache where it read 12. A rolled-back append
must leave no trace, so what is kept is tied to the compact range stored at that size: every
proof reads that range in its own statement, and uses kept tiles only if it is byte for byte the
one they were read with (the range's hashes commit to every leaf below the size, so to every
node a proof at that size reads from an upper tile); otherwise the entry is dropped and the
tiles read again.

Transactions belong to the caller: nothing here commits or rolls back, so an epoch's leaves, its
root and the rest of the epoch commit (or vanish) together. Tables are on
:class:`ledger.db.Base` and work on SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import DDL, BigInteger, CheckConstraint, ForeignKey, LargeBinary, SmallInteger, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from ledger.db import Base

from . import _compact
from .errors import ConcurrentAppendError
from .log import EMPTY_ROOT, HASH_SIZE, hash_children
from .memory import parents

__all__ = ["TILE_HEIGHT", "TILE_WIDTH", "MerkleLogHead", "MerkleLogRange", "MerkleLogTile", "StoredLog"]

TILE_HEIGHT = 7
"""Tree levels per tile level: tiles hold the hashes of tree levels 0, 7, 14, ..."""
TILE_WIDTH = 1 << TILE_HEIGHT
"""Hashes in a full tile."""
_TILE_BYTES = TILE_WIDTH * HASH_SIZE
_RANGE_BYTES = 64 * HASH_SIZE  # a size below 2**64 has at most 64 subtrees in its compact range


class MerkleLogHead(Base):
    """One append-only log: its name, size and current root."""

    __tablename__ = "merkle_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[bytes] = mapped_column(LargeBinary(HASH_SIZE))

    __table_args__ = (CheckConstraint("size >= 0", name="size_not_negative"),)


class MerkleLogTile(Base):
    """Up to 128 consecutive hashes of tree level ``7 * level``, from node ``128 * number`` on."""

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


TILE_STORAGE = "ALTER TABLE merkle_log_tile ALTER COLUMN hashes SET STORAGE PLAIN"
"""PostgreSQL keeps a tile in its row: by default a value over ~2 KB is compressed (hashes do not
compress) and moved to the TOAST table, which costs a cold read 3-4 more pages per tile. The
migration runs the same statement; ``create_all`` runs it through the event below."""

_plain = DDL(TILE_STORAGE)  # type: ignore[no-untyped-call]  # (DDL's __init__ is not annotated)
event.listen(MerkleLogTile.__table__, "after_create", _plain.execute_if(dialect="postgresql"))


class MerkleLogRange(Base):
    """The compact range of a log at a size it was appended to: the hashes of the perfect
    subtrees covering leaves ``[0, size)``, left to right (highest level first)."""

    __tablename__ = "merkle_log_range"

    log_id: Mapped[int] = mapped_column(ForeignKey("merkle_log.id", ondelete="CASCADE"), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        CheckConstraint(
            f"length(hashes) BETWEEN {HASH_SIZE} AND {_RANGE_BYTES} AND length(hashes) % {HASH_SIZE} = 0",
            name="hashes_whole_range",
        ),
    )


TileKey = tuple[int, int]


def _tile_root(hashes: bytes) -> bytes:
    """The root of a full tile: the node of tree level ``7(t + 1)`` above it."""
    level = hashes
    while len(level) > HASH_SIZE:
        level = parents(level)
    return level


@functools.lru_cache(maxsize=512)
def _tile_levels(hashes: bytes) -> tuple[bytes, ...]:
    """The complete nodes of a tile at each of its 7 levels (level 0 is the tile itself).

    Memoised on the tile's bytes, which the levels are a pure function of, so a rolled-back
    append cannot leave a wrong entry behind: the few upper tiles every proof reads are hashed
    once instead of once per proof (two thirds of a proof's 380 SHA-256 at 10M leaves).
    """
    levels = [hashes]
    while len(levels) < TILE_HEIGHT and len(levels[-1]) >= 2 * HASH_SIZE:
        levels.append(parents(levels[-1]))
    return tuple(levels)


def _range_nodes(size: int, hashes: bytes) -> dict[_compact.NodeID, bytes]:
    """The nodes of a stored compact range, by id."""
    ids = _compact.range_nodes(0, size)
    if len(hashes) != HASH_SIZE * len(ids):
        raise LookupError(f"the range stored for size {size} has {len(hashes)} bytes, not {HASH_SIZE * len(ids)}")
    return {node: hashes[i * HASH_SIZE : (i + 1) * HASH_SIZE] for i, node in enumerate(ids)}


_Rows = sa.CompoundSelect[int, int, Any, bytes]
"""``(kind, a, b, hashes)``: the rows of the statements below."""


def _tile_arms(tiles: int, log_id: sa.ColumnElement[Any]) -> list[Any]:
    """One ``SELECT 2, level, number, hashes`` per tile, by its whole primary key: both planners
    turn each into one index lookup. An OR of the keys was a scan of all the log's tiles on
    SQLite once the log id came from a subquery (2.3 ms at 1M leaves, against 0.03 ms), and a
    row-value ``(level, number) IN (...)`` is one there even without it."""
    tile = MerkleLogTile
    return [
        sa.select(sa.literal_column("2", sa.Integer), tile.level, tile.number, tile.hashes).where(
            tile.log_id == log_id, tile.level == sa.bindparam(f"l{k}"), tile.number == sa.bindparam(f"n{k}")
        )
        for k in range(tiles)
    ]


def _tile_params(keys: Sequence[TileKey]) -> dict[str, int]:
    params = {}
    for k, (level, number) in enumerate(keys):
        params[f"l{k}"], params[f"n{k}"] = level, number
    return params


# Statements are built once per shape (how many tiles, which sizes) and then only bound: building
# the expression and compiling it cost as much as the database's answer (bench/README-merkle.md).


@functools.cache
def _tiles_statement(tiles: int) -> _Rows:
    return sa.union_all(*_tile_arms(tiles, sa.bindparam("log")))


@functools.cache
def _read_statement(current: bool, sizes: int, tiles: int) -> _Rows:
    """One statement for the head of log ``:name``, its compact ranges at the current size and/or
    at ``:sizes``, and ``tiles`` tiles: rows ``(0, id, size, root)``, ``(1, size, NULL, hashes)``
    and ``(2, level, number, hashes)``. A proof with a cold cache pays for every round trip."""
    head, stored = MerkleLogHead, MerkleLogRange
    name = sa.bindparam("name", type_=String)
    log_id = sa.select(head.id).where(head.name == name).scalar_subquery()
    kind = sa.literal_column("0", sa.Integer).label("kind")
    parts: list[Any] = [
        sa.select(kind, head.id.label("a"), head.size.label("b"), head.root.label("hashes")).where(head.name == name)
    ]
    which = [stored.size == sa.select(head.size).where(head.name == name).scalar_subquery()] if current else []
    if sizes:
        which.append(stored.size.in_(sa.bindparam("sizes", expanding=True)))
    if which:
        ranges = sa.select(sa.literal_column("1", sa.Integer), stored.size, sa.null(), stored.hashes)
        parts.append(ranges.where(stored.log_id == log_id, sa.or_(*which)))
    return sa.union_all(*parts, *_tile_arms(tiles, log_id))


@functools.cache
def _upper_statement() -> sa.Select[int, int, bytes]:
    """The tiles above the leaf tiles of log ``:log`` numbered up to ``:last``."""
    tile = MerkleLogTile
    return sa.select(tile.level, tile.number, tile.hashes).where(
        tile.log_id == sa.bindparam("log"), tile.level >= 1, tile.number <= sa.bindparam("last"))


PROOFS_AT_ONCE = 96
"""Inclusion proofs read per query by :meth:`StoredLog.inclusion_proofs`: one tile arm each per
level below the kept upper tiles, so at most 4 x 96 arms at 2^28 leaves, within SQLite's 500
terms of a compound SELECT."""

UPPER_TILES_KEPT = 4096
"""At most this many upper tiles (16 MiB) are kept in the process over all sizes: every one of a
log up to 64M leaves for one size, or of 10M leaves for six."""


@dataclass(slots=True)
class _Kept:
    """The upper tiles of a log read at one size, and the compact range stored at that size when
    they were read."""

    range: bytes
    tiles: dict[TileKey, bytes]
    complete: bool
    """Every upper tile holding a node below the size is here."""


class _UpperTiles:
    """Upper tiles kept per (database, log, size), least recently used dropped first."""

    def __init__(self, limit: int = UPPER_TILES_KEPT) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str, int], _Kept] = OrderedDict()

    def get(self, key: tuple[str, str, int]) -> _Kept | None:
        with self._lock:
            kept = self._entries.get(key)
            if kept is not None:
                self._entries.move_to_end(key)
            return kept

    def put(self, key: tuple[str, str, int], kept: _Kept) -> None:
        with self._lock:
            self._entries[key] = kept
            self._entries.move_to_end(key)
            while sum(len(e.tiles) for e in self._entries.values()) > self.limit and len(self._entries) > 1:
                self._entries.popitem(last=False)
            if len(kept.tiles) > self.limit:
                self._entries.pop(key, None)

    def drop(self, key: tuple[str, str, int]) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


UPPER_TILES = _UpperTiles()
"""The process's kept upper tiles (``UPPER_TILES.clear()`` forgets them)."""


def _upper_count(size: int) -> int:
    """How many upper tiles hold a node below ``size``."""
    count, t = 0, 1
    while size > 1 << (TILE_HEIGHT * t):
        count += ((size - 1) >> (TILE_HEIGHT * (t + 1))) + 1
        t += 1
    return count


class _Nodes:
    """Perfect-subtree hashes of one log, read from its tiles (plus tiles not yet in the DB, and
    nodes already known from a compact range)."""

    def __init__(
        self,
        session: Session,
        log_id: int | None,
        overlay: dict[TileKey, bytes],
        known: Mapping[_compact.NodeID, bytes] | None = None,
    ) -> None:
        self._session = session
        self._log_id = log_id
        self._tiles: dict[TileKey, bytes] = dict(overlay)
        self._levels: dict[TileKey, tuple[bytes, ...]] = {}
        self._known = known or {}

    @staticmethod
    def tile_of(node: _compact.NodeID) -> TileKey:
        level, index = node
        t, k = divmod(level, TILE_HEIGHT)
        return t, (index << k) >> TILE_HEIGHT

    def tile(self, key: TileKey) -> bytes:
        self.load([key])
        return self._tiles[key]

    def load(self, keys: Iterable[TileKey]) -> None:
        missing = sorted({key for key in keys if key not in self._tiles})
        if not missing:
            return
        if self._log_id is None:
            raise LookupError(f"tiles {missing} of an empty log")
        params = {"log": self._log_id, **_tile_params(missing)}
        for _, level, number, hashes in self._session.execute(_tiles_statement(len(missing)), params):
            self._tiles[(level, number)] = bytes(hashes)
        absent = set(missing) - self._tiles.keys()
        if absent:
            raise LookupError(f"log {self._log_id} is missing tiles {sorted(absent)}")

    def get(self, nodes: Sequence[_compact.NodeID]) -> list[bytes]:
        known = self._known
        self.load(self.tile_of(n) for n in nodes if n not in known)
        out = []
        for node in nodes:
            found = known.get(node)
            if found is not None:
                out.append(found)
                continue
            level, index = node
            t, k = divmod(level, TILE_HEIGHT)
            key = (t, (index << k) >> TILE_HEIGHT)
            levels = self._levels.get(key)
            if levels is None or len(levels) <= k:
                levels = self._levels[key] = _tile_levels(self._tiles[key])
            offset = (index - (key[1] << (TILE_HEIGHT - k))) * HASH_SIZE
            hashed = levels[k][offset : offset + HASH_SIZE]
            if len(hashed) != HASH_SIZE:
                raise LookupError(f"node ({level}, {index}) is not in tile {key}")
            out.append(hashed)
        return out


@dataclass(frozen=True, slots=True)
class _View:
    """What one read of the head (and of the compact ranges asked for) says about a log."""

    log_id: int | None
    size: int
    root: bytes
    ranges: dict[int, bytes] = field(default_factory=dict)

    def known(self, *sizes: int) -> dict[_compact.NodeID, bytes]:
        """The nodes of the compact ranges stored for ``sizes`` (those that were appended at)."""
        out: dict[_compact.NodeID, bytes] = {}
        for size in sizes:
            hashes = self.ranges.get(size)
            if hashes is not None:
                out.update(_range_nodes(size, hashes))
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

    def _read(self, sizes: Sequence[int | None], tiles: Iterable[TileKey] = ()) -> tuple[_View, dict[TileKey, bytes]]:
        """The head, the compact ranges stored at ``sizes`` (``None``: the current size) and the
        tiles asked for (those that exist), in one query."""
        given = sorted({s for s in sizes if s is not None})
        keys = sorted(set(tiles))
        statement = _read_statement(None in sizes, len(given), len(keys))
        params: dict[str, Any] = {"name": self.name, **_tile_params(keys)}
        if given:
            params["sizes"] = given
        view, ranges, found = _View(None, 0, EMPTY_ROOT), {}, {}
        for kind, a, b, hashes in self.session.execute(statement, params):
            if kind == 0:
                view = _View(a, b, bytes(hashes))
            elif kind == 1:
                ranges[a] = bytes(hashes)
            else:
                found[(a, b)] = bytes(hashes)
        view.ranges.update(ranges)
        return view, found

    def _view(self, *sizes: int | None) -> _View:
        return self._read(sizes)[0]

    def size(self) -> int:
        """The number of leaves."""
        head = self._head()
        return 0 if head is None else head[1]

    @staticmethod
    def _check_size(view: _View, size: int | None) -> int:
        if size is None:
            return view.size
        if not 0 <= size <= view.size:
            raise ValueError(f"tree size {size} is outside 0..{view.size}")
        return size

    # --- reading ------------------------------------------------------------------------------

    def root(self, size: int | None = None) -> bytes:
        """``MTH(D[size])`` (RFC 9162 §2.1.1); the current root by default."""
        view = self._view() if size is None else self._view(size)
        size = self._check_size(view, size)
        if size == view.size:
            return view.root
        if size == 0:
            return EMPTY_ROOT
        return _root(_Nodes(self.session, view.log_id, {}, view.known(size)), size)

    def compact_range(self, size: int | None = None) -> list[bytes]:
        """The compact range of the log at ``size`` (current by default): the roots of the
        perfect subtrees that cover leaves ``[0, size)``, left to right, at most log2(size)
        hashes, from which anyone appends further leaves and computes every later root."""
        view = self._view() if size is None else self._view(size)
        size = self._check_size(view, size)
        if size == 0:
            return []
        return _Nodes(self.session, view.log_id, {}, view.known(size)).get(_compact.range_nodes(0, size))

    def leaf_hash(self, index: int) -> bytes:
        """The hash of leaf ``index``."""
        head = self._head()
        log_id, size = (None, 0) if head is None else (head[0], head[1])
        if not 0 <= index < size:
            raise IndexError(f"leaf index {index} is outside a log of size {size}")
        return _Nodes(self.session, log_id, {}).get([(0, index)])[0]

    def leaf_hashes(self, start: int = 0, end: int | None = None) -> list[bytes]:
        """The hashes of leaves ``start`` to ``end - 1`` (to the last leaf by default)."""
        head = self._head()
        log_id, size = (None, 0) if head is None else (head[0], head[1])
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
        """``PATH(index, D[size])`` (RFC 9162 §2.1.3.1); in the current tree by default.

        At a given size the log was appended to (an epoch's), this is one query: the head, that
        size's compact range and the tiles on the leaf's path below the fork (3 at 10M leaves).
        """
        current = size is None
        if current:
            view, tiles = self._read([None])
            size = view.size
        assert size is not None
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of size {size}")
        plan = _compact.inclusion_plan(index, size)
        if not current:
            view, tiles = self._read_kept(size, _path_tiles(plan, size))
        nodes = _Nodes(self.session, view.log_id, tiles, view.known(size))  # no range stored: more tiles
        return plan.rehash(nodes.get(plan.ids), hash_children)

    def inclusion_proofs(self, indexes: Sequence[int], size: int) -> list[list[bytes]]:
        """``PATH(index, D[size])`` (RFC 9162 §2.1.3.1) for each of ``indexes``, at a size the
        log was appended to: what :meth:`inclusion_proof` gives one at a time, in one query per
        :data:`PROOFS_AT_ONCE` proofs (the head, the size's compact range and the tiles on all
        their paths)."""
        for index in indexes:
            if not 0 <= index < size:
                raise ValueError(f"leaf index {index} is outside a tree of size {size}")
        proofs: list[list[bytes]] = []
        for start in range(0, len(indexes), PROOFS_AT_ONCE):
            plans = [_compact.inclusion_plan(index, size) for index in indexes[start:start + PROOFS_AT_ONCE]]
            view, tiles = self._read_kept(size, set().union(*(_path_tiles(plan, size) for plan in plans)))
            nodes = _Nodes(self.session, view.log_id, tiles, view.known(size))
            proofs.extend(plan.rehash(nodes.get(plan.ids), hash_children) for plan in plans)
        return proofs

    def _kept_key(self, size: int) -> tuple[str, str, int]:
        bind = self.session.get_bind()
        engine = bind.engine if isinstance(bind, sa.Connection) else bind
        return str(engine.url), self.name, size

    def _read_kept(self, size: int, keys: set[TileKey]) -> tuple[_View, dict[TileKey, bytes]]:
        """:meth:`_read` of the head, the range at ``size`` and tiles ``keys``, the upper ones
        among them from :data:`UPPER_TILES` when the range read is the one they were kept with.
        The first proof at a size reads and keeps every upper tile below it."""
        key = self._kept_key(size)
        kept = UPPER_TILES.get(key)
        if kept is not None and kept.complete:
            wanted = {k for k in keys if k[0] == 0}
        else:
            wanted = {k for k in keys if kept is None or k not in kept.tiles}
        view, tiles = self._read([size], wanted)
        self._check_size(view, size)
        stored_range = view.ranges.get(size)
        if kept is not None and stored_range == kept.range:
            fresh = {k: h for k, h in tiles.items() if k[0] >= 1}
            if fresh:
                kept.tiles.update(fresh)
                UPPER_TILES.put(key, kept)
            tiles.update((k, kept.tiles[k]) for k in keys if k in kept.tiles)
            return view, tiles
        if kept is not None:  # kept at another history of the log (a rolled-back append)
            UPPER_TILES.drop(key)
        if stored_range is None or view.log_id is None:
            return view, tiles  # a size never appended at: nothing to check kept tiles against
        upper = {k: h for k, h in tiles.items() if k[0] >= 1}
        complete = _upper_count(size) <= UPPER_TILES.limit
        if complete:
            # Tile (t, N) starts at leaf N << 7(t + 1): the statement asks level 1's bound, the
            # loosest, and the test below keeps what holds a node below the size.
            rows = self.session.execute(_upper_statement(), {"log": view.log_id,
                                                             "last": (size - 1) >> (2 * TILE_HEIGHT)})
            for level, number, hashes in rows:
                if number << (TILE_HEIGHT * (level + 1)) < size:
                    upper[(level, number)] = bytes(hashes)
            tiles.update((k, upper[k]) for k in keys if k in upper)
        UPPER_TILES.put(key, _Kept(stored_range, upper, complete))
        return view, tiles

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """``PROOF(first, D[second])`` (RFC 9162 §2.1.4.1); up to the current tree by default.

        The seed is the last subtree of ``first``'s compact range; the rest is ``second``'s range
        and the tiles on the seed's path, read in one query when ``second`` is given.
        """
        current = second is None
        if current:
            view, tiles = self._read([None, first])
            second = view.size
        assert second is not None
        if not 0 <= first <= second:
            raise ValueError(f"cannot prove consistency of size {first} with size {second}")
        plan = _compact.consistency_plan(first, second)
        if not current:
            view, tiles = self._read([first, second], _path_tiles(plan, first, second))
            self._check_size(view, second)
        if not plan.ids:
            return []
        nodes = _Nodes(self.session, view.log_id, tiles, view.known(first, second))
        return plan.rehash(nodes.get(plan.ids), hash_children)

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
                    # The tile just filled up: its root is the next node of tree level 7(t + 1),
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

        compact = _Nodes(self.session, log_id, written).get(_compact.range_nodes(0, new))
        new_root = _compact.fold_range(compact, hash_children)
        moved = self.session.execute(
            sa.update(MerkleLogHead)
            .where(MerkleLogHead.id == log_id, MerkleLogHead.size == old)
            .values(size=new, root=new_root)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise ConcurrentAppendError(f"log {self.name!r} changed size during an append")
        self.session.execute(sa.insert(MerkleLogRange).values(log_id=log_id, size=new, hashes=b"".join(compact)))
        return new_root


def _path_tiles(plan: _compact.ProofPlan, *sizes: int) -> set[TileKey]:
    """The tiles a proof needs besides the compact ranges of ``sizes``: those on its path."""
    ranged = {node for size in sizes for node in _compact.range_nodes(0, size)}
    return {_Nodes.tile_of(node) for node in plan.ids if node not in ranged}


def _levels(size: int) -> int:
    """How many tile levels a log of ``size`` leaves has (tiles with at least one hash)."""
    t = 0
    while size >> (TILE_HEIGHT * t):
        t += 1
    return t


def _root(nodes: _Nodes, size: int) -> bytes:
    return _compact.fold_range(nodes.get(_compact.range_nodes(0, size)), hash_children)
