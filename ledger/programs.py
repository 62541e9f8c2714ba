"""Programs in the ledger: definitions and membership (docs/rewards.md, "Programs").

A definition is written once (the same definition again is a replay, another one under the same
id a 409); membership changes are appended, never updated, by an admin or by the account itself
with an EIP-712 ``Enrol`` signature whose nonce is then used up (docs/formats.md §3). Every
definition and change is published in the manifest of the epoch that seals it
(``ledger.epochs``); what the closes pay follows ``ledger.program_rules``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger import eip712
from ledger.consent import FutureConsentError, SignerMismatchError, StaleConsentError, parse_nonce, parse_signature
from ledger.db import serialise
from ledger.encoding import checksum, hex0x, parse_address
from ledger.errors import ConflictError, InvalidFieldError, NotFoundError
from ledger.models import Program, ProgramChange
from ledger.program_rules import DEFINE, ENROL, ID_PATTERN, LEAVE, Change, Definition, members_before

PROGRAMS_LOCK = 0x7A11EA0
"""Definitions and membership changes run one at a time: read-then-write stays atomic."""


class ProgramExistsError(ConflictError):
    """Another program already has this id."""

    code = "program-exists"


class NotAMemberError(ConflictError):
    """A leave for an account that is not a member."""

    code = "not-a-member"


class NonceReusedError(ConflictError):
    """This account already signed an enrolment with this nonce."""

    code = "nonce-reused"


class UnknownProgramError(NotFoundError):
    def __init__(self, program: str) -> None:
        super().__init__(f"no program {program!r}")


def definition_of(program: Program) -> Definition:
    return Definition(program.id, program.period, program.minimum, program.start, program.retro_from,
                      program.retro_rate)


def program_json(program: Program, members: list[str] | None = None) -> dict[str, object]:
    """A program as the API shows it: its definition, when it was defined, how many periods are
    closed, and (when asked) its members now."""
    body: dict[str, object] = {**definition_of(program).to_json(), "definedAt": program.defined_at,
                               "periodsClosed": program.periods_closed}
    if members is not None:
        body["members"] = members
    return body


@dataclass(frozen=True, slots=True)
class Defined:
    program: Program
    replayed: bool


def define(session: Session, definition: Definition, *, now: int) -> Defined:
    """Record ``definition`` in the caller's transaction (or find it recorded, the same)."""
    serialise(session, PROGRAMS_LOCK)
    existing = session.get(Program, definition.id)
    if existing is not None:
        if definition_of(existing) != definition:
            raise ProgramExistsError(f"program {definition.id!r} is already defined otherwise",
                                     existing=definition_of(existing).to_json())
        return Defined(existing, replayed=True)
    program = Program(id=definition.id, period=definition.period, minimum=definition.minimum,
                      start=definition.start, retro_from=definition.retro_from, retro_rate=definition.retro_rate,
                      defined_at=now, periods_closed=0)
    session.add(program)
    session.add(ProgramChange(program=definition.id, change=DEFINE, account=None, at=now, by="admin"))
    session.flush()
    return Defined(program, replayed=False)


def get_program(session: Session, program_id: str) -> Program:
    program = session.get(Program, program_id) if ID_PATTERN.fullmatch(program_id) else None
    if program is None:
        raise UnknownProgramError(program_id)
    return program


def changes_of(session: Session, program_id: str, *, sealed_only: bool = False) -> list[Change]:
    """The program's membership changes (all, or those sealed into an epoch), in id order."""
    query = select(ProgramChange.id, ProgramChange.account, ProgramChange.change, ProgramChange.at).where(
        ProgramChange.program == program_id, ProgramChange.change != DEFINE)
    if sealed_only:
        query = query.where(ProgramChange.epoch.is_not(None))
    return [Change(i, account or "", change, at) for i, account, change, at in session.execute(query.order_by(
        ProgramChange.id))]


def members_now(session: Session, program_id: str, now: int) -> list[str]:
    return members_before(changes_of(session, program_id), now + 1)


@dataclass(frozen=True, slots=True)
class Membership:
    program: str
    account: str
    action: str
    at: int
    change: int | None
    """The change's id, or None when nothing changed (already a member)."""

    def to_json(self) -> dict[str, object]:
        return {"program": self.program, "account": self.account, "action": self.action, "at": self.at,
                "change": self.change}


def change_membership(session: Session, program_id: str, account: str, action: str, *, now: int) -> Membership:
    """An admin's enrolment or leave, in the caller's transaction. Enrolling a member changes
    nothing; a leave of a non-member is refused."""
    if action not in (ENROL, LEAVE):
        raise InvalidFieldError("action", 'must be "enrol" or "leave"')
    serialise(session, PROGRAMS_LOCK)
    get_program(session, program_id)
    member = account in members_now(session, program_id, now)
    if action == ENROL and member:
        return Membership(program_id, account, action, now, None)
    if action == LEAVE and not member:
        raise NotAMemberError(f"{account} is not a member of {program_id!r}")
    change = ProgramChange(program=program_id, change=action, account=account, at=now, by="admin")
    session.add(change)
    session.flush()
    return Membership(program_id, account, action, now, change.id)


@dataclass(frozen=True, slots=True)
class SignedEnrolment:
    account: str
    nonce: int
    issued_at: int
    signature: bytes


ENROL_FIELDS = ("account", "nonce", "issuedAt", "signature")


def parse_signed_enrolment(body: Mapping[str, object], *, now: int, window: int) -> SignedEnrolment:
    """The fields of a contributor-signed enrolment, checked as a contribution's consent is
    (``ledger.consent``): the nonce a uint256, ``issuedAt`` within ``window`` s of now, a low-s
    signature."""
    unknown = sorted(set(body) - set(ENROL_FIELDS))
    if unknown:
        raise InvalidFieldError(unknown[0], "unknown field (a signed enrolment has account, nonce, issuedAt, "
                                "signature)")
    for name in ENROL_FIELDS:
        if name not in body:
            raise InvalidFieldError(name, "is missing")
    account = parse_address(body["account"], "account")
    nonce = parse_nonce(body["nonce"])
    issued_at = body["issuedAt"]
    if isinstance(issued_at, bool) or not isinstance(issued_at, int) or not 0 <= issued_at < 1 << 64:
        raise InvalidFieldError("issuedAt", "must be Unix seconds as an integer")
    signature = parse_signature(body["signature"])
    if issued_at < now - window:
        raise StaleConsentError(f"issuedAt {issued_at} is more than {window} s before now ({now})", now=now)
    if issued_at > now + window:
        raise FutureConsentError(f"issuedAt {issued_at} is more than {window} s after now ({now})", now=now)
    return SignedEnrolment(account, nonce, issued_at, signature)


def enrol_signed(session: Session, domain: eip712.Domain, program_id: str, signed: SignedEnrolment, *,
                 now: int) -> Membership:
    """Enrol ``signed.account`` on its own EIP-712 ``Enrol`` signature, in the caller's
    transaction; the nonce is used up (a replay is ``nonce-reused``)."""
    get_program(session, program_id)
    digest = domain.enrol_digest(signed.account, program_id, signed.nonce, signed.issued_at)
    signer = eip712.recover_address(digest, signed.signature)
    if signer != bytes.fromhex(signed.account[2:]):
        raise SignerMismatchError(f"the Enrol signature recovers to {checksum(hex0x(signer))}, not to the "
                                  f"account {signed.account}, for program {program_id!r}")
    serialise(session, PROGRAMS_LOCK)
    used = session.scalar(select(ProgramChange.id).where(ProgramChange.account == signed.account,
                                                         ProgramChange.nonce == str(signed.nonce)))
    if used is not None:
        raise NonceReusedError(f"{signed.account} already used nonce {signed.nonce}")
    change = ProgramChange(program=program_id, change=ENROL, account=signed.account, at=now, by="account",
                           nonce=str(signed.nonce), issued_at=signed.issued_at, signature=signed.signature)
    try:
        with session.begin_nested():
            session.add(change)
            session.flush()
    except IntegrityError:  # a racing replica took the nonce between the check and the insert
        raise NonceReusedError(f"{signed.account} already used nonce {signed.nonce}") from None
    return Membership(program_id, signed.account, ENROL, now, change.id)
