"""The ranges of the integers that name rows, and the one check that a number is in range.

Epoch numbers are 32-bit columns (``Integer``) and row ids 64-bit (``BigInteger``), see
``ledger.models``. A number past its column's range names nothing, and must not reach the
database: PostgreSQL refuses it with an error (and SQLite's driver with an ``OverflowError``)
instead of finding no row. Every request is checked at the edge, and out of range is the same
answer everywhere: 422 ``invalid-request`` naming the range (DESIGN.md §8), never 404 nor 500.
"""

from __future__ import annotations

from ledger.errors import InvalidFieldError

MAX_EPOCH = (1 << 31) - 1
"""The largest epoch number (a signed 32-bit column); epochs count from 1."""

MAX_ROW_ID = (1 << 63) - 1
"""The largest row id (a signed 64-bit column): contributions, journal entries; ids count from 1."""


def in_range(value: int, field: str, maximum: int = MAX_ROW_ID) -> int:
    """``value`` when it is from 1 to ``maximum``; else the ``invalid-request`` naming ``field``."""
    if not 1 <= value <= maximum:
        raise InvalidFieldError(field, f"must be an integer from 1 to {maximum}")
    return value
