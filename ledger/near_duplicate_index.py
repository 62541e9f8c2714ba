"""The near-duplicate check of intake, against the band index every replica shares.

Inside the intake transaction: the submissions' band keys (``ledger.near_duplicates``) are
locked (PostgreSQL: transaction advisory locks, taken in key order so two batches cannot
deadlock; SQLite: every write transaction already holds the database lock), then the
contributions sharing a key are read with their sketches (only theirs) and compared. Two
racing near-copies share a band key almost surely, so the second waits for the first to commit
and then sees it: they cannot both pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from ledger.db import LockKey, lock_key, table_of
from ledger.errors import ConflictError
from ledger.models import Contribution, NearDuplicateKey
from ledger.near_duplicates import Signature

NEAR_DUPLICATE_LOCKS = 0x7A11ED
"""The advisory-lock namespace (classid) of band keys, apart from the sealing and leader locks."""


class NearDuplicateError(ConflictError):
    """Nearly the same text as an accepted contribution (case, spacing, punctuation, a few
    words or a message changed): refused like an exact duplicate, naming the earlier one."""

    code = "near-duplicate"

    def __init__(self, existing_id: int | None) -> None:
        where = f"contribution {existing_id}" if existing_id is not None else "an item earlier in this batch"
        super().__init__(f"this conversation is nearly the same as {where}; nothing was written",
                         existing=existing_id)
        self.existing_id = existing_id


@dataclass(frozen=True, slots=True)
class Match:
    """An accepted contribution a submission nearly duplicates (``exact``: same contentHash)."""

    existing_id: int
    exact: bool


def near_duplicate_locks(band_keys: Iterable[Sequence[int]]) -> list[LockKey]:
    """The locks ``near_duplicate_refusals`` needs held for submissions with these band keys."""
    return [lock_key(NEAR_DUPLICATE_LOCKS, key) for keys in band_keys for key in keys]


Candidate = tuple[int, int, bytes | None, bytes]
"""A row of the band index joined to its contribution: (band key, contribution id, its
signature, its contentHash)."""

NearDuplicateItem = tuple[Signature, Sequence[int], bytes]
"""A submission as the check sees it: (its signature, its band keys, its contentHash)."""


CANDIDATES_OF_ARRAY = text(
    "SELECT b.key, c.id, c.near_duplicate_sketch, c.content_hash FROM near_duplicate_keys AS b"
    " JOIN contributions AS c ON c.id = b.contribution_id WHERE b.key = ANY(CAST(:keys AS BIGINT[]))")
"""``near_duplicate_refusals``' read on PostgreSQL, the keys as one array parameter: the same rows
as ``IN`` of a parameter a key, in a statement whose text is the same for every batch (the driver
converts it and the server plans it once)."""


def near_duplicate_refusals(
    session: Session, items: Sequence[NearDuplicateItem],
) -> list[Match | NearDuplicateError | None]:
    """For each (signature, its band keys, contentHash), in batch order: the accepted
    contribution it matches (exactly, or nearly), a refusal if it nearly duplicates an earlier
    item of the same batch, else None. Call with ``near_duplicate_locks`` held (``serialise_each``)."""
    every_key = sorted({k for _, keys, _ in items for k in keys})
    if not every_key:
        return [None] * len(items)
    rows: Iterable[Any]
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(CANDIDATES_OF_ARRAY, {"keys": every_key})
    else:
        rows = session.execute(
            select(NearDuplicateKey.key, Contribution.id, Contribution.near_duplicate_sketch,
                   Contribution.content_hash)
            .join(Contribution, Contribution.id == NearDuplicateKey.contribution_id)
            .where(NearDuplicateKey.key.in_(every_key))
        )
    return match_near_duplicates(items, [tuple(row) for row in rows])


def match_near_duplicates(
    items: Sequence[NearDuplicateItem], candidates: Iterable[Candidate],
) -> list[Match | NearDuplicateError | None]:
    """``near_duplicate_refusals``' answer from the candidates read for the items' band keys."""
    signatures = [sig for sig, _, _ in items]
    known: dict[int, tuple[Signature, bytes]] = {}
    by_key: dict[int, list[int]] = {}
    for key, row_id, stored, content_hash in candidates:
        # A sketch of another version (a replica's before migration 0015) is never compared.
        sketch = Signature.from_bytes(bytes(stored)) if stored is not None else None
        if sketch is not None:
            known[row_id] = (sketch, bytes(content_hash))
            by_key.setdefault(key, []).append(row_id)
    refusals: list[Match | NearDuplicateError | None] = []
    # The batch's own accepted items by band key: an item is compared with those sharing a band
    # with it, as with the ledger's, so a batch refuses what the same items sent one by one would.
    accepted_by_key: dict[int, list[int]] = {}
    for i, (sig, item_keys, content_hash) in enumerate(items):
        candidate_ids = sorted({row_id for k in item_keys for row_id in by_key.get(k, ())})
        exact = next((row_id for row_id in candidate_ids if known[row_id][1] == content_hash), None)
        near = next((row_id for row_id in candidate_ids if sig.is_near_duplicate_of(known[row_id][0])), None)
        earlier = sorted({j for k in item_keys for j in accepted_by_key.get(k, ())})
        if exact is not None:
            refusals.append(Match(exact, exact=True))
        elif near is not None:
            refusals.append(Match(near, exact=False))
        elif any(sig.is_near_duplicate_of(signatures[j]) for j in earlier):
            refusals.append(NearDuplicateError(None))
        else:
            refusals.append(None)
            for k in item_keys:
                accepted_by_key.setdefault(k, []).append(i)
    return refusals


def band_rows(items: Sequence[tuple[int, Sequence[int]]]) -> list[dict[str, int]]:
    """The index rows of freshly inserted contributions, (id, band keys)."""
    return [{"key": key, "contribution_id": row_id} for row_id, keys in items for key in sorted(set(keys))]


def index_bands(session: Session, items: Sequence[tuple[int, Sequence[int]]]) -> None:
    """Add freshly inserted contributions, (id, band keys), to the index."""
    rows = band_rows(items)
    if rows:
        session.execute(insert(table_of(NearDuplicateKey)), rows)
