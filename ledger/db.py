"""Database plumbing shared by every table of the ledger: the declarative base and engines.

The ledger runs on SQLite (the embedded default) and PostgreSQL. Nothing here holds a
connection at module level: callers create an engine from a URL and pass sessions down.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, Table, event, func, select, text
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


INTAKE_THREADS = 4
"""How many submissions a server worker runs at once, by default (``TALLY_INTAKE_THREADS``), on
threads of their own beside the request threads. Intake is CPU work: threads that all want the
CPU spend some of it passing CPython's interpreter lock (bench/README-ingest.md: 16.4 ms of CPU a
submission with 20 such threads, 12.0 with 4 on a slow machine; 8.2 and 7.7 on a faster one)."""

POOL_HEADROOM = 4
"""Connections beyond the request and intake threads: the jobs of a worker that leads, and a
request's second session (the per-client count of a batch, or of a body refused before the
database) while its first is being returned."""


def make_engine(url: str, *, threads: int = 20, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the settings Tally relies on for that backend.

    PostgreSQL: a pool as large as the threads that use it (``threads`` plus ``POOL_HEADROOM``)
    and never larger, so that no request opens a session of its own under load (a new
    PostgreSQL session costs a process fork and a few milliseconds of the server's CPU). No
    ping before each checkout, which costs a round trip on every request: a connection the
    server dropped fails its first statement instead, SQLAlchemy then discards the whole pool,
    and that one request is answered 503 (``api.app``'s ``DATABASE_DOWN``)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
        return engine
    kwargs.setdefault("pool_size", threads + POOL_HEADROOM)
    kwargs.setdefault("max_overflow", 0)
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def one_statement(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """A session for work of one statement, which is then its own transaction: on PostgreSQL the
    connection is in autocommit, saving the BEGIN and COMMIT round trips; on SQLite it runs in a
    transaction as usual (BEGIN IMMEDIATE, then COMMIT)."""
    with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session
        else:
            with session.begin():
                yield session


def serialise(session: Session, key: int) -> None:
    """Hold the lock named ``key`` until the session's transaction ends, so that transactions doing
    the same read-then-write run one after the other. PostgreSQL: a transaction-scoped advisory
    lock; SQLite needs nothing: every transaction is BEGIN IMMEDIATE and holds the write lock."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(key)))


LockKey = tuple[int, int]
"""A PostgreSQL two-key advisory lock: (namespace, objid), each a signed 32-bit integer."""

LOCK_KEYS_STATEMENT = text(
    "SELECT pg_advisory_xact_lock(l.namespace, l.objid)"
    " FROM unnest(CAST(:namespaces AS integer[]), CAST(:objids AS integer[])) AS l(namespace, objid)"
    " ORDER BY l.namespace, l.objid"
)
"""One statement for any number of locks, its text the same whatever their number (so the
driver and the server prepare it once); PostgreSQL evaluates a volatile select list after the
sort, so the locks are taken in the order of the keys."""


def lock_key(namespace: int, objid: int) -> LockKey:
    """The lock of ``objid`` in ``namespace``; two objids differing only above their low 31 bits
    share a lock (a wait, never an error)."""
    return namespace, objid & 0x7FFFFFFF


def serialise_each(session: Session, keys: Iterable[LockKey]) -> None:
    """Hold each (namespace, objid) lock until the transaction ends: PostgreSQL's two-key advisory
    locks, all in one statement and in ascending order, so that two transactions locking
    overlapping sets cannot deadlock. SQLite needs nothing (see ``serialise``)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    ordered = sorted(set(keys))
    if ordered:
        session.execute(LOCK_KEYS_STATEMENT, {"namespaces": [n for n, _ in ordered], "objids": [o for _, o in ordered]})
