"""Database plumbing shared by every table of the ledger: the declarative base and engines.

The ledger runs on SQLite (the embedded default) and PostgreSQL. Nothing here holds a
connection at module level: callers create an engine from a URL and pass sessions down.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import MetaData, Table, event, func, literal_column, select, values
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Engine, create_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names let Alembic migrations refer to constraints on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every ledger table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, typed as such (for bulk Core statements)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers proceed while one writer commits; the busy timeout makes concurrent
    # writers queue instead of failing with "database is locked". The driver's own implicit
    # BEGIN is turned off so that SQLAlchemy's BEGIN IMMEDIATE (below) and SAVEPOINTs are
    # the only transaction control.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before it returns; acknowledged contributions survive power loss.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    # A deferred transaction that reads, then writes, fails at once with SQLITE_BUSY when another
    # process wrote in between; taking the write lock up front makes it wait its turn instead.
    # The price: on SQLite every transaction holds the write lock, so code never opens a second
    # session while one is open (it would wait on itself).
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the settings Tally relies on for that backend."""
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)


def serialise(session: Session, key: int) -> None:
    """Hold the lock named ``key`` until the session's transaction ends, so that transactions doing
    the same read-then-write run one after the other. PostgreSQL: a transaction-scoped advisory
    lock; SQLite needs nothing: every transaction is BEGIN IMMEDIATE and holds the write lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(key)))


def serialise_each(session: Session, namespace: int, objids: Iterable[int]) -> None:
    """Hold a lock per 32-bit ``objid`` in ``namespace`` until the transaction ends: PostgreSQL's
    two-key advisory locks, all in one statement and in ascending order, so that two
    transactions locking overlapping sets cannot deadlock. SQLite needs nothing (see
    ``serialise``). Two objids differ in their low 31 bits or share a lock (a wait, never an error)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    ordered = sorted({objid & 0x7FFFFFFF for objid in objids})
    if not ordered:
        return
    table = values(literal_column("objid", sqltypes.Integer), name="objids").data([(o,) for o in ordered])
    session.execute(select(func.pg_advisory_xact_lock(namespace, table.c.objid)).order_by(table.c.objid))
