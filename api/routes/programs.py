"""Programs with a guaranteed minimum per period (docs/rewards.md, "Programs"): defined by an
admin, listed publicly; members enrol and leave through an admin, or enrol themselves with an
EIP-712 ``Enrol`` signature (docs/formats.md §3)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.auth import Role
from api.openapi import ADMIN_KEY, JSON_BODY, answers, problems, rate_limited, secured
from api.routes.admin import require_admin, require_bearer
from api.routes.body import read_json
from api.schemas import MembershipView, ProgramList, ProgramView
from api.services import ServicesDep
from ledger import program_rules, programs
from ledger.encoding import parse_address
from ledger.errors import InvalidFieldError
from ledger.models import Program

router = APIRouter(tags=["programs"])

ProgramId = Annotated[str, Path(description="the program's id",
                                json_schema_extra={"pattern": program_rules.ID_PATTERN.pattern})]

_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?$",
         "description": "a UTC date YYYY-MM-DD (midnight) or instant YYYY-MM-DDTHH:MM:SSZ, 2000 to 2100"}
_POINTS = {"type": "string", "pattern": "^[1-9][0-9]*$", "description": "a positive decimal string"}

_DEFINE = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["id", "period", "minimum", "start"], "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": program_rules.ID_PATTERN.pattern},
        "period": {"oneOf": [{"type": "string", "enum": ["day", "week", "month"]},
                             {"type": "integer", "minimum": 1, "maximum": program_rules.MAX_PERIOD_SECONDS}]},
        "minimum": _POINTS,
        "start": _DATE,
        "retroactiveFrom": {"oneOf": [_DATE, {"type": "null"}]},
        "retroRate": {"oneOf": [_POINTS, {"type": "null"}]},
    }}, "example": {"id": "creators", "period": "week", "minimum": "500", "start": "2026-12-07",
                    "retroactiveFrom": "2026-11-01", "retroRate": "3"}}}}, **secured(ADMIN_KEY)}

_MEMBERS = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
    {"type": "object", "required": ["account", "action"], "additionalProperties": False,
     "description": "with the admin key",
     "properties": {"account": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"},
                    "action": {"type": "string", "enum": ["enrol", "leave"]}}},
    {"type": "object", "required": ["account", "nonce", "issuedAt", "signature"], "additionalProperties": False,
     "description": "without a key: the account's EIP-712 Enrol signature (GET /v1/config, eip712.enrol)",
     "properties": {"account": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"},
                    "nonce": {"type": "string", "pattern": "^(0|[1-9][0-9]{0,77})$"},
                    "issuedAt": {"type": "integer", "minimum": 0},
                    "signature": {"type": "string", "pattern": "^0x[0-9a-fA-F]{130}$"}}},
]}, "example": {"account": "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF", "action": "enrol"}}}},
    # The admin key, or none at all (a signed enrolment).
    "security": [{ADMIN_KEY: []}, {}], "responses": {"429": rate_limited("this client may try a key again")}}


@router.post("/v1/programs", status_code=201, openapi_extra=_DEFINE, dependencies=[Depends(require_admin)],
             operation_id="defineProgram",
             responses={**answers(ProgramView, 201, "Defined"),
                        **answers(ProgramView, 200, "This very program was defined before"),
                        **problems(*JSON_BODY, "unauthorized", "program-exists")})
async def define_program(request: Request, services: ServicesDep) -> JSONResponse:
    """Define a program (admin only): each `period` from `start`, a member who earned less than
    `minimum` points in it (accruals and usage credits) is topped up at the first seal after it
    ends; with `retroactiveFrom` and `retroRate`, the first close also pays members' usage units
    recorded unpaid since that date. A definition never changes: the same body again is a 200,
    another one under the same id a 409."""
    definition = program_rules.parse_definition(await read_json(request, 4096))
    sessions, now = services.sessions, int(services.intake.clock())

    def run() -> tuple[dict[str, Any], bool]:
        with sessions() as session, session.begin():
            defined = programs.define(session, definition, now=now)
            return programs.program_json(defined.program), defined.replayed

    body, replayed = await run_in_threadpool(run)
    return JSONResponse(body, status_code=200 if replayed else 201)


@router.get("/v1/programs", operation_id="listPrograms", responses={**answers(ProgramList), **problems()})
async def list_programs(services: ServicesDep) -> JSONResponse:
    """Every program, by id."""
    sessions = services.sessions

    def run() -> list[dict[str, Any]]:
        with sessions() as session:
            return [programs.program_json(p) for p in session.query(Program).order_by(Program.id)]

    return JSONResponse({"programs": await run_in_threadpool(run)})


@router.get("/v1/programs/{program}", operation_id="getProgram",
            responses={**answers(ProgramView), **problems("not-found")})
async def get_program(program: ProgramId, services: ServicesDep) -> JSONResponse:
    """One program, with its members now."""
    sessions, now = services.sessions, int(services.intake.clock())

    def run() -> dict[str, Any]:
        with sessions() as session:
            found = programs.get_program(session, program)
            return programs.program_json(found, programs.members_now(session, program, now))

    return JSONResponse(await run_in_threadpool(run))


@router.post("/v1/programs/{program}/members", status_code=201, openapi_extra=_MEMBERS,
             operation_id="changeProgramMembership",
             responses={**answers(MembershipView, 201, "Enrolled or left"),
                        **answers(MembershipView, 200, "Already a member: nothing changed"),
                        **problems(*JSON_BODY, "unauthorized", "not-found", "not-a-member", "invalid-address",
                                   "invalid-signature", "signer-mismatch", "nonce-reused", "stale-issued-at",
                                   "future-issued-at")})
async def change_membership(program: ProgramId, request: Request, services: ServicesDep) -> JSONResponse:
    """Enrol an account or let it leave, with the admin key (`{account, action}`); or, without
    a key, enrol on the account's own EIP-712 `Enrol(address account,string program,uint256
    nonce,uint64 issuedAt)` signature over the domain of GET /v1/config (`{account, nonce,
    issuedAt, signature}`), each nonce once per account."""
    keyed = "authorization" in request.headers
    if keyed:
        require_bearer(request, services, Role.ADMIN)
    body = await read_json(request, 4096)
    if not isinstance(body, dict):
        raise InvalidFieldError("body", "must be a JSON object")
    sessions, now, consent = services.sessions, int(services.intake.clock()), services.intake.consent
    if keyed:
        unknown = sorted(set(body) - {"account", "action"})
        if unknown:
            raise InvalidFieldError(unknown[0], "unknown field (with the admin key: account and action)")
        if "account" not in body:
            raise InvalidFieldError("account", "is missing")
        account, action = parse_address(body["account"], "account"), body.get("action")
        if action not in (program_rules.ENROL, program_rules.LEAVE):
            raise InvalidFieldError("action", 'must be "enrol" or "leave"')

        def run() -> programs.Membership:
            with sessions() as session, session.begin():
                return programs.change_membership(session, program, account, str(action), now=now)
    else:
        signed = programs.parse_signed_enrolment(body, now=now, window=consent.window)

        def run() -> programs.Membership:
            with sessions() as session, session.begin():
                return programs.enrol_signed(session, consent.domain, program, signed, now=now)

    membership = await run_in_threadpool(run)
    return JSONResponse(membership.to_json(), status_code=200 if membership.change is None else 201)
