"""An image already contributed is not paid for again.

quality-v3 pays for each image of a conversation (docs/scoring.md). Without this check the same
generated image, beside new text each time, would earn its image points over and over, and the
text's near-duplicate check would never see it. So a submission that names an image (its CID,
docs/formats.md §2) which an accepted, unerased contribution already carries is refused whole:
409 ``duplicate-image`` naming the image and that contribution; nothing is written. An image
repeated inside one conversation counts once, and a remix names its parent by contentHash
(``Engage`` kind 2), not by carrying the parent's images again.

Inside the intake transaction, as the near-duplicate check does: the images' locks are held
(PostgreSQL advisory locks keyed by the CID's hash; SQLite's write transaction holds the whole
database), so two racing submissions of one image cannot both pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.db import LockKey, lock_key
from ledger.errors import ConflictError
from ledger.models import Contribution, ContributionImage

IMAGE_LOCKS = 0x1A9E5
"""The advisory-lock namespace (classid) of image CIDs, apart from the band keys' and the others."""


class DuplicateImageError(ConflictError):
    """An image of this submission is already in an accepted contribution."""

    code = "duplicate-image"

    def __init__(self, cid: str, existing_id: int | None) -> None:
        where = f"contribution {existing_id}" if existing_id is not None else "an item earlier in this batch"
        super().__init__(f"image {cid} is already in {where}; an image is contributed once, nothing was written",
                         image=cid, existing=existing_id)
        self.cid = cid
        self.existing_id = existing_id


def image_locks(images: Iterable[Iterable[str]]) -> list[LockKey]:
    """The locks ``image_refusals`` needs held for submissions carrying these image CIDs."""
    return [lock_key(IMAGE_LOCKS, int.from_bytes(hashlib.sha256(cid.encode()).digest()[:8], "big"))
            for cids in images for cid in cids]


def image_refusals(session: Session, images: Sequence[Sequence[str]]) -> list[DuplicateImageError | None]:
    """For each submission's image CIDs, in batch order: the refusal of its first image that an
    accepted, unerased contribution or an earlier item of the batch carries, else None. Call with
    ``image_locks`` held (``ledger.db.serialise_each``). One query for the whole batch, none
    without images."""
    every = sorted({cid for cids in images for cid in cids})
    if not every:
        return [None] * len(images)
    # Newest first, so that the earliest contribution carrying an image is the one named.
    held: dict[str, int] = {cid: contribution for cid, contribution in session.execute(
        select(ContributionImage.cid, ContributionImage.contribution_id)
        .join(Contribution, Contribution.id == ContributionImage.contribution_id)
        .where(ContributionImage.cid.in_(every), Contribution.erased_at.is_(None))
        .order_by(ContributionImage.contribution_id.desc()))}
    refusals: list[DuplicateImageError | None] = []
    in_batch: set[str] = set()
    for cids in images:
        refusal = None
        for cid in cids:
            if cid in held:
                refusal = DuplicateImageError(cid, held[cid])
                break
            if cid in in_batch:
                refusal = DuplicateImageError(cid, None)
                break
        if refusal is None:
            in_batch.update(cids)
        refusals.append(refusal)
    return refusals
