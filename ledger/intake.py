"""Accepting contributions into the ledger: every check, then one database transaction.

``Intake`` is the service the API and the CLI hand a submission to: it checks the consent
(``ledger.consent``), normalises the conversation, refuses one that holds personal data
(``ledger.personal_data``), scores it, and records it, all or nothing: the
contribution row, its stored bytes and its double-entry accrual commit together, and the receipt
is signed in the same step. A contentHash is accepted once, from anyone: the unique index on
``content_hash`` settles races between concurrent submissions, whichever process they reach.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import insert, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ledger import jcs, journal
from ledger.attachments import AttachmentMismatchError, Image, checked_images
from ledger.batch_consent import item_proofs
from ledger.consent import BatchItem, Consent, ConsentPolicy, ReceiptFields, ReceiptSigner
from ledger.content import ContentStore, envelope
from ledger.conversation import Conversation, ConversationError, canonical_bytes, normalise
from ledger.db import one_statement, serialise_each, table_of
from ledger.errors import ConflictError, InvalidFieldError, InvalidInputError, RateLimitedError, TallyError
from ledger.image_duplicates import DuplicateImageError, image_locks, image_refusals
from ledger.models import ConsentBatch, Contribution, ContributionImage, StoredObject
from ledger.near_duplicate_index import (
    Match,
    NearDuplicateError,
    index_bands,
    near_duplicate_locks,
    near_duplicate_refusals,
)
from ledger.near_duplicates import Signature, signature
from ledger.personal_data import PersonalDataError, PersonalDataMode, refuse_personal_data
from ledger.privacy import read_conversation, read_image
from ledger.quotas import (
    ClientRateLimitedError,
    Quotas,
    RefusedClients,
    charge_refused,
    client_refusal,
    contributor_locks,
    contributor_refusals,
    count_request,
)
from ledger.scoring import Score, score

__all__ = [
    "Accepted", "Consent", "DuplicateContributionError", "Intake", "IntakeError", "Limits", "NearDuplicateError",
    "NonceReusedError",
    "Prepared", "ReceiptFields", "Submission", "UnstorableError", "accept_one", "record", "screen",
]

SignReceipt = Callable[[ReceiptFields], bytes]

log = logging.getLogger("tally.intake")


class IntakeError(ConflictError):
    """A contribution refused by the ledger because of what it already holds."""


class DuplicateContributionError(IntakeError):
    code = "duplicate-contribution"

    def __init__(self, existing_id: int) -> None:
        super().__init__(f"this conversation was already contributed as contribution {existing_id}",
                         existing=existing_id)
        self.existing_id = existing_id


class NonceReusedError(IntakeError):
    code = "nonce-reused"

    def __init__(self, contributor: str, nonce: int) -> None:
        super().__init__(f"nonce {nonce} was already used by {contributor}")


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may carry, published at ``GET /v1/config`` (``limits``)."""

    max_body_bytes: int = 256 * 1024
    max_batch: int = 100
    issued_at_window: int = 600
    max_batch_body_bytes: int = 16 * 1024 * 1024
    """A whole batch body: far less than ``max_batch`` items of ``max_body_bytes`` each, so one
    request can never make a server read and hold hundreds of megabytes."""
    max_image_bytes: int = 4 * 1024 * 1024
    """One image's bytes (ledger.attachments)."""
    max_contribution_image_bytes: int = 8 * 1024 * 1024
    """The distinct images of one contribution together."""

    @property
    def max_attachment_body_bytes(self) -> int:
        """A single submission carrying images: ``max_body_bytes`` and the base64 of
        ``max_contribution_image_bytes`` (4 characters per 3 bytes), with room for the CIDs."""
        return self.max_body_bytes + -(-self.max_contribution_image_bytes // 3) * 4 + 64 * 1024

    def as_json(self) -> dict[str, int]:
        return {
            "maxBodyBytes": self.max_body_bytes,
            "maxBatch": self.max_batch,
            "maxBatchBodyBytes": self.max_batch_body_bytes,
            "issuedAtWindow": self.issued_at_window,
            "maxImageBytes": self.max_image_bytes,
            "maxContributionImageBytes": self.max_contribution_image_bytes,
            "maxAttachmentBodyBytes": self.max_attachment_body_bytes,
        }


@dataclass(frozen=True, slots=True)
class Accepted:
    contribution: Contribution
    score: Score


@dataclass(frozen=True, slots=True)
class Prepared:
    """A normalised conversation with everything intake computes from its text, computed once
    and before any transaction opens: its canonical bytes and hash, its near-duplicate signature
    and band keys, and its score."""

    conversation: Conversation
    canonical: bytes
    content_hash: bytes
    near_duplicate: Signature | None
    """None where near-duplicates are accepted: nothing to check, nothing to index."""
    band_keys: tuple[int, ...]
    score: Score
    images: tuple[Image, ...] = ()
    """The conversation's distinct images, checked against their attachments (ledger.attachments)."""

    @classmethod
    def of(cls, conversation: Conversation, *, near_duplicates: bool = True) -> Prepared:
        data = canonical_bytes(conversation)
        near_duplicate = signature(conversation) if near_duplicates else None
        return cls(conversation, data, hashlib.sha256(data).digest(), near_duplicate,
                   tuple(near_duplicate.band_keys()) if near_duplicate else (), score(conversation))


def find_by_hash(session: Session, content_hash: bytes) -> Contribution | None:
    return session.scalar(select(Contribution).where(Contribution.content_hash == content_hash))


@dataclass(frozen=True, slots=True)
class Submission:
    prepared: Prepared
    consent: Consent
    client: str | None = None
    """The client address it came from (the API's peer), recorded for the accrual report."""


Outcome = (tuple[Contribution, Score] | IntakeError | NearDuplicateError | DuplicateImageError | RateLimitedError
           | InvalidInputError)


def screen(session: Session, submissions: Sequence[Submission]) -> list[IntakeError | None]:
    """Refusals known before writing: content or nonces already in the ledger or earlier in the
    same batch. One query for the whole batch."""
    hashes = [s.prepared.content_hash for s in submissions]
    # The items of a ContributionBatch share its nonce, checked once for the batch
    # (Intake.submit_signed_batch): only single consents' nonces are looked up here, among singles.
    pairs = [(s.consent.contributor, str(s.consent.nonce)) if s.consent.batch is None else None
             for s in submissions]
    single_pairs = [pair for pair in pairs if pair is not None]
    known_hashes: dict[bytes, int] = {}
    known_pairs: set[tuple[str, str] | None] = set()
    if session.get_bind().dialect.name == "postgresql":
        from ledger.intake_postgresql import screened_rows

        known = screened_rows(session, hashes, single_pairs)
    else:
        known = session.execute(
            select(Contribution.id, Contribution.content_hash, Contribution.contributor, Contribution.nonce,
                   Contribution.batch_root)
            .where(or_(Contribution.content_hash.in_(hashes),
                       tuple_(Contribution.contributor, Contribution.nonce).in_(single_pairs)))
        ).all()
    for row_id, content_hash, contributor, nonce, batch_root in known:
        known_hashes.setdefault(content_hash, row_id)
        if batch_root is None:
            known_pairs.add((contributor, nonce))
    refusals: list[IntakeError | None] = []
    batch_hashes: set[bytes] = set()
    for submission, content_hash, pair in zip(submissions, hashes, pairs, strict=True):
        if content_hash in known_hashes:
            refusals.append(DuplicateContributionError(known_hashes[content_hash]))
        elif pair is not None and pair in known_pairs:
            refusals.append(NonceReusedError(submission.consent.contributor, submission.consent.nonce))
        elif content_hash in batch_hashes:
            refusals.append(DuplicateInBatchError())
        else:
            refusals.append(None)
        batch_hashes.add(content_hash)
        if pair is not None:
            known_pairs.add(pair)
    return refusals


class DuplicateInBatchError(IntakeError):
    """The same conversation twice in one batch: the first is accepted, this one refused."""

    code = "duplicate-contribution"

    def __init__(self) -> None:
        super().__init__("this conversation appears earlier in the same batch")


class UnstorableError(InvalidInputError):
    """A value the database refused to store (too long for its column, say): every field is
    checked before, so this is a check missing there, answered as a refusal of this item alone."""

    def __init__(self) -> None:
        super().__init__("a field of this submission does not fit the ledger's columns; nothing was written")


Refusal = IntakeError | UnstorableError | NearDuplicateError | DuplicateImageError | RateLimitedError

def record(
    session: Session,
    submissions: Sequence[Submission],
    *,
    store: ContentStore,
    sign_receipt: SignReceipt,
    now: int,
    master_key: bytes | None = None,
    screened: bool = True,
    quotas: Quotas | None = None,
) -> list[Outcome]:
    """Record a batch in the caller's transaction: each item accepted or refused on its own.

    Bulk statements carry the common case (nothing collides); a unique-index violation, which
    only a concurrent writer can cause after ``screen``, is settled item by item in savepoints.
    The caller commits.
    """
    # Unscreened (one submission in a transaction of its own): the unique indexes alone refuse a
    # duplicate, saving the round trips of the look-up and of a savepoint; the caller reads the
    # refusal after the rollback.
    refusals: list[Refusal | None] = [*screen(session, submissions)] if screened else [None] * len(submissions)
    fresh = [i for i, refusal in enumerate(refusals) if refusal is None]
    # Every lock the checks below need, in one statement: the near-duplicate band keys
    # (ledger.near_duplicate_index), the image CIDs (ledger.image_duplicates) and the
    # contributors of the limits (ledger.quotas), held until the commit.
    serialise_each(session, [
        *near_duplicate_locks(submissions[i].prepared.band_keys for i in fresh),
        *image_locks(image_cids_of(submissions[i].prepared) for i in fresh),
        *contributor_locks(quotas, {submissions[i].consent.contributor for i in fresh}),
    ])
    with_images = [i for i in fresh if submissions[i].prepared.images]
    for i, seen in zip(with_images, image_refusals(session, [image_cids_of(submissions[i].prepared)
                                                             for i in with_images]), strict=True):
        refusals[i] = seen
    fresh = [i for i in fresh if refusals[i] is None]
    checked = [i for i in fresh if submissions[i].prepared.near_duplicate is not None]
    matches = near_duplicate_refusals(session, [
        (signature, submissions[i].prepared.band_keys, submissions[i].prepared.content_hash)
        for i in checked if (signature := submissions[i].prepared.near_duplicate) is not None])
    for i, match in zip(checked, matches, strict=True):
        refusals[i] = refusal_of(match)
    fresh = [i for i in fresh if refusals[i] is None]
    scores = {i: submissions[i].prepared.score for i in fresh}
    if quotas is not None:
        # Per-contributor limits, on the points these would earn.
        over = contributor_refusals(session, quotas, [(submissions[i].consent.contributor, scores[i].points)
                                                      for i in fresh], now)
        for i, over_limit in zip(fresh, over, strict=True):
            refusals[i] = over_limit
        fresh = [i for i in fresh if refusals[i] is None]
    rows, stored, images = built_rows(submissions, fresh, store=store, sign_receipt=sign_receipt, now=now,
                                      master_key=master_key)

    def items(at: Sequence[int]) -> list[_Item]:
        return [(rows[i], stored[i], submissions[i].prepared.band_keys, images[i]) for i in at]

    if not screened:
        _insert(session, items(fresh), now)
        return [refusal if refusal is not None else (rows[i], scores[i]) for i, refusal in enumerate(refusals)]
    try:
        with session.begin_nested():
            _insert(session, items(fresh), now)
    except (IntegrityError, DataError):
        for i in fresh:
            try:
                with session.begin_nested():
                    _insert(session, items([i]), now)
            except DataError:
                refusals[i] = UnstorableError()
            except IntegrityError:
                lost = lost_race(session, submissions[i].prepared, submissions[i].consent)
                if lost is None:
                    raise  # not a race we know: a bug, let it surface
                refusals[i] = lost
    outcomes: list[Outcome] = []
    for i, refusal in enumerate(refusals):
        if isinstance(refusal, DuplicateInBatchError):
            # The same conversation earlier in the batch: accepted (named), or refused itself.
            first = next((rows[j] for j in fresh if rows[j].content_hash == submissions[i].prepared.content_hash), None)
            refusal = DuplicateContributionError(first.id) if first is not None and first.id else refusal
        outcomes.append(refusal if refusal is not None else (rows[i], scores[i]))
    return outcomes


def image_cids_of(prepared: Prepared) -> list[str]:
    return [image.cid for image in prepared.images]


def refusal_of(match: Match | NearDuplicateError | None) -> IntakeError | NearDuplicateError | None:
    """What the near-duplicate check's answer refuses: an exact match is a duplicate."""
    if isinstance(match, Match):
        return DuplicateContributionError(match.existing_id) if match.exact else NearDuplicateError(match.existing_id)
    return match


def built_rows(
    submissions: Sequence[Submission], indexes: Sequence[int], *, store: ContentStore, sign_receipt: SignReceipt,
    now: int, master_key: bytes | None,
) -> tuple[dict[int, Contribution], dict[int, bytes], dict[int, list[StoredImage]]]:
    """The contribution rows of the submissions at ``indexes``, receipts signed, the bytes
    each stores: the canonical bytes, or in privacy mode an envelope under a fresh key, and its
    images' objects."""
    rows = {i: _row(submissions[i], submissions[i].prepared.score, sign_receipt, now) for i in indexes}
    stored: dict[int, bytes] = {}
    for i in indexes:
        if master_key is None:
            stored[i] = submissions[i].prepared.canonical
        else:
            stored[i], rows[i].wrapped_key = envelope.seal(submissions[i].prepared.canonical, master_key)
            rows[i].encrypted = True
    # The bytes travel in the same transaction as the rows (stored_objects), so an acknowledged
    # contribution is durable with the commit. The store only names them (ledger.outbox's
    # OutboxStore writes no file; a plain blockstore may write blocks a rollback leaves orphaned).
    for i, cid in zip(indexes, store.put_many([stored[i] for i in indexes]), strict=True):
        rows[i].cid = cid
    images = {i: stored_images(submissions[i].prepared, master_key) for i in indexes}
    every = [image for i in indexes for image in images[i]]
    for image, cid in zip(every, store.put_many([image.data for image in every]), strict=True):
        image.row.stored_cid = cid
    return rows, stored, images


def stored_object_row(cid: str, data: bytes, now: int, kind: str = "contribution") -> dict[str, object]:
    """A contribution's bytes (or an image's: ``kind="image"``) in ``stored_objects``, due for
    pinning at once."""
    return {"cid": cid, "kind": kind, "size": len(data), "data": data, "created_at": now,
            "pin_attempts": 0, "next_pin_at": now}


@dataclass(slots=True)
class StoredImage:
    """What is stored for one image: its bytes, or in privacy mode their envelope, and its row."""

    row: ContributionImage
    data: bytes


def stored_images(prepared: Prepared, master_key: bytes | None) -> list[StoredImage]:
    """The objects and rows for a contribution's images, the same privacy rule as its conversation:
    in privacy mode each image is sealed under a data key of its own, kept in its row."""
    out: list[StoredImage] = []
    for position, image in enumerate(prepared.images):
        wrapped: bytes | None = None
        data = image.data
        if master_key is not None:
            data, wrapped = envelope.seal(image.data, master_key)
        out.append(StoredImage(ContributionImage(position=position, cid=image.cid, stored_cid="",
                                                 media_type=image.media_type, size=len(image.data),
                                                 wrapped_key=wrapped), data))
    return out


def image_rows(row: Contribution, images: Sequence[StoredImage], now: int
               ) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The ``stored_objects`` and ``contribution_images`` rows of an inserted contribution's images."""
    objects = [stored_object_row(image.row.stored_cid, image.data, now, kind="image") for image in images]
    rows: list[dict[str, object]] = [{"contribution_id": row.id, "position": image.row.position, "cid": image.row.cid,
             "stored_cid": image.row.stored_cid, "media_type": image.row.media_type, "size": image.row.size,
             "wrapped_key": image.row.wrapped_key} for image in images]
    return objects, rows


def accrual_of(row: Contribution) -> tuple[str, int, str, int]:
    """The accrual of an inserted contribution, for ``journal.accrue_many``."""
    return row.contributor, row.points, f"contribution:{row.id}", row.id


def _row(submission: Submission, result: Score, sign_receipt: SignReceipt, now: int) -> Contribution:
    prepared, consent = submission.prepared, submission.consent
    receipt = sign_receipt(ReceiptFields(prepared.content_hash, consent.contributor, result.points, now))
    batch = consent.batch
    return Contribution(
        batch_root=None if batch is None else batch.contents_root,
        batch_count=None if batch is None else batch.count,
        batch_proof=None if batch is None else b"".join(batch.proof),
        content_hash=prepared.content_hash,
        contributor=consent.contributor,
        nonce=str(consent.nonce),
        issued_at=consent.issued_at,
        terms_hash=consent.terms_hash,
        signature=consent.signature,
        cid="",
        size=len(prepared.canonical),
        model=prepared.conversation.model,
        message_count=len(prepared.conversation.messages),
        points=result.points,
        score=result.as_dict(),
        scorer_version=result.version,
        accepted_at=now,
        receipt_signature=receipt,
        near_duplicate_sketch=prepared.near_duplicate.to_bytes() if prepared.near_duplicate else None,
        client_address=submission.client[:64] if submission.client else None,
        wrapped_key=None,
        encrypted=False,
        erased_at=None,
    )


_COLUMNS = [c.key for c in table_of(Contribution).columns if c.key != "id"]


_Item = tuple[Contribution, bytes, Sequence[int], list[StoredImage]]


def insert_image_objects(session: Session, objects: list[dict[str, object]]) -> None:
    """Image objects in ``stored_objects``: an image already stored (public mode: the same image in
    another contribution, or twice in a batch) is kept as it is."""
    unique = list({str(o["cid"]): o for o in objects}.values())
    if not unique:
        return
    dialect = session.get_bind().dialect.name
    table = table_of(StoredObject)
    statement = (postgresql_insert(table) if dialect == "postgresql" else sqlite_insert(table)).on_conflict_do_nothing()
    session.execute(statement, unique)


def _insert(session: Session, items: list[_Item], now: int) -> None:
    """Insert contribution rows, their stored objects, their accruals, their band keys and their
    images in a few statements."""
    if not items:
        return
    rows = [(row, data, keys) for row, data, keys, _ in items]
    if session.get_bind().dialect.name == "postgresql":
        from ledger.intake_postgresql import insert_as_arrays

        insert_as_arrays(session, rows, now)
    else:
        insert_rows(session, rows, now)
    _insert_images(session, items, now)


def insert_rows(session: Session, items: Sequence[tuple[Contribution, bytes, Sequence[int]]], now: int) -> None:
    """The contribution rows (their ids set on them), their stored bytes, their accruals and their
    band keys, by SQLAlchemy's bulk inserts (a parameter a value), on any database."""
    rows = [row for row, _, _ in items]
    table = table_of(Contribution)
    ids = session.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True),
        [{key: getattr(row, key) for key in _COLUMNS} for row in rows],
    ).scalars().all()
    for row, row_id in zip(rows, ids, strict=True):
        row.id = row_id
    session.execute(insert(table_of(StoredObject)),
                    [stored_object_row(row.cid, data, now) for row, data, _ in items])
    journal.accrue_many(session, [accrual_of(row) for row in rows], created_at=now)
    index_bands(session, [(row.id, keys) for row, _, keys in items])


def _insert_images(session: Session, items: list[_Item], now: int) -> None:
    objects: list[dict[str, object]] = []
    image_table: list[dict[str, object]] = []
    for row, _, _, images in items:
        more, rows_of = image_rows(row, images, now)
        objects += more
        image_table += rows_of
    insert_image_objects(session, objects)
    if image_table:
        session.execute(insert(table_of(ContributionImage)), image_table)


def pipelined(sessions: sessionmaker[Session], prepared: Prepared) -> bool:
    """Whether ``accept_one`` takes ``ledger.intake_postgresql``'s two round trips: on PostgreSQL,
    for a conversation without images (one with images takes ``record``, whose image check is
    there: rarer and larger)."""
    return sessions.kw["bind"].dialect.name == "postgresql" and not prepared.images


def accept_one(
    sessions: sessionmaker[Session],
    *,
    prepared: Prepared,
    consent: Consent,
    store: ContentStore,
    sign_receipt: SignReceipt,
    now: int,
    master_key: bytes | None = None,
    quotas: Quotas | None = None,
    client: str | None = None,
    count_client: bool = False,
) -> tuple[Contribution, Score]:
    """Accept one contribution in a transaction of its own, or raise the refusal. With
    ``count_client`` (only where ``pipelined``), the client address's request is counted first,
    in a transaction of its own in the same round trip as the checks' reads."""
    if pipelined(sessions, prepared):
        # Imported here: ledger.intake_postgresql builds on this module's rows and refusals.
        from ledger.intake_postgresql import accept_pipelined

        return accept_pipelined(sessions, Submission(prepared, consent, client), store=store,
                                sign_receipt=sign_receipt, now=now, master_key=master_key, quotas=quotas,
                                count_client=count_client)
    if count_client:
        raise ValueError("the client's count rides only the pipelined path; count it first")
    with sessions() as session:
        try:
            with session.begin():
                (outcome,) = record(session, [Submission(prepared, consent, client)], store=store,
                                    sign_receipt=sign_receipt, now=now, master_key=master_key,
                                    screened=False, quotas=quotas)
        except DataError:
            raise UnstorableError() from None
        except IntegrityError:
            with session.begin():
                refusal = lost_race(session, prepared, consent)
            if refusal is None:
                raise
            raise refusal from None
    if isinstance(outcome, TallyError):
        raise outcome
    return outcome


def lost_race(session: Session, prepared: Prepared, consent: Consent) -> IntakeError | None:
    """The refusal that explains a unique-index violation, read after the rollback."""
    winner = find_by_hash(session, prepared.content_hash)
    if winner is not None:
        return DuplicateContributionError(winner.id)
    if consent.batch is None and session.scalar(
        select(Contribution.id).where(
            Contribution.contributor == consent.contributor,
            Contribution.nonce == str(consent.nonce),
            Contribution.batch_root.is_(None),
        )
    ) is not None:
        return NonceReusedError(consent.contributor, consent.nonce)
    return None


class Intake:
    """The intake service: a submission goes in, an ``Accepted`` (or a ``TallyError``) comes out.

    Built once per process by the wiring; the API and the demo both submit through it.
    """

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        store: ContentStore,
        consent: ConsentPolicy,
        signer: ReceiptSigner,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.time,
        master_key: bytes | None = None,
        personal_data: PersonalDataMode = "refuse",
        near_duplicates: bool = True,
        quotas: Quotas | None = None,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.consent = consent
        self.signer = signer
        self.limits = limits
        self.clock = clock
        # Limits per contributor and per client address (ledger.quotas); None: no limits.
        self.quotas = quotas
        # Privacy mode when set: conversations are stored encrypted (see ledger.content.envelope).
        self._master_key = master_key
        self.personal_data: PersonalDataMode = personal_data
        # Whether a near-duplicate of an accepted contribution is refused (ledger.near_duplicates).
        self.near_duplicates = near_duplicates
        self._postgresql = sessions.kw["bind"].dialect.name == "postgresql"
        self._refused_clients = RefusedClients()

    def _client_quotas(self) -> Quotas | None:
        """The limits when client addresses are counted (a per-client limit is set), else None."""
        return self.quotas if self.quotas is not None and self.quotas.client_requests_per_minute else None

    def refuse_known_client(self, client: str) -> None:
        """Refuse, without a round trip, a request from a client address this process refused
        earlier this minute (``ledger.quotas.RefusedClients``): before its body is read."""
        quotas = self._client_quotas()
        if quotas is not None:
            self._refused_clients.refuse(quotas, client, int(self.clock()))

    def count_client_request(self, client: str) -> None:
        """Count a submission request from a client address (its own transaction, so a refused
        request counts too); raise ClientRateLimitedError past the per-client limit."""
        quotas = self._client_quotas()
        if quotas is None:
            return
        now = int(self.clock())
        if self._postgresql:
            from ledger.intake_postgresql import count_client_request

            count = count_client_request(self.sessions, client, now)
        else:
            with one_statement(self.sessions) as session:
                count = count_request(session, "client", client, now)
        refusal = client_refusal(quotas, count, now)
        if refusal is not None:
            self._refused_clients.remember(client, now)
            raise refusal

    @property
    def privacy(self) -> bool:
        return self._master_key is not None

    def read_conversation(self, row: Contribution) -> bytes:
        """The canonical bytes of an accepted contribution, decrypted in privacy mode and checked
        against its contentHash (``ledger.privacy.read_conversation``)."""
        return read_conversation(self.store, row, self._master_key)

    def read_image(self, image: ContributionImage) -> bytes:
        """An image of an accepted contribution, decrypted in privacy mode and checked against its
        CID (``ledger.privacy.read_image``)."""
        return read_image(self.store, image, self._master_key)

    def check(self, body: object, now: int) -> Submission:
        """Every check that needs no database: the consent's fields, the conversation, the signer,
        and that the conversation holds no personal data."""
        submission = self.check_signed(body, now)
        self.screen_personal_data(submission)
        return submission

    def check_signed(self, body: object, now: int) -> Submission:
        """The consent's fields, the conversation and the signer: until these pass, no one is
        known to be asking (the client address's count has the request)."""
        signed = self.consent.parse(body, now)
        prepared = Prepared.of(normalise(signed.conversation), near_duplicates=self.near_duplicates)
        attachments = body.get("attachments") if isinstance(body, dict) else None
        prepared = replace(prepared, images=self._images(prepared.conversation, attachments))
        return Submission(prepared, self.consent.verify_signer(signed, prepared.content_hash))

    def screen_personal_data(self, submission: Submission) -> None:
        if self.personal_data == "refuse":
            # Clients redact before signing, so this finds only what a client left in: refused
            # before anything is written, with the kinds and message indexes, never the values.
            refuse_personal_data(submission.prepared.conversation)

    def charge(self, contributors: set[str], now: int) -> None:
        """Count refused requests against their verified contributors (``CHARGED_REFUSALS``)."""
        if contributors and self.quotas is not None:
            with one_statement(self.sessions) as session:
                charge_refused(session, self.quotas, contributors, now)

    def _images(self, conversation: Conversation, attachments: object) -> tuple[Image, ...]:
        return checked_images(conversation, attachments, max_image_bytes=self.limits.max_image_bytes,
                              max_contribution_bytes=self.limits.max_contribution_image_bytes)

    def submit(self, body: object, client: str | None = None) -> Accepted:
        """Accept one submission in a transaction of its own, or raise why not."""
        now = int(self.clock())
        return self._accept(self.check_signed(body, now), client, now)

    def submit_request(self, parse: Callable[[], object], client: str) -> Accepted:
        """``submit`` of a client address's request, counted against the per-client limit as
        ``count_client_request`` counts it. A request whose body parses and verifies is counted
        with its checks' reads (on PostgreSQL, one round trip fewer: ``accept_one``); one refused
        before that (a body that does not parse, verify or pass the personal-data scan) is
        counted in a statement of its own. Past the limit, the refusal is the limit's."""
        now = int(self.clock())
        try:
            submission = self.check_signed(parse(), now)
        except TallyError:
            self.count_client_request(client)
            raise
        return self._accept(submission, client, now, count_client=self._client_quotas() is not None)

    def _accept(self, submission: Submission, client: str | None, now: int, *, count_client: bool = False
                ) -> Accepted:
        counting = client if count_client else None
        in_round_trip = counting is not None and pipelined(self.sessions, submission.prepared)
        if counting is not None and not in_round_trip:  # SQLite, or a conversation with images
            self.count_client_request(counting)
        try:
            try:
                self.screen_personal_data(submission)
            except PersonalDataError:
                if counting is not None and in_round_trip:
                    self.count_client_request(counting)
                raise
            row, result = accept_one(self.sessions, prepared=submission.prepared, consent=submission.consent,
                                     client=client, count_client=in_round_trip,
                                     store=self.store, sign_receipt=self.signer.sign, now=now,
                                     master_key=self._master_key, quotas=self.quotas)
        except ClientRateLimitedError:
            if client is not None:
                self._refused_clients.remember(client, now)
            raise
        except CHARGED_REFUSALS:
            self.charge({submission.consent.contributor}, now)
            raise
        # Logged with the request's id (ledger.operations), which the API sets.
        log.info("accepted contribution %d (%s, %d points)", row.id, row.cid, row.points)
        return Accepted(row, result)

    def submit_batch(self, items: Sequence[object], client: str | None = None) -> list[Accepted | TallyError]:
        """Accept each valid item in one transaction; a refused item does not sink the others."""
        now = int(self.clock())
        results: list[Accepted | TallyError | None] = [None] * len(items)
        checked: list[tuple[int, Submission]] = []
        charged: set[str] = set()
        for i, item in enumerate(items):
            try:
                submission = self.check_signed(item, now)
            except TallyError as refusal:
                results[i] = refusal
                continue
            try:
                self.screen_personal_data(submission)
            except PersonalDataError as refusal:
                results[i] = refusal
                charged.add(submission.consent.contributor)
                continue
            checked.append((i, replace(submission, client=client)))
        with self.sessions() as session, session.begin():
            outcomes = record(session, [submission for _, submission in checked], store=self.store,
                              sign_receipt=self.signer.sign, now=now, master_key=self._master_key,
                              quotas=self.quotas)
        for (i, submission), outcome in zip(checked, outcomes, strict=True):
            results[i] = outcome if isinstance(outcome, TallyError) else Accepted(*outcome)
            if isinstance(outcome, CHARGED_REFUSALS):
                charged.add(submission.consent.contributor)
        self.charge(charged - _counted(checked, outcomes), now)
        accepted = [r.contribution.id for r in results if isinstance(r, Accepted)]
        log.info("accepted %d of %d batch items%s", len(accepted), len(items),
                 f" (contributions {accepted[0]}..{accepted[-1]})" if accepted else "")
        return [r for r in results if r is not None]

    def submit_signed_batch(self, body: object, client: str | None = None) -> list[Accepted | TallyError]:
        """Accept the items of one ``ContributionBatch`` consent (ledger.batch_consent): the
        signature is checked once, over the root of the items' contentHashes, and then each item
        is accepted or refused on its own, in one transaction. A malformed body, a count that is
        not the number of conversations, a signature that is not the contributor's or a batch
        nonce already used refuses the whole request, and nothing is written."""
        now = int(self.clock())
        signed = self.consent.parse_batch(body, now, self.limits.max_batch)
        attachments = body.get("attachments") if isinstance(body, dict) else None
        results: list[Accepted | TallyError | None] = [None] * signed.count
        prepared: list[Prepared | None] = []
        hashes: list[bytes] = []
        for i, item in enumerate(signed.conversations):
            try:
                ready = Prepared.of(normalise(item), near_duplicates=self.near_duplicates)
            except ConversationError as refusal:
                # Refused alone; its leaf is the SHA-256 of the item's RFC 8785 form, so that the
                # signature can still be checked over the batch the contributor signed.
                results[i] = refusal
                prepared.append(None)
                hashes.append(_unnormalised_hash(item, i))
                continue
            prepared.append(ready)
            hashes.append(ready.content_hash)
        images = self._batch_images(prepared, attachments, results)
        root, proofs = item_proofs(hashes)
        self.consent.verify_batch_signer(signed, root)
        charged = False
        checked: list[tuple[int, Submission]] = []
        for i, normalised in enumerate(prepared):
            if normalised is None or results[i] is not None:
                continue
            normalised = replace(normalised, images=images[i])
            if self.personal_data == "refuse":
                try:
                    refuse_personal_data(normalised.conversation)
                except TallyError as refusal:
                    results[i] = refusal
                    charged = True
                    continue
            consent = Consent(signed.contributor, signed.nonce, signed.issued_at, self.consent.terms.hash,
                              signed.signature, BatchItem(root, signed.count, proofs[i]))
            checked.append((i, Submission(normalised, consent, client)))
        with self.sessions() as session, session.begin():
            if _batch_nonce_used(session, signed.contributor, signed.nonce):
                raise NonceReusedError(signed.contributor, signed.nonce)
            outcomes = record(session, [submission for _, submission in checked], store=self.store,
                              sign_receipt=self.signer.sign, now=now, master_key=self._master_key,
                              quotas=self.quotas)
            if any(not isinstance(outcome, TallyError) for outcome in outcomes):
                # The nonce is used once something is recorded under it; a concurrent request with
                # the same batch nonce loses here, and its whole transaction rolls back.
                try:
                    with session.begin_nested():
                        session.add(ConsentBatch(contributor=signed.contributor, nonce=str(signed.nonce),
                                                 contents_root=root, count=signed.count, issued_at=signed.issued_at,
                                                 signature=signed.signature, created_at=now))
                except IntegrityError:
                    raise NonceReusedError(signed.contributor, signed.nonce) from None
        for (i, _), outcome in zip(checked, outcomes, strict=True):
            results[i] = outcome if isinstance(outcome, TallyError) else Accepted(*outcome)
        if charged or any(isinstance(outcome, CHARGED_REFUSALS) for outcome in outcomes):
            self.charge({signed.contributor} - _counted(checked, outcomes), now)
        return [r for r in results if r is not None]


    def _batch_images(self, prepared: Sequence[Prepared | None], attachments: object,
                      results: list[Accepted | TallyError | None]) -> dict[int, tuple[Image, ...]]:
        """Each item's images, from the signed batch's one ``attachments`` object: an item whose
        images do not check out is refused alone; an attachment no item names refuses the batch."""
        if attachments is None:
            attachments = {}
        if not isinstance(attachments, Mapping) or not all(isinstance(v, str) for v in attachments.values()):
            raise InvalidFieldError("attachments", "must be an object of image CIDs to base64 strings")
        named = {cid for ready in prepared if ready is not None for cid in ready.conversation.image_cids}
        extra = [cid for cid in attachments if cid not in named]
        if extra:
            raise AttachmentMismatchError(f"attachment {extra[0]} is not an image of any conversation", cid=extra[0])
        out: dict[int, tuple[Image, ...]] = {}
        for i, ready in enumerate(prepared):
            if ready is None:
                continue
            own = {cid: attachments[cid] for cid in ready.conversation.image_cids if cid in attachments}
            try:
                out[i] = self._images(ready.conversation, own)
            except TallyError as refusal:
                results[i] = refusal
        return out


CHARGED_REFUSALS = (NearDuplicateError, DuplicateImageError, PersonalDataError)
"""Refusals that count against the verified contributor's requests a minute (``charge``), so that
a farm cannot probe for free which edits (or which images) pass. Not a duplicate or a used nonce: anyone holding a
copy of a signed body can replay it, and must not drain its signer's quota that way; nor a limit
(past it, the minute's count refuses the rest anyway)."""


def _counted(checked: Sequence[tuple[int, Submission]], outcomes: Sequence[Outcome]) -> set[str]:
    """The contributors whose request ``record`` counted in its committed transaction (an item
    of theirs reached the limits: accepted, or refused by them)."""
    return {submission.consent.contributor for (_, submission), outcome in zip(checked, outcomes, strict=True)
            if not isinstance(outcome, TallyError) or isinstance(outcome, RateLimitedError)}


def _batch_nonce_used(session: Session, contributor: str, nonce: int) -> bool:
    return session.scalar(select(ConsentBatch.id).where(ConsentBatch.contributor == contributor,
                                                        ConsentBatch.nonce == str(nonce))) is not None


def _unnormalised_hash(item: object, index: int) -> bytes:
    """The leaf of a batch item that does not normalise: SHA-256 of its RFC 8785 bytes."""
    try:
        return hashlib.sha256(jcs.dumps(item)).digest()
    except (ValueError, TypeError, RecursionError):
        raise InvalidFieldError(f"conversations[{index}]", "has no RFC 8785 form, so the batch signature "
                                "cannot be checked over it") from None
