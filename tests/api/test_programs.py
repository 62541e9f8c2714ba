"""Programs over HTTP: defined with the admin key and listed publicly; members enrolled and let go
by an admin or enrolled by their own EIP-712 Enrol signature, each nonce once; every bad body a
problem+json that names the field and writes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ledger import eip712
from ledger.content import LocalBlockStore
from ledger.epochs import Anchor, seal_epoch
from ledger.models import Program, ProgramChange
from tests.api.conftest import Api, build_api

ADMIN = {"Authorization": "Bearer admin-key"}
MEMBER = Account.from_key(b"\x05" * 32)
DEFINITION = {"id": "creators", "period": "week", "minimum": "500", "start": "2026-12-07",
              "retroactiveFrom": None, "retroRate": None}


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> tuple[Api, TestClient]:
    api = build_api(db_url, tmp_path)
    return api, api.client_with(admin_api_key="admin-key")


def counts(api: Api) -> tuple[int, int]:
    with api.intake.sessions() as session:
        return (session.scalar(select(func.count()).select_from(Program)) or 0,
                session.scalar(select(func.count()).select_from(ProgramChange)) or 0)


def enrolment(api: Api, client: TestClient, *, nonce: int = 1, program: str = "creators",
              signer: Any = MEMBER, **overrides: Any) -> dict[str, Any]:
    config = client.get("/v1/config").json()["eip712"]
    assert config["enrol"]["primaryType"] == "Enrol"
    issued_at = int(api.clock[0])
    message = {"account": MEMBER.address, "program": program, "nonce": nonce, "issuedAt": issued_at}
    signed = Account.sign_typed_data(signer.key, config["domain"], {"Enrol": config["enrol"]["types"]["Enrol"]},
                                     message)
    return {"account": MEMBER.address, "nonce": str(nonce), "issuedAt": issued_at,
            "signature": "0x" + bytes(signed.signature).hex(), **overrides}


def test_a_program_is_defined_once_and_listed(api: tuple[Api, TestClient]) -> None:
    _, client = api
    created = client.post("/v1/programs", json=DEFINITION, headers=ADMIN)
    assert created.status_code == 201
    assert {k: created.json()[k] for k in DEFINITION} == DEFINITION and created.json()["periodsClosed"] == 0
    assert client.post("/v1/programs", json=DEFINITION, headers=ADMIN).status_code == 200
    other = client.post("/v1/programs", json={**DEFINITION, "minimum": "501"}, headers=ADMIN)
    assert other.status_code == 409 and other.json()["type"] == "/problems/program-exists"
    assert client.post("/v1/programs", json=DEFINITION).status_code == 401
    assert [p["id"] for p in client.get("/v1/programs").json()["programs"]] == ["creators"]
    assert client.get("/v1/programs/creators").json()["members"] == []
    assert client.get("/v1/programs/nobody").json()["type"] == "/problems/not-found"


@pytest.mark.parametrize(("body", "field"), [
    ({**DEFINITION, "period": "fortnight"}, "period"),
    ({**DEFINITION, "period": 0}, "period"),
    ({**DEFINITION, "period": True}, "period"),
    ({**DEFINITION, "minimum": "-5"}, "minimum"),
    ({**DEFINITION, "minimum": 10**13}, "minimum"),
    ({**DEFINITION, "start": "07/12/2026"}, "start"),
    ({**DEFINITION, "start": "2026-02-30"}, "start"),
    ({**DEFINITION, "start": "1999-12-31"}, "start"),
    ({**DEFINITION, "retroactiveFrom": "2026-11-01"}, "retroRate"),
    ({**DEFINITION, "retroRate": "3"}, "retroactiveFrom"),
    ({**DEFINITION, "id": "Creators"}, "id"),
    ({**DEFINITION, "id": "x" * 41}, "id"),
    ({**DEFINITION, "colour": "red"}, "colour"),
    ({k: v for k, v in DEFINITION.items() if k != "minimum"}, "minimum"),
    (["creators"], "body"),
])
def test_a_bad_definition_is_a_problem_naming_the_field_and_writes_nothing(
        api: tuple[Api, TestClient], body: Any, field: str) -> None:
    service, client = api
    answer = client.post("/v1/programs", json=body, headers=ADMIN)
    assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"] == "/problems/invalid-request" and answer.json()["errors"][0]["field"] == field
    assert counts(service) == (0, 0)


def test_an_admin_enrols_and_lets_go(api: tuple[Api, TestClient]) -> None:
    _, client = api
    client.post("/v1/programs", json=DEFINITION, headers=ADMIN)
    path = "/v1/programs/creators/members"
    enrolled = client.post(path, json={"account": MEMBER.address, "action": "enrol"}, headers=ADMIN)
    assert enrolled.status_code == 201 and enrolled.json()["change"] is not None
    again = client.post(path, json={"account": MEMBER.address, "action": "enrol"}, headers=ADMIN)
    assert again.status_code == 200 and again.json()["change"] is None
    assert client.get("/v1/programs/creators").json()["members"] == [MEMBER.address]
    assert client.post(path, json={"account": MEMBER.address, "action": "leave"}, headers=ADMIN).status_code == 201
    gone = client.post(path, json={"account": MEMBER.address, "action": "leave"}, headers=ADMIN)
    assert gone.status_code == 409 and gone.json()["type"] == "/problems/not-a-member"
    for body, field in [({"account": "0x12", "action": "enrol"}, "account"),
                        ({"account": MEMBER.address, "action": "join"}, "action"),
                        ({"account": MEMBER.address, "action": "enrol", "nonce": "1"}, "nonce")]:
        answer = client.post(path, json=body, headers=ADMIN)
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json", body
        problem = answer.json()
        assert problem.get("field", problem.get("errors", [{}])[0].get("field")) == field
    assert client.post(path, json={"account": MEMBER.address, "action": "enrol"},
                       headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/v1/programs/none/members", json={"account": MEMBER.address, "action": "enrol"},
                       headers=ADMIN).status_code == 404


def test_a_contributor_enrols_by_signature_once_per_nonce(api: tuple[Api, TestClient]) -> None:
    service, client = api
    client.post("/v1/programs", json=DEFINITION, headers=ADMIN)
    path = "/v1/programs/creators/members"
    body = enrolment(service, client)
    assert client.post(path, json=body).status_code == 201
    replay = client.post(path, json=body)
    assert replay.status_code == 409 and replay.json()["type"] == "/problems/nonce-reused"
    assert client.get("/v1/programs/creators").json()["members"] == [MEMBER.address]
    other = Account.from_key(b"\x06" * 32)
    forged = client.post(path, json=enrolment(service, client, nonce=2, signer=other))
    assert forged.status_code == 403 and forged.json()["type"] == "/problems/signer-mismatch"
    elsewhere = client.post(path, json=enrolment(service, client, nonce=3, program="others"))
    assert elsewhere.status_code == 403  # signed for another program
    stale = client.post(path, json=enrolment(service, client, nonce=4, issuedAt=int(service.clock[0]) - 10_000))
    assert stale.status_code == 422 and stale.json()["type"] == "/problems/stale-issued-at"
    assert client.post(path, json={**body, "nonce": "x"}).json()["errors"][0]["field"] == "nonce"
    keyless = client.post(path, json={"account": MEMBER.address, "action": "enrol"})  # an admin's body, no key
    assert keyless.status_code == 422 and keyless.json()["errors"][0]["field"] == "action"
    before = counts(service)
    for bad in ({**body, "signature": "0x12"}, {**body, "account": "0xnope"}, {"account": MEMBER.address}):
        answer = client.post(path, json=bad)
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json", bad
    assert counts(service) == before


def test_definitions_and_enrolments_are_published_in_the_next_manifest(api: tuple[Api, TestClient]) -> None:
    service, client = api
    client.post("/v1/programs", json=DEFINITION, headers=ADMIN)
    client.post("/v1/programs/creators/members", json=enrolment(service, client))
    store, anchor = LocalBlockStore(service.blocks, fsync=False), Anchor(31337, service.services.chain.contract)
    with service.intake.sessions() as session, session.begin():
        assert seal_epoch(session, store, anchor, now=int(service.clock[0])) is not None
    manifest = client.get("/v1/epochs/1/manifest").json()
    define, enrol = manifest["programs"]
    assert {k: define[k] for k in ("change", "program", "period", "minimum", "start")} == {
        "change": "define", "program": "creators", "period": "week", "minimum": "500", "start": "2026-12-07"}
    assert (enrol["change"], enrol["account"], enrol["by"]) == ("enrol", MEMBER.address, "account")
    domain = eip712.Domain(manifest["chainId"], manifest["contract"])
    digest = domain.enrol_digest(MEMBER.address, "creators", int(enrol["nonce"]), enrol["issuedAt"])
    assert eip712.recover(digest, bytes.fromhex(enrol["signature"][2:])) == MEMBER.address
