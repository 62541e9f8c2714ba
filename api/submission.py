"""Checking one submission (DESIGN.md §3, §8) and handing it to the ledger.

Checks run cheapest first and each failure is a Problem with its own type; nothing is written
until every check has passed, and then in one transaction.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_keys import keys
from eth_utils import is_checksum_address, to_checksum_address
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from api import eip712
from api.problems import Problem
from ledger import intake
from ledger.content import ContentStore
from ledger.conversation import ConversationError, normalise
from ledger.models import Contribution
from ledger.scoring import Score

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]{130}$")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,77})$")


class SubmissionBody(BaseModel):
    """The body of POST /v1/contributions (documented in OpenAPI; checked by hand below)."""

    contributor: str = Field(description="the contributor's address, 0x-hex (EIP-55 if mixed case)")
    conversation: dict[str, Any] = Field(description="a ChatGPT, ShareGPT or plain conversation")
    nonce: str | int = Field(description="uint256, decimal string (or a JSON number below 2^53)")
    issuedAt: int = Field(description="Unix seconds when the consent was signed")
    termsHash: str = Field(description="0x-hex SHA-256 of GET /v1/terms")
    signature: str = Field(description="0x-hex 65-byte EIP-712 signature of Contribution")


class BatchBody(BaseModel):
    items: list[SubmissionBody]


def parse_address(value: object, field: str = "contributor") -> str:
    """A checksummed address, or an invalid-address problem."""
    if not isinstance(value, str) or not _ADDRESS.match(value):
        raise Problem("invalid-address", f"{field} must be 0x followed by 40 hex digits", field=field)
    body = value[2:]
    mixed = body != body.lower() and body != body.upper()
    if mixed and not is_checksum_address(value):
        raise Problem("invalid-address", f"{field} has an invalid EIP-55 checksum", field=field)
    return to_checksum_address(value)


def invalid_field(field: str, message: str) -> Problem:
    return Problem("invalid-request", f"{field}: {message}", errors=[{"field": field, "message": message}])


@dataclass(frozen=True, slots=True)
class Limits:
    max_body_bytes: int
    max_batch: int
    issued_at_window: int

    def as_json(self) -> dict[str, int]:
        return {
            "maxBodyBytes": self.max_body_bytes,
            "maxBatch": self.max_batch,
            "issuedAtWindow": self.issued_at_window,
        }


@dataclass(frozen=True, slots=True)
class Accepted:
    contribution: Contribution
    score: Score


class Intake:
    """Everything a submission is checked against, built once per process by the wiring."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        store: ContentStore,
        domain: eip712.Domain,
        operator_key: keys.PrivateKey,
        terms: bytes,
        limits: Limits,
        clock: Callable[[], float] = time.time,
        master_key: bytes | None = None,
    ) -> None:
        self.sessions = sessions
        self.store = store
        self.domain = domain
        self._operator_key = operator_key
        self.operator = operator_key.public_key.to_checksum_address()
        self.terms = terms
        self.terms_hash = hashlib.sha256(terms).digest()
        self.limits = limits
        self.clock = clock
        # Privacy mode when set: conversations are stored encrypted (see ledger.content.envelope).
        self._master_key = master_key

    @property
    def privacy(self) -> bool:
        return self._master_key is not None

    def sign_receipt(self, fields: intake.ReceiptFields) -> bytes:
        digest = self.domain.receipt_digest(
            fields.content_hash, fields.contributor, fields.points, fields.accepted_at
        )
        return eip712.sign(digest, self._operator_key)

    def check(self, body: object, now: int) -> tuple[intake.Prepared, intake.Consent]:
        """Every check that needs no database: shape, consent and the conversation itself."""
        if not isinstance(body, Mapping):
            raise invalid_field("body", "must be a JSON object")
        missing = [f for f in ("contributor", "conversation", "nonce", "issuedAt", "termsHash", "signature")
                   if f not in body]
        if missing:
            raise Problem(
                "invalid-request",
                f"missing field(s): {', '.join(missing)}",
                errors=[{"field": f, "message": "required"} for f in missing],
            )
        contributor = parse_address(body["contributor"])
        nonce = body["nonce"]
        if isinstance(nonce, str) and _DECIMAL.match(nonce):
            nonce = int(nonce)
        if isinstance(nonce, bool) or not isinstance(nonce, int) or not 0 <= nonce < 1 << 256:
            raise invalid_field("nonce", "must be a uint256 as a decimal string or an integer")
        issued_at = body["issuedAt"]
        if isinstance(issued_at, bool) or not isinstance(issued_at, int) or not 0 <= issued_at < 1 << 64:
            raise invalid_field("issuedAt", "must be Unix seconds as an integer")
        terms_hash = body["termsHash"]
        if not isinstance(terms_hash, str) or not _HASH.match(terms_hash):
            raise invalid_field("termsHash", "must be 0x followed by 64 hex digits")
        signature = body["signature"]
        if not isinstance(signature, str) or not _SIGNATURE.match(signature):
            raise Problem("invalid-signature", "signature must be 0x followed by 130 hex digits")
        signature_bytes = bytes.fromhex(signature[2:])
        try:
            eip712.parse_signature(signature_bytes)
        except eip712.SignatureError as exc:
            raise Problem("invalid-signature", str(exc)) from None
        if bytes.fromhex(terms_hash[2:]) != self.terms_hash:
            raise Problem(
                "terms-mismatch",
                f"termsHash {terms_hash} is not the hash of the current terms, 0x{self.terms_hash.hex()}",
                expected="0x" + self.terms_hash.hex(),
            )
        window = self.limits.issued_at_window
        if issued_at < now - window:
            raise Problem("stale-issued-at", f"issuedAt {issued_at} is more than {window} s before now ({now})",
                          now=now)
        if issued_at > now + window:
            raise Problem("future-issued-at", f"issuedAt {issued_at} is more than {window} s after now ({now})",
                          now=now)
        conversation = body["conversation"]
        try:
            prepared = intake.Prepared.of(normalise(conversation))
        except ConversationError as exc:
            raise Problem(exc.code, str(exc)) from None
        digest = self.domain.contribution_digest(
            contributor, prepared.content_hash, self.terms_hash, nonce, issued_at
        )
        try:
            signer = eip712.recover(digest, signature_bytes)
        except eip712.SignatureError as exc:
            raise Problem("invalid-signature", str(exc)) from None
        if signer != contributor:
            raise Problem(
                "signer-mismatch",
                f"the signature recovers to {signer}, not to the contributor {contributor}, for contentHash "
                f"0x{prepared.content_hash.hex()}",
                contentHash="0x" + prepared.content_hash.hex(),
            )
        consent = intake.Consent(contributor, nonce, issued_at, self.terms_hash, signature_bytes)
        return prepared, consent

    def submit(self, body: object) -> Accepted:
        now = int(self.clock())
        prepared, consent = self.check(body, now)
        try:
            row, score = intake.accept_one(
                self.sessions, prepared=prepared, consent=consent, store=self.store,
                sign_receipt=self.sign_receipt, now=now, master_key=self._master_key,
            )
        except intake.IntakeError as exc:
            raise _intake_problem(exc) from None
        return Accepted(row, score)

    def submit_batch(self, items: list[object]) -> list[Accepted | Problem]:
        """Accept each valid item in one transaction; a refused item does not sink the others."""
        now = int(self.clock())
        results: list[Accepted | Problem | None] = [None] * len(items)
        checked: list[tuple[int, intake.Prepared, intake.Consent]] = []
        for i, item in enumerate(items):
            try:
                prepared, consent = self.check(item, now)
                checked.append((i, prepared, consent))
            except Problem as problem:
                results[i] = problem
        submissions = [intake.Submission(prepared, consent) for _, prepared, consent in checked]
        with self.sessions() as session, session.begin():
            outcomes = intake.record(session, submissions, store=self.store,
                                     sign_receipt=self.sign_receipt, now=now, master_key=self._master_key)
        for (i, _, _), outcome in zip(checked, outcomes, strict=True):
            results[i] = _intake_problem(outcome) if isinstance(outcome, Exception) else Accepted(*outcome)
        return [r for r in results if r is not None]


def _intake_problem(exc: Exception) -> Problem:
    if isinstance(exc, intake.DuplicateContributionError):
        return Problem("duplicate-contribution", str(exc), existing=exc.existing_id)
    if isinstance(exc, intake.DuplicateInBatchError):
        return Problem("duplicate-contribution", str(exc))
    if isinstance(exc, intake.NonceReusedError):
        return Problem("nonce-reused", str(exc))
    return Problem("internal-error", str(exc))
