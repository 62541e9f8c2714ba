"""Accepting a contribution into the ledger: one database transaction, all or nothing.

The caller (the API) has already checked the contributor's consent signature; intake decides
whether the conversation is new, scores it, stores its canonical bytes, writes the contribution
row and credits the points. A contentHash is accepted once, from anyone: the unique index on
``content_hash`` settles races between concurrent submissions, whichever process they reach.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ledger import journal
from ledger.content import ContentStore
from ledger.conversation import Conversation, canonical_bytes
from ledger.models import Contribution
from ledger.scoring import Score, score


@dataclass(frozen=True, slots=True)
class Consent:
    """What the contributor signed (DESIGN.md §3), already verified by the caller."""

    contributor: str
    nonce: int
    issued_at: int
    terms_hash: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class ReceiptFields:
    """The operator's promise of inclusion (DESIGN.md §3), before it is signed."""

    content_hash: bytes
    contributor: str
    points: int
    accepted_at: int


ReceiptSigner = Callable[[ReceiptFields], bytes]


class IntakeError(Exception):
    """A contribution refused by the ledger."""

    code = "intake-error"


class DuplicateContributionError(IntakeError):
    code = "duplicate-contribution"

    def __init__(self, existing_id: int) -> None:
        super().__init__(f"this conversation was already contributed as contribution {existing_id}")
        self.existing_id = existing_id


class NonceReusedError(IntakeError):
    code = "nonce-reused"

    def __init__(self, contributor: str, nonce: int) -> None:
        super().__init__(f"nonce {nonce} was already used by {contributor}")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A normalised conversation with its canonical bytes and hash, computed once."""

    conversation: Conversation
    canonical: bytes
    content_hash: bytes

    @classmethod
    def of(cls, conversation: Conversation) -> Prepared:
        data = canonical_bytes(conversation)
        return cls(conversation, data, hashlib.sha256(data).digest())


def find_by_hash(session: Session, content_hash: bytes) -> Contribution | None:
    return session.scalar(select(Contribution).where(Contribution.content_hash == content_hash))


def accept(
    session: Session,
    *,
    prepared: Prepared,
    consent: Consent,
    store: ContentStore,
    sign_receipt: ReceiptSigner,
    now: int,
) -> tuple[Contribution, Score]:
    """Record one contribution in the caller's transaction and return it with its score.

    Raises DuplicateContributionError or NonceReusedError, having written nothing, when the
    conversation or the nonce was seen before. The caller commits.
    """
    existing = find_by_hash(session, prepared.content_hash)
    if existing is not None:
        raise DuplicateContributionError(existing.id)
    nonce = str(consent.nonce)
    if session.scalar(
        select(Contribution.id).where(
            Contribution.contributor == consent.contributor, Contribution.nonce == nonce
        )
    ) is not None:
        raise NonceReusedError(consent.contributor, consent.nonce)

    result = score(prepared.conversation)
    receipt = sign_receipt(
        ReceiptFields(prepared.content_hash, consent.contributor, result.points, now)
    )
    # The bytes go to the store before the row commits: a crash in between leaves an
    # unreferenced block, never a row whose content is missing.
    cid = store.put(prepared.canonical)
    row = Contribution(
        content_hash=prepared.content_hash,
        contributor=consent.contributor,
        nonce=nonce,
        issued_at=consent.issued_at,
        terms_hash=consent.terms_hash,
        signature=consent.signature,
        cid=cid,
        size=len(prepared.canonical),
        model=prepared.conversation.model,
        message_count=len(prepared.conversation.messages),
        points=result.points,
        score=result.as_dict(),
        scorer_version=result.version,
        accepted_at=now,
        receipt_signature=receipt,
    )
    session.add(row)
    session.flush()
    journal.accrue(
        session,
        account=consent.contributor,
        points=result.points,
        ref=f"contribution:{row.id}",
        created_at=now,
        contribution_id=row.id,
    )
    session.flush()
    return row, result


def accept_one(
    sessions: sessionmaker[Session],
    *,
    prepared: Prepared,
    consent: Consent,
    store: ContentStore,
    sign_receipt: ReceiptSigner,
    now: int,
) -> tuple[Contribution, Score]:
    """Accept in a transaction of its own, turning a lost race into the right refusal."""
    with sessions() as session:
        try:
            with session.begin():
                return accept(
                    session, prepared=prepared, consent=consent, store=store,
                    sign_receipt=sign_receipt, now=now,
                )
        except IntegrityError as exc:
            # Another transaction committed the same content or nonce between our check and
            # our insert, and a unique index refused ours: name what won.
            raise lost_race(session, prepared, consent) from exc


def lost_race(session: Session, prepared: Prepared, consent: Consent) -> Exception:
    """The refusal that explains a unique-index violation, read after the rollback."""
    winner = find_by_hash(session, prepared.content_hash)
    if winner is not None:
        return DuplicateContributionError(winner.id)
    if session.scalar(
        select(Contribution.id).where(
            Contribution.contributor == consent.contributor,
            Contribution.nonce == str(consent.nonce),
        )
    ) is not None:
        return NonceReusedError(consent.contributor, consent.nonce)
    return IntakeError("the contribution could not be recorded; nothing was written")
