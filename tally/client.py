"""A Python client of the Tally API: sign and submit a conversation, then check the receipt.

It trusts nothing it can check: the terms hash is recomputed from the served terms, the content
hash from the conversation, and the receipt's signature is recovered and compared with the
operator address the API published.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from eth_keys.datatypes import PrivateKey

from ledger import eip712
from ledger.conversation import ConversationError, canonical_bytes
from ledger.encoding import hex0x
from ledger.errors import InvalidInputError, UnavailableError, VerificationFailure


class SubmitError(InvalidInputError):
    """The API refused the submission (its problem is in the message)."""


class ReceiptError(SubmitError, VerificationFailure):
    """The API accepted the submission but its receipt or terms do not check out."""

    code = "verification-failed"
    status = 422
    category = VerificationFailure.category


class ApiUnreachableError(SubmitError, UnavailableError):
    """The Tally API cannot be reached."""

    code = "unavailable"
    status = 503
    category = UnavailableError.category


def _problem_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body.get('title')}: {body.get('detail')} ({body.get('type')})"
    except ValueError:
        return f"{response.status_code} {response.text[:200]}"


def domain_of(config: dict[str, Any]) -> eip712.Domain:
    domain = config["eip712"]["domain"]
    return eip712.Domain(int(domain["chainId"]), domain["verifyingContract"])


def sign_submission(
    config: dict[str, Any], conversation: object, private_key: PrivateKey, *, nonce: int, issued_at: int
) -> dict[str, Any]:
    """The JSON body of POST /v1/contributions, signed with ``private_key``."""
    content_hash = hashlib.sha256(canonical_bytes(conversation)).digest()
    terms_hash = bytes.fromhex(config["termsHash"][2:])
    contributor = private_key.public_key.to_checksum_address()
    digest = domain_of(config).contribution_digest(contributor, content_hash, terms_hash, nonce, issued_at)
    return {
        "contributor": contributor,
        "conversation": conversation,
        "nonce": str(nonce),
        "issuedAt": issued_at,
        "termsHash": config["termsHash"],
        "signature": hex0x(eip712.sign(digest, private_key)),
    }


def check_receipt(config: dict[str, Any], body: dict[str, Any]) -> None:
    """Raise SubmitError unless the receipt is the operator's signature over this contribution."""
    receipt = body["receipt"]
    message = receipt["message"]
    if message["contentHash"] != body["contentHash"]:
        raise ReceiptError("the receipt names another contentHash")
    digest = domain_of(config).receipt_digest(
        bytes.fromhex(message["contentHash"][2:]), message["contributor"], int(message["points"]),
        int(message["acceptedAt"]),
    )
    signer = eip712.recover(digest, bytes.fromhex(receipt["signature"][2:]))
    if signer != config["operator"]:
        raise ReceiptError(f"the receipt is signed by {signer}, not by the operator {config['operator']}")


def submit_conversation(
    api_url: str, conversation: object, private_key: PrivateKey, *, nonce: int, issued_at: int,
    timeout: float = 30.0,
) -> dict[str, Any]:
    base = api_url.rstrip("/")
    try:
        with httpx.Client(base_url=base, timeout=timeout) as client:
            config = client.get("/v1/config").raise_for_status().json()
            terms = client.get("/v1/terms").raise_for_status().content
            if "0x" + hashlib.sha256(terms).hexdigest() != config["termsHash"]:
                raise ReceiptError("the served terms do not hash to the termsHash of /v1/config")
            try:
                body = sign_submission(config, conversation, private_key, nonce=nonce, issued_at=issued_at)
            except ConversationError as exc:
                raise SubmitError(f"the conversation cannot be submitted: {exc}") from None
            response = client.post("/v1/contributions", json=body)
    except httpx.HTTPError as exc:
        raise ApiUnreachableError(f"cannot reach the Tally API at {base}: {exc}") from None
    if response.status_code >= 500:
        raise ApiUnreachableError(_problem_text(response))
    if response.status_code != 201:
        raise SubmitError(_problem_text(response))
    result: dict[str, Any] = response.json()
    check_receipt(config, result)
    return result
