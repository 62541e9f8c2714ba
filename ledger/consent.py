"""Contributor consent (DESIGN.md §3): what a contributor signs, every check of it, and the receipt.

A submission's consent is checked cheapest first, and each refusal is its own error: the fields'
shapes, the terms hash, the ``issuedAt`` window, the signature's form (low s only, so each
message has one signature); then, once the conversation's contentHash is known, the EIP-712
signature must recover to the contributor. Nonce uniqueness needs the database and is checked
where contributions are recorded (``ledger.intake``). The receipt is the operator's signed
promise of inclusion; ``ReceiptSigner`` is the one thing intake needs of the operator's key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from eth_keys.datatypes import PrivateKey

from ledger import eip712
from ledger.batch_consent import BatchCountMismatchError
from ledger.encoding import DECIMAL_PATTERN, HASH_PATTERN, SIGNATURE_PATTERN, checksum, hex0x, parse_address
from ledger.errors import ErrorCategory, InvalidFieldError, InvalidInputError, TallyError

SUBMISSION_FIELDS = ("contributor", "conversation", "nonce", "issuedAt", "termsHash", "signature")
BATCH_FIELDS = ("contributor", "conversations", "count", "nonce", "issuedAt", "termsHash", "signature")
"""A signed batch (``ContributionBatch``, ledger.batch_consent): one consent for many conversations."""


class MissingFieldsError(InvalidInputError):
    """Required fields of a submission are absent."""

    def __init__(self, missing: list[str]) -> None:
        super().__init__(f"missing field(s): {', '.join(missing)}",
                         errors=[{"field": name, "message": "required"} for name in missing])


class TermsMismatchError(InvalidInputError):
    """``termsHash`` is not the SHA-256 of the terms the server publishes."""

    code = "terms-mismatch"


class StaleConsentError(InvalidInputError):
    """``issuedAt`` is further in the past than the allowed window."""

    code = "stale-issued-at"


class FutureConsentError(InvalidInputError):
    """``issuedAt`` is further in the future than the allowed window."""

    code = "future-issued-at"


class BatchTooLargeError(InvalidInputError):
    """A batch with more items than ``limits.maxBatch``."""

    code = "batch-too-large"
    status = 413


class SignerMismatchError(TallyError):
    """The Contribution signature recovers to another address than ``contributor``."""

    code = "signer-mismatch"
    status = 403
    category = ErrorCategory.INPUT


@dataclass(frozen=True, slots=True)
class Terms:
    """The contribution terms; their SHA-256 is the ``termsHash`` every consent signs."""

    text: bytes
    hash: bytes = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash", hashlib.sha256(self.text).digest())


@dataclass(frozen=True, slots=True)
class BatchItem:
    """An item's part of a ContributionBatch consent: the batch's root and count, and the
    item's proof from its contentHash to that root (ledger.batch_consent)."""

    contents_root: bytes
    count: int
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Consent:
    """What the contributor signed (DESIGN.md §3), every check passed. With ``batch``, the
    signature, nonce and issuedAt are the ContributionBatch's that covers this item."""

    contributor: str
    nonce: int
    issued_at: int
    terms_hash: bytes
    signature: bytes
    batch: BatchItem | None = None


@dataclass(frozen=True, slots=True)
class SignedSubmission:
    """A submission whose consent fields are well-formed and current; the signature itself is
    checked by ``ConsentPolicy.verify_signer`` once the conversation's contentHash is known."""

    contributor: str
    nonce: int
    issued_at: int
    signature: bytes
    conversation: object


@dataclass(frozen=True, slots=True)
class SignedBatch:
    """A signed batch whose consent fields are well-formed and current; the signature is checked
    by ``ConsentPolicy.verify_batch_signer`` once every item's contentHash is known."""

    contributor: str
    nonce: int
    issued_at: int
    signature: bytes
    count: int
    conversations: list[object]


@dataclass(frozen=True, slots=True)
class ReceiptFields:
    """The operator's promise of inclusion (DESIGN.md §3), before it is signed."""

    content_hash: bytes
    contributor: str
    points: int
    accepted_at: int


class ReceiptSigner(Protocol):
    """Signs receipts: the operator's key, or anything holding it (a KMS, a hardware key)."""

    @property
    def address(self) -> str: ...

    def sign(self, fields: ReceiptFields) -> bytes: ...


@dataclass(frozen=True)
class OperatorSigner:
    """A ``ReceiptSigner`` over a private key held in memory."""

    domain: eip712.Domain
    key: PrivateKey

    @property
    def address(self) -> str:
        return str(self.key.public_key.to_checksum_address())

    def sign(self, fields: ReceiptFields) -> bytes:
        digest = self.domain.receipt_digest(fields.content_hash, fields.contributor, fields.points,
                                            fields.accepted_at)
        return eip712.sign(digest, self.key)


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    """What a consent is checked against: the domain, the current terms, the ``issuedAt`` window."""

    domain: eip712.Domain
    terms: Terms
    window: int = 600

    def parse(self, body: object, now: int) -> SignedSubmission:
        """Every check that needs neither the database nor the conversation, cheapest first."""
        fields, contributor, nonce, issued_at, signature = self._parse_consent(body, SUBMISSION_FIELDS, now)
        return SignedSubmission(contributor, nonce, issued_at, signature, fields["conversation"])

    def parse_batch(self, body: object, now: int, max_batch: int) -> SignedBatch:
        """The same checks for a signed batch (``ContributionBatch``), and that ``count`` is the
        number of conversations, at most ``max_batch``."""
        fields, contributor, nonce, issued_at, signature = self._parse_consent(body, BATCH_FIELDS, now)
        conversations, count = fields["conversations"], fields["count"]
        if not isinstance(conversations, list) or not conversations:
            raise InvalidFieldError("conversations", "must be a non-empty list")
        if len(conversations) > max_batch:
            raise BatchTooLargeError(f"{len(conversations)} conversations; a batch holds at most {max_batch}",
                                     limit=max_batch)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 < count < 1 << 32:
            raise InvalidFieldError("count", "must be the number of conversations, a uint32")
        if count != len(conversations):
            raise BatchCountMismatchError(f"count is {count} but the batch carries {len(conversations)} "
                                          "conversations", count=count, conversations=len(conversations))
        return SignedBatch(contributor, nonce, issued_at, signature, count, conversations)

    def verify_batch_signer(self, batch: SignedBatch, contents_root: bytes) -> None:
        """Raise ``SignerMismatchError`` unless the ContributionBatch signature over ``contents_root``
        recovers to the contributor."""
        digest = self.domain.batch_digest(batch.contributor, contents_root, batch.count, self.terms.hash,
                                          batch.nonce, batch.issued_at)
        signer_bytes = eip712.recover_address(digest, batch.signature)
        if signer_bytes != bytes.fromhex(batch.contributor[2:]):
            signer = checksum(hex0x(signer_bytes))
            raise SignerMismatchError(
                f"the ContributionBatch signature recovers to {signer}, not to the contributor {batch.contributor}, "
                f"for contentsRoot {hex0x(contents_root)} of {batch.count} conversations",
                contentsRoot=hex0x(contents_root))

    def _parse_consent(self, body: object, required: tuple[str, ...],
                       now: int) -> tuple[Mapping[str, object], str, int, int, bytes]:
        """The body as a mapping and its consent fields (contributor, nonce, issuedAt, signature),
        checked; ``required`` names the fields that must be present."""
        if not isinstance(body, Mapping):
            raise InvalidFieldError("body", "must be a JSON object")
        missing = [name for name in required if name not in body]
        if missing:
            raise MissingFieldsError(missing)
        contributor = parse_address(body["contributor"])
        nonce = parse_nonce(body["nonce"])
        issued_at = parse_issued_at(body["issuedAt"])
        terms_hash = body["termsHash"]
        if not isinstance(terms_hash, str) or not HASH_PATTERN.fullmatch(terms_hash):
            raise InvalidFieldError("termsHash", "must be 0x followed by 64 hex digits")
        signature = parse_signature(body["signature"])
        if bytes.fromhex(terms_hash[2:]) != self.terms.hash:
            expected = hex0x(self.terms.hash)
            raise TermsMismatchError(f"termsHash {terms_hash} is not the hash of the current terms, {expected}",
                                     expected=expected)
        self.check_fresh(issued_at, now)
        return body, contributor, nonce, issued_at, signature

    def check_fresh(self, issued_at: int, now: int) -> None:
        """Refuse an ``issuedAt`` more than the window away from ``now``, either side."""
        if issued_at < now - self.window:
            raise StaleConsentError(f"issuedAt {issued_at} is more than {self.window} s before now ({now})",
                                    now=now)
        if issued_at > now + self.window:
            raise FutureConsentError(f"issuedAt {issued_at} is more than {self.window} s after now ({now})",
                                     now=now)

    def verify_signer(self, submission: SignedSubmission, content_hash: bytes) -> Consent:
        """The consent, once the EIP-712 Contribution signature recovers to the contributor."""
        digest = self.domain.contribution_digest(submission.contributor, content_hash, self.terms.hash,
                                                 submission.nonce, submission.issued_at)
        signer_bytes = eip712.recover_address(digest, submission.signature)
        if signer_bytes != bytes.fromhex(submission.contributor[2:]):
            signer = checksum(hex0x(signer_bytes))
            raise SignerMismatchError(
                f"the signature recovers to {signer}, not to the contributor {submission.contributor}, "
                f"for contentHash {hex0x(content_hash)}", contentHash=hex0x(content_hash))
        return Consent(submission.contributor, submission.nonce, submission.issued_at, self.terms.hash,
                       submission.signature)


def parse_issued_at(value: object) -> int:
    """``issuedAt``: Unix seconds, a uint64."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise InvalidFieldError("issuedAt", "must be Unix seconds as an integer")
    return value


def parse_nonce(value: object) -> int:
    if isinstance(value, str) and DECIMAL_PATTERN.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 256:
        raise InvalidFieldError("nonce", "must be a uint256 as a decimal string or an integer")
    return value


def parse_signature(value: object) -> bytes:
    """65 bytes r‖s‖v, parsed and range-checked (low s) before any curve arithmetic."""
    if not isinstance(value, str) or not SIGNATURE_PATTERN.fullmatch(value):
        raise eip712.SignatureError("signature must be 0x followed by 130 hex digits")
    signature = bytes.fromhex(value[2:])
    eip712.parse_signature(signature)
    return signature
