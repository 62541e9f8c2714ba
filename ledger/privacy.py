"""Reading private contributions back, and erasing them on request (crypto-shredding).

In privacy mode the stored object is an envelope (ledger.content.envelope) whose data key,
wrapped by the master key, is kept only in the contribution's row. Erasure destroys that
wrapped key: every copy of the envelope, on any IPFS node or backup, becomes unreadable, while
the public commitment (contentHash, contributor, points in the log) and the points stay.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import CursorResult, delete, update
from sqlalchemy.orm import Session

from ledger.content import ContentStore, envelope
from ledger.content.errors import ContentErasedError
from ledger.feed import unpublish

__all__ = ["ContentErasedError", "erase", "read_conversation", "read_image"]
from ledger.content import cid_of
from ledger.models import Contribution, ContributionImage, NearDuplicateKey


def read_conversation(store: ContentStore, row: Contribution, master_key: bytes | None) -> bytes:
    """The canonical bytes of a contribution, decrypted if needed and checked against its hash."""
    stored = store.get(row.cid)
    if row.encrypted:
        if row.wrapped_key is None:
            raise ContentErasedError(f"contribution {row.id} was erased")
        if master_key is None:
            raise ValueError("this contribution is encrypted: the master key is needed")
        stored = envelope.open(stored, row.wrapped_key, master_key)
    if hashlib.sha256(stored).digest() != row.content_hash:
        raise ValueError(f"contribution {row.id}: the stored content does not hash to its contentHash")
    return stored


def read_image(store: ContentStore, image: ContributionImage, master_key: bytes | None) -> bytes:
    """An image of a contribution, decrypted if needed and checked against its CID; an erased
    image (its data key destroyed) raises ContentErasedError."""
    stored = store.get(image.stored_cid)
    if image.stored_cid != image.cid:
        if image.wrapped_key is None:
            raise ContentErasedError(f"image {image.cid} of contribution {image.contribution_id} was erased")
        if master_key is None:
            raise ValueError("this image is encrypted: the master key is needed")
        stored = envelope.open(stored, image.wrapped_key, master_key)
    if cid_of(stored) != image.cid:
        raise ValueError(f"image {image.cid}: the stored content does not hash to its CID")
    return stored


def erase(session: Session, contribution_id: int, *, now: int) -> bool:
    """Destroy the contribution's data key, its images' data keys and its near-duplicate
    signature; False if it was public or already erased."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Contribution)
        .where(Contribution.id == contribution_id, Contribution.encrypted.is_(True),
               Contribution.wrapped_key.is_not(None))
        .values(wrapped_key=None, erased_at=now, near_duplicate_sketch=None)
    )
    if result.rowcount:
        # The signature is derived from the text: erasure forgets it too.
        session.execute(delete(NearDuplicateKey).where(NearDuplicateKey.contribution_id == contribution_id))
        # Published, it leaves the public feed in the same transaction (``ledger.feed``).
        unpublish(session, contribution_id)
        session.execute(update(ContributionImage).where(ContributionImage.contribution_id == contribution_id)
                        .values(wrapped_key=None))
    return bool(result.rowcount)
