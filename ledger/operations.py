"""Which operation a log line belongs to: an API request, or one pass of a worker's job.

The API sets the id of each request (its ``X-Request-Id``, or a new one) and the jobs one per pass
(``seal-…``, ``storage-…``, ``anchor-…``) in a context variable, so every line logged while it
runs, in the ledger as anywhere, carries it (``OperationFilter``, installed by the CLI's logging
setup: ``tally.logs``). Context variables follow a request into the threads FastAPI runs its
blocking parts in, and into nothing else, so two requests never mix.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[str | None] = ContextVar("tally_operation", default=None)


def current_operation() -> str | None:
    return _current.get()


def new_operation_id(kind: str) -> str:
    """``<kind>-`` and 12 random hex digits: unique enough to grep for across hosts."""
    return f"{kind}-{secrets.token_hex(6)}"


@contextmanager
def operation(operation_id: str) -> Iterator[str]:
    """Run the block as ``operation_id``; the id before it is back afterwards."""
    token = _current.set(operation_id)
    try:
        yield operation_id
    finally:
        _current.reset(token)


class OperationFilter(logging.Filter):
    """Puts the current operation's id on every record as ``request_id`` (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get()
        return True
