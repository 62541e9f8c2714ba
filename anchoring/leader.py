"""Leader election: exactly one process of a deployment runs the sealing and anchoring jobs.

PostgreSQL: a session-level advisory lock held on a dedicated connection; it is released by the
server the moment that connection dies, with its process. SQLite: an exclusive lock on a file
beside the database, released by the kernel when the process dies. Followers keep trying, so
another process takes over as soon as the leader is gone.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger("tally.leader")

ADVISORY_KEY = 0x7A11_1EAD


class Leadership(Protocol):
    def try_acquire(self) -> bool:
        """True while this process leads; acquires leadership when it is free."""

    def release(self) -> None: ...


class PostgresLeadership:
    def __init__(self, engine: Engine, key: int = ADVISORY_KEY) -> None:
        self.engine = engine
        self.key = key
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT 1"))
                return True
            except Exception:
                log.warning("lost the leader connection; leadership is gone")
                self._drop()
        try:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except Exception:
            return False
        if conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar():
            self._conn = conn
            log.info("this process is now the leader")
            return True
        conn.close()
        return False

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            finally:
                self._drop()


class FileLeadership:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One lock for the process, whichever scheduler thread asks.
        self._lock = FileLock(str(path), thread_local=False)

    def try_acquire(self) -> bool:
        if self._lock.is_locked:
            return True
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        log.info("this process is now the leader")
        return True

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)


def leadership_for(engine: Engine, home: Path) -> Leadership:
    if engine.dialect.name == "postgresql":
        return PostgresLeadership(engine)
    return FileLeadership(home / "leader.lock")
