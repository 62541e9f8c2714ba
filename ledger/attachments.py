"""The images a version-2 conversation names, carried in its submission (docs/formats.md §2, §8).

A submission of a conversation with images carries each image's bytes beside it, as
``"attachments": {"<cid>": "<base64>"}``. Before anything is written, every attachment is
checked here: its bytes are base64 (RFC 4648 §4, padded), at most ``Limits.max_image_bytes`` long,
hash to the CID they are named by (``ledger.content.cid_of``), and are a PNG, JPEG, WebP or GIF by
their magic bytes; every CID the conversation names has its attachment, no attachment is left
over, and the distinct images together are at most ``Limits.max_contribution_image_bytes``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.content import cid_of
from ledger.conversation import Conversation
from ledger.errors import InvalidFieldError, InvalidInputError
from ledger.models import ContributionImage

__all__ = [
    "AttachmentMismatchError", "AttachmentTooLargeError", "Image", "MissingAttachmentError",
    "UnsupportedMediaError", "checked_images", "encode_attachments", "images_of", "is_public", "sniff_media_type",
]


class AttachmentMismatchError(InvalidInputError):
    code = "attachment-mismatch"


class UnsupportedMediaError(InvalidInputError):
    code = "unsupported-media"
    status = 415


class AttachmentTooLargeError(InvalidInputError):
    code = "attachment-too-large"
    status = 413


class MissingAttachmentError(InvalidInputError):
    code = "missing-attachment"


@dataclass(frozen=True, slots=True)
class Image:
    """An image of a conversation, checked: its CID, bytes and sniffed media type."""

    cid: str
    data: bytes
    media_type: str


# (prefix, media type); WebP is RIFF....WEBP, checked apart.
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
          (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


def sniff_media_type(data: bytes) -> str | None:
    """PNG, JPEG, WebP or GIF by their magic bytes (the WHATWG MIME sniffing signatures), else None."""
    for magic, media_type in _MAGIC:
        if data.startswith(magic):
            return media_type
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def encode_attachments(images: Mapping[str, bytes] | list[bytes]) -> dict[str, str]:
    """The ``attachments`` of a submission: each image's bytes in base64 under its CID."""
    values = images.values() if isinstance(images, Mapping) else images
    return {cid_of(data): base64.b64encode(data).decode("ascii") for data in values}


def checked_images(conversation: Conversation, attachments: object, *, max_image_bytes: int,
                   max_contribution_bytes: int) -> tuple[Image, ...]:
    """The distinct images of ``conversation`` in order of first mention, each checked against
    its attachment; the first fault raises its problem and nothing is kept."""
    wanted = list(dict.fromkeys(conversation.image_cids))
    if attachments is None:
        attachments = {}
    if not isinstance(attachments, Mapping) or not all(isinstance(v, str) for v in attachments.values()):
        raise InvalidFieldError("attachments", "must be an object of image CIDs to base64 strings")
    extra = [cid for cid in attachments if cid not in set(wanted)]
    if extra:
        raise AttachmentMismatchError(f"attachment {extra[0]} is not an image of the conversation", cid=extra[0])
    images: list[Image] = []
    total = 0
    for cid in wanted:
        text = attachments.get(cid)
        if text is None:
            raise MissingAttachmentError(f"the conversation names image {cid} but no attachment carries it", cid=cid)
        if len(text) // 4 * 3 > max_image_bytes + 2:  # refused before decoding
            raise AttachmentTooLargeError(f"image {cid} is larger than limits.maxImageBytes ({max_image_bytes})",
                                          cid=cid, limit=max_image_bytes)
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidFieldError(f"attachments.{cid}", "is not base64 (RFC 4648, padded)") from None
        if len(data) > max_image_bytes:
            raise AttachmentTooLargeError(f"image {cid} is {len(data)} bytes; limits.maxImageBytes is "
                                          f"{max_image_bytes}", cid=cid, limit=max_image_bytes)
        total += len(data)
        if total > max_contribution_bytes:
            raise AttachmentTooLargeError(f"the images are more than limits.maxContributionImageBytes "
                                          f"({max_contribution_bytes}) together", limit=max_contribution_bytes)
        if cid_of(data) != cid:
            raise AttachmentMismatchError(f"the bytes attached as {cid} have the CID {cid_of(data)}", cid=cid)
        media_type = sniff_media_type(data)
        if media_type is None:
            raise UnsupportedMediaError(f"image {cid} is not a PNG, JPEG, WebP or GIF", cid=cid)
        images.append(Image(cid, data, media_type))
    return tuple(images)


def images_of(session: Session, contribution_ids: Sequence[int]) -> dict[int, list[ContributionImage]]:
    """Each contribution's stored images, in order of first mention (their ``position``): what
    ``GET /v1/contributions/{id}`` lists and the export carries."""
    out: dict[int, list[ContributionImage]] = {key: [] for key in contribution_ids}
    for start in range(0, len(contribution_ids), 5_000):
        chunk = contribution_ids[start:start + 5_000]
        for image in session.scalars(select(ContributionImage).where(ContributionImage.contribution_id.in_(chunk))
                                     .order_by(ContributionImage.contribution_id, ContributionImage.position)):
            out[image.contribution_id].append(image)
    return out


def is_public(image: ContributionImage) -> bool:
    """Stored as its own bytes (public mode), so ``/ipfs/<cid>`` serves it; in privacy mode the
    object stored and pinned is an envelope of another CID, and only Tally can open it."""
    return image.stored_cid == image.cid
