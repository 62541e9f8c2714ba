"""Indexing the contributions the near-duplicate check has not seen: those accepted before it
existed (migration 0005 added the index empty) or while it was off (``TALLY_NEAR_DUPLICATES=accept``).

The leader runs a ``NearDuplicateBackfill`` with its storage job while the check is on: each pass
takes up to ``limit`` such contributions in id order, reads each one's canonical bytes from the
content store (decrypted with the master key in privacy mode, checked against its contentHash),
and records its signature and band keys under the locks intake takes, so that a near-copy
submitted afterwards is refused naming it. A contribution that cannot be read now (its bytes on
an IPFS node that is down, say) is tried again on the next pass through the table; an erased
one has nothing left to index and is never selected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from ledger.content import ContentStore
from ledger.conversation import normalise
from ledger.db import serialise_each
from ledger.errors import TallyError
from ledger.models import Contribution
from ledger.near_duplicate_index import index_bands, near_duplicate_locks
from ledger.near_duplicates import signature
from ledger.privacy import read_conversation

__all__ = ["NearDuplicateBackfill"]


@dataclass
class NearDuplicateBackfill:
    """One pass a call; ``after`` is where the next pass starts (0: from the beginning)."""

    sessions: sessionmaker[Session]
    store: ContentStore
    master_key: bytes | None
    limit: int = 200
    after: int = 0

    def __call__(self) -> int:
        """Index the next unindexed contributions; how many it indexed. The content is read
        between two transactions: reading it may need a session of its own (bytes not yet
        hardened are read from the database), and on SQLite a transaction holds the write lock."""
        with self.sessions() as session:
            rows = list(session.scalars(
                select(Contribution)
                .where(Contribution.near_duplicate_sketch.is_(None), Contribution.erased_at.is_(None),
                       Contribution.id > self.after)
                .order_by(Contribution.id).limit(self.limit)
            ))
        self.after = rows[-1].id if len(rows) == self.limit else 0
        indexed = []
        for row in rows:
            try:
                text = normalise(json.loads(read_conversation(self.store, row, self.master_key)))
            except (TallyError, ValueError):
                continue  # unreadable for now (or without the master key): the next pass tries again
            sig = signature(text)
            indexed.append((row.id, sig.to_bytes(), sig.band_keys()))
        if not indexed:
            return 0
        with self.sessions() as session, session.begin():
            serialise_each(session, near_duplicate_locks(keys for _, _, keys in indexed))
            for row_id, stored, _ in indexed:
                # Still unindexed and not erased meanwhile: erasure forgets the text for good.
                session.execute(update(Contribution)
                                .where(Contribution.id == row_id, Contribution.erased_at.is_(None),
                                       Contribution.near_duplicate_sketch.is_(None))
                                .values(near_duplicate_sketch=stored))
            written = set(session.scalars(select(Contribution.id).where(
                Contribution.id.in_([row_id for row_id, _, _ in indexed]),
                Contribution.near_duplicate_sketch.in_([stored for _, stored, _ in indexed]))))
            index_bands(session, [(row_id, keys) for row_id, _, keys in indexed if row_id in written])
        return len(written)
