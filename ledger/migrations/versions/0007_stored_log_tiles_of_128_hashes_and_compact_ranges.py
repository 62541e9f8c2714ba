"""the stored log: tiles of 128 hashes kept in their row, and the compact range at every appended size

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 18:00:00.000000

Tiles of 256 hashes (8 KiB) do not fit in a PostgreSQL page and went to TOAST, which made a proof
read with a cold cache 20-26 pages; tiles of 128 hashes stay in their row (ledger.merkle.stored
explains the measurement). The tiles are rebuilt from the leaf hashes, which both layouts store
as their level 0, and the result is checked against the root in the log's head. The compact
range of each log's current size and of every epoch's size is stored too, so that proofs at
those sizes skip the right edge of the tree.

The code here is self-contained (hashlib and SQL), so that it keeps doing what it did when the
ledger's own code changes. A log is read and written in slices of 2**17 leaves, so memory does
not grow with the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

HASH = 32
SLICE = 1 << 17  # leaves read, hashed and written at a time
TILE = sa.table('merkle_log_tile', sa.column('log_id'), sa.column('level'), sa.column('number'),
                sa.column('hashes'))
HOLD = sa.table('merkle_log_tile_hold', sa.column('log_id'), sa.column('level'), sa.column('number'),
                sa.column('hashes'))
HEAD = sa.table('merkle_log', sa.column('id'), sa.column('name'), sa.column('size'), sa.column('root'))
RANGE = sa.table('merkle_log_range', sa.column('log_id'), sa.column('size'), sa.column('hashes'))


def _parents(level: bytes) -> bytes:
    sha = hashlib.sha256
    return b"".join([sha(b"\x01" + level[i:i + 64]).digest() for i in range(0, len(level) - 63, 64)])


def _check(height: int) -> str:
    return f"length(hashes) BETWEEN {HASH} AND {HASH << height} AND length(hashes) % {HASH} = 0"


class _Tiler:
    """Writes the tiles of one log at one height, fed its leaf hashes in order."""

    def __init__(self, conn: sa.Connection, log_id: int, height: int) -> None:
        self.conn, self.log_id, self.height = conn, log_id, height
        self.width = HASH << height
        self.pending: list[bytearray] = []  # per tile level, the hashes of its unfinished tile
        self.numbers: list[int] = []  # per tile level, the number of that tile
        self.rows: list[dict[str, object]] = []

    def feed(self, t: int, data: bytes) -> None:
        if t == len(self.pending):
            self.pending.append(bytearray())
            self.numbers.append(0)
        buffer = self.pending[t]
        buffer += data
        full = len(buffer) - len(buffer) % self.width
        if not full:
            return
        tiles = bytes(buffer[:full])
        del buffer[:full]
        roots = []
        for j in range(0, full, self.width):
            tile = tiles[j:j + self.width]
            self.rows.append({"log_id": self.log_id, "level": t, "number": self.numbers[t], "hashes": tile})
            self.numbers[t] += 1
            for _ in range(self.height):
                tile = _parents(tile)
            roots.append(tile)
        self.flush(1000)
        self.feed(t + 1, b"".join(roots))

    def flush(self, at_least: int = 1) -> None:
        if len(self.rows) >= at_least:
            self.conn.execute(sa.insert(TILE), self.rows)
            self.rows = []

    def close(self) -> None:
        for t, buffer in enumerate(self.pending):
            if buffer:
                self.rows.append({"log_id": self.log_id, "level": t, "number": self.numbers[t],
                                  "hashes": bytes(buffer)})
        self.flush()


def _leaves(conn: sa.Connection, table: sa.TableClause, log_id: int, height: int, size: int) -> Iterator[bytes]:
    """The leaf hashes of a log, in slices, from the level-0 tiles of ``table``."""
    per, tiles = SLICE >> height, -(-size // (1 << height))
    for start in range(0, tiles, per):
        rows = conn.execute(
            sa.select(table.c.number, table.c.hashes)
            .where(table.c.log_id == log_id, table.c.level == 0, table.c.number >= start,
                   table.c.number < start + per)
            .order_by(table.c.number)
        ).all()
        if [r[0] for r in rows] != list(range(start, min(start + per, tiles))):
            raise RuntimeError(f"log {log_id}: level-0 tiles from {start} on are not consecutive")
        yield b"".join(bytes(r[1]) for r in rows)


def _node(conn: sa.Connection, log_id: int, height: int, level: int, index: int) -> bytes:
    """The hash of perfect subtree ``(level, index)`` from the tiles of ``height`` just written."""
    t, k = divmod(level, height)
    number = (index << k) >> height
    hashes = conn.execute(
        sa.select(TILE.c.hashes).where(TILE.c.log_id == log_id, TILE.c.level == t, TILE.c.number == number)
    ).scalar_one()
    first = (index << k) - (number << height)
    run = bytes(hashes)[first * HASH:(first + (1 << k)) * HASH]
    if len(run) != HASH << k:
        raise RuntimeError(f"log {log_id}: node ({level}, {index}) is not complete")
    for _ in range(k):
        run = _parents(run)
    return run


def _compact_range(conn: sa.Connection, log_id: int, height: int, size: int) -> list[bytes]:
    """The perfect subtrees covering leaves [0, size), left to right."""
    out, position = [], 0
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            out.append(_node(conn, log_id, height, level, position >> level))
            position += 1 << level
    return out


def _fold(hashes: list[bytes]) -> bytes:
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = hashlib.sha256(b"\x01" + h + acc).digest()
    return acc


def _retile(to_height: int, from_height: int, ranges: bool) -> None:
    """Move every tile aside, set the constraint of ``to_height``, rebuild the tiles from the
    leaves and check each log's root; with ``ranges``, store the compact ranges too."""
    conn = op.get_bind()
    postgres = conn.dialect.name == "postgresql"
    # Keyed like the tiles: each slice of leaves is then read by key, not by scanning the table.
    op.create_table('merkle_log_tile_hold',
                    sa.Column('log_id', sa.Integer(), nullable=False),
                    sa.Column('level', sa.SmallInteger(), nullable=False),
                    sa.Column('number', sa.BigInteger(), nullable=False),
                    sa.Column('hashes', sa.LargeBinary(), nullable=False),
                    sa.PrimaryKeyConstraint('log_id', 'level', 'number', name='pk_merkle_log_tile_hold'))
    conn.execute(sa.insert(HOLD).from_select(['log_id', 'level', 'number', 'hashes'],
                                             sa.select(TILE.c.log_id, TILE.c.level, TILE.c.number, TILE.c.hashes)))
    conn.execute(sa.delete(TILE))
    with op.batch_alter_table('merkle_log_tile', schema=None) as batch_op:  # empty: cheap on SQLite
        batch_op.drop_constraint(op.f('ck_merkle_log_tile_hashes_whole_tile'), type_='check')
        batch_op.create_check_constraint(op.f('ck_merkle_log_tile_hashes_whole_tile'), sa.text(_check(to_height)))
    if postgres:
        # Kept in the row (ledger.merkle.stored.TILE_STORAGE) at 128 hashes; 8 KiB needs TOAST.
        storage = "PLAIN" if to_height <= 7 else "EXTENDED"
        op.execute(f"ALTER TABLE merkle_log_tile ALTER COLUMN hashes SET STORAGE {storage}")

    epochs = set()
    if ranges and sa.inspect(conn).has_table('epochs'):
        epochs = {s for (s,) in conn.execute(sa.text("SELECT DISTINCT log_size FROM epochs")) if s}
    for log_id, name, size, root in conn.execute(sa.select(HEAD.c.id, HEAD.c.name, HEAD.c.size, HEAD.c.root)).all():
        if not size:
            continue
        tiler = _Tiler(conn, log_id, to_height)
        for leaves in _leaves(conn, HOLD, log_id, from_height, size):
            tiler.feed(0, leaves)
        tiler.close()
        if tiler.numbers[0] * (1 << to_height) + len(tiler.pending[0]) // HASH != size:
            raise RuntimeError(f"log {name!r}: its tiles hold a number of leaves other than its size {size}")
        compact = _compact_range(conn, log_id, to_height, size)
        if _fold(compact) != bytes(root):
            raise RuntimeError(f"log {name!r}: the rebuilt tiles do not give the root in its head")
        if ranges:
            sizes = {size} | ({s for s in epochs if s < size} if name == "contributions" else set())
            conn.execute(sa.insert(RANGE), [
                {"log_id": log_id, "size": s,
                 "hashes": b"".join(compact if s == size else _compact_range(conn, log_id, to_height, s))}
                for s in sorted(sizes)
            ])
    op.drop_table('merkle_log_tile_hold')


def upgrade() -> None:
    op.create_table('merkle_log_range',
    sa.Column('log_id', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hashes', sa.LargeBinary(), nullable=False),
    sa.CheckConstraint('length(hashes) BETWEEN 32 AND 2048 AND length(hashes) % 32 = 0',
                       name=op.f('ck_merkle_log_range_hashes_whole_range')),
    sa.ForeignKeyConstraint(['log_id'], ['merkle_log.id'], name=op.f('fk_merkle_log_range_log_id_merkle_log'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('log_id', 'size', name=op.f('pk_merkle_log_range'))
    )
    _retile(7, 8, ranges=True)


def downgrade() -> None:
    op.drop_table('merkle_log_range')
    _retile(8, 7, ranges=False)
