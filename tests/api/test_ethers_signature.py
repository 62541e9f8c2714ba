"""Consent signed by ethers.js (Wallet.signTypedData) is accepted; over another domain it is not."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from typing import Any

import pytest

from ledger.conversation import canonical_bytes
from tests.api.conftest import Api, contributor_key, sample_conversation
from tests.conftest import ROOT

pytestmark = pytest.mark.node


CONTRIBUTION_TYPES = {"Contribution": [
    {"name": "contributor", "type": "address"}, {"name": "contentHash", "type": "bytes32"},
    {"name": "termsHash", "type": "bytes32"}, {"name": "nonce", "type": "uint256"},
    {"name": "issuedAt", "type": "uint64"}]}


def ethers_sign(private_key: bytes, domain: dict[str, Any], message: dict[str, Any],
                types: dict[str, Any] = CONTRIBUTION_TYPES) -> str:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ethers").is_dir():
        pytest.skip("node and the npm packages (npm ci) are needed")
    request = {"privateKey": "0x" + private_key.hex(), "domain": domain, "types": types, "message": message}
    out = subprocess.run(["node", str(ROOT / "tests" / "js" / "sign_typed_data.mjs")], input=json.dumps(request),
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return out.stdout.strip()


def _body(api: Api, domain: dict[str, Any]) -> dict[str, Any]:
    key = contributor_key(7)
    conversation = sample_conversation("ethers")
    config = api.config
    message = {
        "contributor": key.public_key.to_checksum_address(),
        "contentHash": "0x" + hashlib.sha256(canonical_bytes(conversation)).hexdigest(),
        "termsHash": config["termsHash"],
        "nonce": str(2**255 + 3),
        "issuedAt": int(api.clock[0]),
    }
    signature = ethers_sign(key.to_bytes(), domain, message)
    return {"contributor": message["contributor"], "conversation": conversation, "nonce": message["nonce"],
            "issuedAt": message["issuedAt"], "termsHash": message["termsHash"], "signature": signature}


def test_a_signature_made_by_ethers_is_accepted(api: Api) -> None:
    response = api.client.post("/v1/contributions", json=_body(api, api.config["eip712"]["domain"]))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("change", [{"chainId": 1}, {"verifyingContract": "0x" + "11" * 20},
                                    {"name": "Tally2"}, {"version": "2"}])
def test_a_signature_over_another_domain_is_refused(api: Api, change: dict[str, Any]) -> None:
    domain = {**api.config["eip712"]["domain"], **change}
    before = api.counts()
    response = api.client.post("/v1/contributions", json=_body(api, domain))
    assert response.status_code == 403 and response.json()["type"] == "/problems/signer-mismatch"
    assert api.counts() == before


def test_an_enrolment_signed_by_ethers_is_accepted(api: Api) -> None:
    """The EIP-712 Enrol of a program (docs/formats.md §3), types written here by hand as a wallet
    would, signed by ethers: the server's digest (a string field hashed) is the standard one."""
    admin = api.client_with(admin_api_key="admin-key")
    assert admin.post("/v1/programs", json={"id": "creators", "period": "week", "minimum": "5",
                                            "start": "2026-12-07"},
                      headers={"Authorization": "Bearer admin-key"}).status_code == 201
    key = contributor_key(8)
    message = {"account": key.public_key.to_checksum_address(), "program": "creators", "nonce": str(2**200 + 1),
               "issuedAt": int(api.clock[0])}
    types = {"Enrol": [{"name": "account", "type": "address"}, {"name": "program", "type": "string"},
                       {"name": "nonce", "type": "uint256"}, {"name": "issuedAt", "type": "uint64"}]}
    assert admin.get("/v1/config").json()["eip712"]["enrol"]["types"]["Enrol"] == types["Enrol"]
    signature = ethers_sign(key.to_bytes(), api.config["eip712"]["domain"], message, types)
    body = {"account": message["account"], "nonce": message["nonce"], "issuedAt": message["issuedAt"],
            "signature": signature}
    assert admin.post("/v1/programs/creators/members", json=body).status_code == 201
