"""The opt-in public feed (docs/formats.md §11): publishing, engagement, and the feed's pages.

Nothing is public unless its contributor signs EIP-712 ``Publish`` for it; a published
contribution's conversation is then served in the clear, decrypted in privacy mode, until the
contributor withdraws it (``Publish`` with ``visible`` false) or it is erased: both delete its
``publications`` row, so the feed, read from that table alone, drops it at once.

Anyone else may engage with a published contribution by signing ``Engage``: a like (kind 1), or a
remix (kind 2), which names the actor's own new contribution that builds on it. Each counted
engagement credits the creator from the rewards pool with an ``engagement`` journal transfer whose
ref names the engagement (``like:<contentHash>:<actor>``, ``remix:<contentHash>:<actor>``), so
the transfer is sealed into the manifest and replayed by the audit like any other; the manifest's
``feed`` publishes the engagement, the actor's statement and the points (``ledger.epochs``), which
``anchoring.audit_feed`` holds each credit to. An actor likes
a contribution once, remixes it once, never engages with their own, and engages at most
``engagements_per_day`` times a UTC day.

Each Publish or Engage nonce is used once per signer and type (``feed_statements``), and its
``issuedAt`` must be as fresh as a contribution's consent (``ConsentPolicy.check_fresh``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import eip712, journal
from ledger.consent import (
    ConsentPolicy,
    MissingFieldsError,
    SignerMismatchError,
    parse_issued_at,
    parse_nonce,
    parse_signature,
)
from ledger.content.errors import ContentErasedError
from ledger.conversation import image_cids
from ledger.db import lock_key, serialise_each
from ledger.encoding import ADDRESS_PATTERN, HASH_PATTERN, checksum, hex0x, parse_address
from ledger.errors import ConflictError, ErrorCategory, InvalidFieldError, NotFoundError, RateLimitedError, TallyError
from ledger.models import Contribution, Engagement, FeedStatement, Publication
from ledger.quotas import DAY

PUBLISH = "Publish"
ENGAGE = "Engage"
LIKE = 1
REMIX = 2
KIND_NAMES = {LIKE: "like", REMIX: "remix"}

PUBLISH_FIELDS = ("visible", "nonce", "issuedAt", "signature")
ENGAGE_FIELDS = ("actor", "kind", "nonce", "issuedAt", "signature")
MAX_PAGE = 100
DEFAULT_PAGE = 20
PREVIEW_CHARS = 280

ENGAGEMENT_LOCKS = 0x7A11FE
"""The advisory-lock namespace of actors: one actor's engagements are counted one at a time."""


@dataclass(frozen=True, slots=True)
class EngagementPolicy:
    """What each engagement earns its creator (0: nothing, the engagement still counts) and how
    many engagements an actor may make a UTC day (0: no limit)."""

    like_points: int = 1
    remix_points: int = 5
    engagements_per_day: int = 100

    def points(self, kind: int) -> int:
        return self.like_points if kind == LIKE else self.remix_points

    def as_json(self) -> dict[str, object]:
        """``feed`` of ``GET /v1/config``."""
        return {"pointsPerLike": str(self.like_points), "pointsPerRemix": str(self.remix_points),
                "engagementsPerDay": self.engagements_per_day}


class SelfEngagementError(TallyError):
    """The actor is the contribution's contributor: engaging with one's own earns nothing."""

    code = "self-engagement"
    status = 403
    category = ErrorCategory.INPUT


class AlreadyEngagedError(ConflictError):
    """The actor already liked (or remixed) this contribution, or the remix already credited a parent."""

    code = "already-engaged"


class StatementNonceReusedError(ConflictError):
    """The signer already used this nonce for a statement of this type."""

    code = "nonce-reused"


class NotPublishedError(NotFoundError):
    """The contribution is not in the feed (never published, withdrawn or erased)."""


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One card of the feed."""

    id: int
    content_hash: bytes
    contributor: str
    points: int
    images: list[str]
    preview: str
    likes: int
    remixes: int
    published_at: int

    def as_json(self) -> dict[str, object]:
        return {"id": self.id, "contentHash": hex0x(self.content_hash), "contributor": self.contributor,
                "points": str(self.points), "images": self.images, "preview": self.preview,
                "likes": self.likes, "remixes": self.remixes, "publishedAt": self.published_at,
                "proof": f"/v1/contributions/{self.id}/proof"}


@dataclass(frozen=True, slots=True)
class FeedPage:
    items: list[FeedItem]
    next: str | None


def _fields(body: object, required: Sequence[str], optional: Sequence[str] = ()) -> Mapping[str, object]:
    if not isinstance(body, Mapping):
        raise InvalidFieldError("body", "must be a JSON object")
    missing = [name for name in required if name not in body]
    if missing:
        raise MissingFieldsError(missing)
    unknown = sorted(set(body) - set(required) - set(optional))
    if unknown:
        raise InvalidFieldError(unknown[0], "is not a field of this request")
    return body


def _record_statement(session: Session, statement: FeedStatement) -> None:
    """Use the signer's nonce for this type, or refuse it (``StatementNonceReusedError``)."""
    try:
        with session.begin_nested():
            session.add(statement)
            session.flush()
    except IntegrityError as exc:
        raise StatementNonceReusedError(
            f"{statement.signer} already used nonce {statement.nonce} for a {statement.type}") from exc


def preview_of(canonical: Mapping[str, object]) -> str:
    """The start of the first message's text, what a card shows."""
    messages = canonical.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], Mapping):
        return ""
    content = messages[0].get("content")
    return content[:PREVIEW_CHARS] if isinstance(content, str) else ""


@dataclass(frozen=True, slots=True)
class PublishStatement:
    """A Publish whose fields and signature are checked: the contributor's own."""

    contributor: str
    visible: bool
    nonce: int
    issued_at: int
    signature: bytes


def check_publish(policy: ConsentPolicy, row: Contribution, body: object, *, now: int) -> PublishStatement:
    """Every check of a Publish for ``row`` that needs no database: fields, freshness, signer."""
    fields = _fields(body, PUBLISH_FIELDS)
    visible = fields["visible"]
    if not isinstance(visible, bool):
        raise InvalidFieldError("visible", "must be true or false")
    nonce, issued_at = parse_nonce(fields["nonce"]), parse_issued_at(fields["issuedAt"])
    signature = parse_signature(fields["signature"])
    policy.check_fresh(issued_at, now)
    digest = policy.domain.publish_digest(row.contributor, row.content_hash, visible, nonce, issued_at)
    signer = eip712.recover(digest, signature)
    if signer != row.contributor:
        raise SignerMismatchError(f"the Publish signature recovers to {signer}, not to the contributor "
                                  f"{row.contributor}: only the contributor publishes a contribution",
                                  contentHash=hex0x(row.content_hash))
    if visible and row.erased_at is not None:
        raise ContentErasedError(f"contribution {row.id} was erased: there is nothing to publish")
    return PublishStatement(signer, visible, nonce, issued_at, signature)


def publish(session: Session, row: Contribution, statement: PublishStatement, *, now: int,
            canonical: bytes | None) -> Publication | None:
    """Apply a checked Publish to ``row`` in the caller's transaction: the publication when
    visible (``canonical``, its decrypted canonical bytes, gives the images and the preview),
    None when withdrawn. An erasure since the check wins: nothing is published."""
    _record_statement(session, FeedStatement(type=PUBLISH, signer=statement.contributor, nonce=str(statement.nonce),
                                             contribution_id=row.id, value=int(statement.visible),
                                             issued_at=statement.issued_at, signature=statement.signature,
                                             created_at=now))
    existing = session.get(Publication, row.id)
    if not statement.visible:
        if existing is not None:
            session.delete(existing)
        return None
    if session.scalar(select(Contribution.erased_at).where(Contribution.id == row.id)) is not None:
        raise ContentErasedError(f"contribution {row.id} was erased: there is nothing to publish")
    if existing is not None:
        return existing
    if canonical is None:
        raise ValueError("publishing needs the canonical bytes")
    parsed = json.loads(canonical)
    publication = Publication(contribution_id=row.id, published_at=now, images=image_cids(parsed),
                              preview=preview_of(parsed))
    try:
        with session.begin_nested():
            session.add(publication)
            session.flush()
    except IntegrityError:
        # Published by a concurrent request in the meantime: that publication stands.
        return session.get(Publication, row.id, populate_existing=True)
    return publication


def unpublish(session: Session, contribution_id: int) -> None:
    """Take a contribution out of the feed (erasure calls this)."""
    session.execute(delete(Publication).where(Publication.contribution_id == contribution_id))


def engage(session: Session, policy: ConsentPolicy, engagement: EngagementPolicy, row: Contribution,
           body: object, *, now: int) -> Engagement:
    """Count a signed Engage with the published ``row`` in the caller's transaction and credit
    its creator, or refuse it having written nothing."""
    fields = _fields(body, ENGAGE_FIELDS, ("remix",))
    actor = parse_address(fields["actor"], "actor")
    kind = fields["kind"]
    if kind not in (LIKE, REMIX) or isinstance(kind, bool):
        raise InvalidFieldError("kind", "must be 1 (like) or 2 (remix)")
    assert isinstance(kind, int)
    nonce, issued_at = parse_nonce(fields["nonce"]), parse_issued_at(fields["issuedAt"])
    signature = parse_signature(fields["signature"])
    remix_key = fields.get("remix")
    if (kind == REMIX) != (remix_key is not None):
        raise InvalidFieldError("remix", "a remix (kind 2), and only a remix, names its new contribution's contentHash")
    if remix_key is not None and not (isinstance(remix_key, str) and HASH_PATTERN.fullmatch(remix_key)):
        raise InvalidFieldError("remix", "must be 0x followed by 64 hex digits")
    policy.check_fresh(issued_at, now)
    digest = policy.domain.engage_digest(actor, row.content_hash, kind, nonce, issued_at)
    signer = eip712.recover(digest, signature)
    if signer != actor:
        raise SignerMismatchError(f"the Engage signature recovers to {signer}, not to the actor {actor}",
                                  contentHash=hex0x(row.content_hash))
    if session.get(Publication, row.id) is None:
        raise NotPublishedError(f"contribution {row.id} is not in the feed")
    if actor == row.contributor:
        raise SelfEngagementError(f"{actor} is the contributor of {row.id}: engaging with one's own earns nothing")
    remix_id = None
    if isinstance(remix_key, str):
        child = session.scalar(select(Contribution).where(Contribution.content_hash == bytes.fromhex(remix_key[2:])))
        if child is None or child.contributor != actor or child.id == row.id:
            raise InvalidFieldError("remix", "must be the contentHash of a contribution of the actor's own")
        remix_id = child.id
    serialise_each(session, [lock_key(ENGAGEMENT_LOCKS, int(actor[2:10], 16))])
    limit = engagement.engagements_per_day
    day_start = now - now % DAY
    if limit:
        today = session.scalar(select(func.count()).select_from(Engagement)
                               .where(Engagement.actor == actor, Engagement.created_at >= day_start))
        if int(today or 0) >= limit:
            raise RateLimitedError(f"{actor} engaged {limit} times today (UTC), the most allowed",
                                   retry_after=day_start + DAY - now)
    _record_statement(session, FeedStatement(type=ENGAGE, signer=actor, nonce=str(nonce), contribution_id=row.id,
                                             value=kind, issued_at=issued_at, signature=signature, created_at=now))
    counted = Engagement(contribution_id=row.id, actor=actor, kind=kind, remix_id=remix_id, created_at=now)
    try:
        with session.begin_nested():
            session.add(counted)
            session.flush()
    except IntegrityError as exc:
        raise AlreadyEngagedError(f"{actor} already {'liked' if kind == LIKE else 'remixed'} contribution {row.id}"
                                  if remix_id is None or _engaged(session, row.id, actor, kind)
                                  else "this remix already credited a parent") from exc
    points = engagement.points(kind)
    if points:
        counted.transfer_id = journal.post_transfer(
            session, debit=journal.REWARDS_POOL, credit=row.contributor, amount=points, kind=journal.ENGAGEMENT,
            ref=engagement_ref(kind, row.content_hash, actor), created_at=now, contribution_id=row.id)
        session.flush()
    return counted


def _engaged(session: Session, contribution_id: int, actor: str, kind: int) -> bool:
    return session.scalar(select(Engagement.id).where(Engagement.contribution_id == contribution_id,
                                                     Engagement.actor == actor, Engagement.kind == kind)) is not None


def engagement_ref(kind: int, content_hash: bytes, actor: str) -> str:
    """The journal ref of an engagement: unique, since an actor engages in one kind once."""
    return f"{KIND_NAMES[kind]}:{hex0x(content_hash)}:{actor}"


def parse_engagement_ref(ref: str) -> tuple[str, bytes, str] | None:
    """(kind name, contentHash, actor) of an ``engagement`` ref, or None if it is not one:
    what the audit checks each engagement line against."""
    parts = ref.split(":")
    if len(parts) != 3 or parts[0] not in KIND_NAMES.values() or not HASH_PATTERN.fullmatch(parts[1]):
        return None
    if not ADDRESS_PATTERN.fullmatch(parts[2]) or checksum(parts[2]) != parts[2]:
        return None
    return parts[0], bytes.fromhex(parts[1][2:]), parts[2]


def encode_cursor(published_at: int, contribution_id: int) -> str:
    return base64.urlsafe_b64encode(f"{published_at}.{contribution_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    """The (publishedAt, id) a cursor stands for; opaque to clients, refused if altered."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        published_at, contribution_id = (int(part) for part in text.split("."))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidFieldError("cursor", "is not a cursor this feed gave") from None
    if not (0 <= published_at < 1 << 63 and 0 < contribution_id < 1 << 63):
        raise InvalidFieldError("cursor", "is not a cursor this feed gave")
    return published_at, contribution_id


def feed_page(session: Session, *, cursor: str | None = None, limit: int = DEFAULT_PAGE) -> FeedPage:
    """Published contributions, newest published first, ``limit`` after ``cursor``.

    A keyset over (published_at, contribution_id), walked backwards on its index (an index-only
    scan on PostgreSQL): a page's position does not move when newer contributions are published.
    """
    if not 0 < limit <= MAX_PAGE:
        raise InvalidFieldError("limit", f"from 1 to {MAX_PAGE}")
    keys = select(Publication.published_at, Publication.contribution_id)
    if cursor is not None:
        keys = keys.where(tuple_(Publication.published_at, Publication.contribution_id) < decode_cursor(cursor))
    page = session.execute(keys.order_by(Publication.published_at.desc(), Publication.contribution_id.desc())
                           .limit(limit + 1)).all()
    more, page = len(page) > limit, page[:limit]
    items = items_of(session, [contribution_id for _, contribution_id in page])
    last = page[-1] if page else None
    return FeedPage(items, encode_cursor(last[0], last[1]) if more and last is not None else None)


def items_of(session: Session, ids: Sequence[int]) -> list[FeedItem]:
    """The feed items of these published contributions, in the order given."""
    if not ids:
        return []
    rows = {row.id: (row, publication) for row, publication in session.execute(
        select(Contribution, Publication).join(Publication, Publication.contribution_id == Contribution.id)
        .where(Contribution.id.in_(ids))).all()}
    counts: dict[tuple[int, int], int] = {
        (contribution_id, kind): int(n) for contribution_id, kind, n in session.execute(
            select(Engagement.contribution_id, Engagement.kind, func.count())
            .where(Engagement.contribution_id.in_(ids)).group_by(Engagement.contribution_id, Engagement.kind))}
    items = []
    for key in ids:
        if key not in rows:
            continue
        row, publication = rows[key]
        items.append(FeedItem(row.id, row.content_hash, checksum(row.contributor), row.points,
                              list(publication.images), publication.preview, counts.get((key, LIKE), 0),
                              counts.get((key, REMIX), 0), publication.published_at))
    return items

