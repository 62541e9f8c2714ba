"""Data out to consumers (DESIGN.md §8): accepted contributions, in id order, as JSON Lines.

A data consumer pages through the ledger with ``after`` (the last id it has) and ``limit``; each
line is one contribution that is accepted and not erased, with what the contributor signed and
the canonical conversation (decrypted where privacy mode stored it encrypted, and checked against
its contentHash) and its images: in public mode each names ``/ipfs/<cid>``, where anyone fetches
it; in privacy mode, where IPFS holds only their envelopes, each carries its bytes, decrypted and
checked against its CID like the conversation. Every export is recorded (consumer, id range,
time) before its first line is written, so the operator lists what went out and a usage report
may name only what its consumer received (``check_received``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.attachments import images_of, is_public
from ledger.content.errors import ContentErasedError
from ledger.encoding import hex0x
from ledger.errors import InvalidFieldError
from ledger.models import Contribution, ContributionImage, DataExport

MAX_EXPORT = 1000
"""Contributions per export request: the consumer pages on with ``after``."""

DATA_CONSUMER = "data-consumer"
"""Who an export is recorded for: a deployment has one data-consumer key, so one consumer."""


class NotReceivedError(InvalidFieldError):
    """A usage report names a contribution its consumer was never sent."""

    def __init__(self, index: int, contribution: int) -> None:
        super().__init__(f"items[{index}].contribution",
                         f"contribution {contribution} was never exported to this data consumer (GET /v1/export)")


@dataclass(frozen=True, slots=True)
class ExportPage:
    """One export: the rows it sends and its record."""

    record: DataExport
    rows: Sequence[Contribution]
    remaining: int
    """Exportable contributions after this page's last: what a client's progress bar needs."""
    images: Mapping[int, Sequence[ContributionImage]]
    """Each row's images, in order of first mention."""


def start_export(session: Session, *, consumer: str, after: int, limit: int, now: int) -> ExportPage:
    """Choose the next ``limit`` exportable contributions after id ``after`` and record the
    export, in the caller's transaction (commit before sending anything)."""
    if not 0 < limit <= MAX_EXPORT:
        raise InvalidFieldError("limit", f"from 1 to {MAX_EXPORT}")
    rows = list(session.scalars(select(Contribution)
                                .where(Contribution.id > after, Contribution.erased_at.is_(None))
                                .order_by(Contribution.id).limit(limit)))
    record = DataExport(consumer=consumer, after_id=after, last_id=rows[-1].id if rows else after,
                        count=len(rows), created_at=now)
    session.add(record)
    session.flush()
    remaining = session.scalar(select(func.count()).where(Contribution.id > record.last_id,
                                                         Contribution.erased_at.is_(None)))
    return ExportPage(record, rows, int(remaining or 0), images_of(session, [row.id for row in rows]))


def export_line(row: Contribution, conversation: bytes,
                images: Sequence[tuple[ContributionImage, bytes | None]] = ()) -> bytes:
    """The JSON line of one contribution (its ``conversation`` is the canonical object), with
    its images: each with its ``url`` when public, its bytes (``data``, base64) when given."""
    line: dict[str, Any] = {
        "id": row.id, "contentHash": hex0x(row.content_hash), "cid": row.cid, "contributor": row.contributor,
        "acceptedAt": row.accepted_at, "scorer": row.scorer_version, "points": str(row.points),
        "termsHash": hex0x(row.terms_hash), "conversation": json.loads(conversation),
        "images": [image_line(image, data) for image, data in images],
    }
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def image_line(image: ContributionImage, data: bytes | None) -> dict[str, Any]:
    """``{"cid", "mediaType", "size"}`` and ``"url": "/ipfs/<cid>"`` or ``"data": <base64>``."""
    out: dict[str, Any] = {"cid": image.cid, "mediaType": image.media_type, "size": image.size}
    if data is None:
        out["url"] = f"/ipfs/{image.cid}"
    else:
        out["data"] = base64.b64encode(data).decode("ascii")
    return out


def export_lines(rows: Sequence[Contribution], read: Callable[[Contribution], bytes],
                 images: Mapping[int, Sequence[ContributionImage]] | None = None,
                 read_image: Callable[[ContributionImage], bytes] | None = None) -> Iterator[bytes]:
    """Each row's line, its conversation read (``Intake.read_conversation``) as the line is
    written, and in privacy mode its images' bytes (``Intake.read_image``); a contribution erased
    since the export began is left out."""
    for row in rows:
        try:
            conversation = read(row)
            shown = [(image, None if is_public(image) or read_image is None else read_image(image))
                     for image in (images or {}).get(row.id, ())]
        except ContentErasedError:
            continue
        yield export_line(row, conversation, shown)


def check_received(session: Session, consumer: str, ids: Sequence[int]) -> None:
    """Refuse (``NotReceivedError``, by item index) a contribution ``consumer`` was never sent."""
    if not ids:
        return
    ranges = session.execute(select(DataExport.after_id, DataExport.last_id)
                             .where(DataExport.consumer == consumer, DataExport.last_id >= min(ids),
                                    DataExport.after_id < max(ids))).all()
    for index, key in enumerate(ids):
        if not any(after < key <= last for after, last in ranges):
            raise NotReceivedError(index, key)


def exports(session: Session, *, limit: int = 100) -> list[DataExport]:
    """The latest exports, newest first (the operator's list)."""
    return list(session.scalars(select(DataExport).order_by(DataExport.id.desc()).limit(limit)))
