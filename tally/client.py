"""A Python client of the Tally API: sign and submit a conversation, then check the receipt.

It trusts nothing it can check: the terms hash is recomputed from the served terms, the content
hash from the conversation, and the receipt's signature is recovered and compared with the
operator address the API published.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx
from eth_keys.datatypes import PrivateKey

from ledger import eip712
from ledger.attachments import encode_attachments
from ledger.batch_consent import BatchMessage, contents_root, verify_item
from ledger.conversation import ConversationError, canonical_bytes, image_cids
from ledger.encoding import checksum, hex0x
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
    """A refusal in one line; a 429's ``Retry-After`` says when to try again."""
    retry = response.headers.get("Retry-After")
    after = f"; retry after {retry} s" if retry and retry.isdecimal() else ""
    try:
        body = response.json()
        return f"{response.status_code} {body.get('title')}: {body.get('detail')} ({body.get('type')}){after}"
    except ValueError:
        return f"{response.status_code} {response.text[:200]}{after}"


def domain_of(config: dict[str, Any]) -> eip712.Domain:
    domain = config["eip712"]["domain"]
    return eip712.Domain(int(domain["chainId"]), domain["verifyingContract"])


def sign_submission(
    config: dict[str, Any], conversation: object, private_key: PrivateKey, *, nonce: int, issued_at: int,
    images: Sequence[bytes] = (),
) -> dict[str, Any]:
    """The JSON body of POST /v1/contributions, signed with ``private_key``; ``images``, the bytes
    of the images a version-2 conversation names, go in its ``attachments`` (docs/formats.md §2)."""
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
        **({"attachments": encode_attachments(list(images))} if images else {}),
    }


def sign_batch(
    config: dict[str, Any], conversations: list[object], private_key: PrivateKey, *, nonce: int, issued_at: int,
    images: Sequence[bytes] = (),
) -> dict[str, Any]:
    """The signed-batch body of POST /v1/contributions:batch: one EIP-712 ``ContributionBatch``
    signature over the root of the conversations' contentHashes (ledger.batch_consent); the
    ``images`` the conversations name go in its one ``attachments``."""
    hashes = [hashlib.sha256(canonical_bytes(conversation)).digest() for conversation in conversations]
    message = BatchMessage(private_key.public_key.to_checksum_address(), contents_root(hashes), len(hashes),
                           bytes.fromhex(config["termsHash"][2:]), nonce, issued_at)
    return {
        "contributor": message.contributor,
        "conversations": conversations,
        "count": message.count,
        "nonce": str(nonce),
        "issuedAt": issued_at,
        "termsHash": config["termsHash"],
        "signature": hex0x(eip712.sign(message.digest(domain_of(config)), private_key)),
        **({"attachments": encode_attachments(list(images))} if images else {}),
    }


def check_batch_consent(config: dict[str, Any], body: dict[str, Any]) -> None:
    """With a ContributionBatch consent, check it for this contribution: its contentHash and
    proof lead to contentsRoot, and the batch signature recovers to its contributor (raises
    ``BatchProofMismatchError`` or ``BatchSignerMismatchError``). Nothing to check otherwise."""
    consent = body.get("consent") or {}
    batch = consent.get("batch")
    if batch is None:
        return
    message = BatchMessage(body["contributor"], bytes.fromhex(batch["contentsRoot"][2:]), int(batch["count"]),
                           bytes.fromhex(consent["termsHash"][2:]), int(consent["nonce"]), int(consent["issuedAt"]))
    verify_item(domain_of(config), message, bytes.fromhex(body["contentHash"][2:]),
                [bytes.fromhex(p[2:]) for p in batch["proof"]], bytes.fromhex(consent["signature"][2:]))


def check_receipt(config: dict[str, Any], body: dict[str, Any]) -> None:
    """Raise SubmitError unless the receipt is the operator's signature over this contribution,
    and a batch consent's error unless the ContributionBatch consent covers it."""
    check_batch_consent(config, body)
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


def _signing_config(client: httpx.Client) -> dict[str, Any]:
    """``/v1/config``, once the served terms are checked against its ``termsHash``."""
    config: dict[str, Any] = client.get("/v1/config").raise_for_status().json()
    terms = client.get("/v1/terms").raise_for_status().content
    if "0x" + hashlib.sha256(terms).hexdigest() != config["termsHash"]:
        raise ReceiptError("the served terms do not hash to the termsHash of /v1/config")
    return config


def _signed(config: dict[str, Any], conversation: object, private_key: PrivateKey, nonce: int,
            issued_at: int, images: Sequence[bytes] = ()) -> dict[str, Any]:
    try:
        return sign_submission(config, conversation, private_key, nonce=nonce, issued_at=issued_at, images=images)
    except ConversationError as exc:
        raise SubmitError(f"the conversation cannot be submitted: {exc}") from None


def submit_conversation(
    api_url: str, conversation: object, private_key: PrivateKey, *, nonce: int, issued_at: int,
    timeout: float = 30.0, images: Sequence[bytes] = (),
) -> dict[str, Any]:
    """Sign and submit one conversation (with the bytes of the ``images`` it names); the accepted
    contribution, its receipt checked."""
    base = api_url.rstrip("/")
    try:
        with httpx.Client(base_url=base, timeout=timeout) as client:
            config = _signing_config(client)
            body = _signed(config, conversation, private_key, nonce, issued_at, images)
            response = client.post("/v1/contributions", json=body)
    except httpx.HTTPError as exc:
        raise ApiUnreachableError(f"cannot reach the Tally API at {base}: {exc}") from None
    result = _answer(response, 201)
    check_receipt(config, result)
    return result


def submit_conversations(
    api_url: str, conversations: list[object], private_key: PrivateKey, *, first_nonce: int, issued_at: int,
    timeout: float = 60.0, on_chunk: Callable[[int, int], None] = lambda _start, _count: None,
    images: Mapping[str, bytes] | None = None,
) -> list[dict[str, Any] | SubmitError]:
    """Sign and submit many conversations through ``/v1/contributions:batch``: one
    ``ContributionBatch`` signature per request of at most ``limits.maxBatch`` conversations
    (nonces ``first_nonce``, ``first_nonce + 1``, ... per request; ``on_chunk(start, count)`` is
    told of each). One result per conversation, in order: the accepted contribution (its receipt
    and batch consent checked) or the refusal; a refused item never refuses the others. A
    conversation that cannot be normalised here is refused before signing and left out of the batch.
    ``images`` (CID to bytes) holds the images the conversations name; each request carries those
    of its own conversations."""
    base = api_url.rstrip("/")
    items: list[object | SubmitError] = []
    named: dict[int, list[str]] = {}
    for conversation in conversations:
        try:
            named[id(conversation)] = image_cids(canonical_bytes(conversation))
            items.append(conversation)
        except ConversationError as exc:
            items.append(SubmitError(f"the conversation cannot be submitted: {exc}"))
    signable = [item for item in items if not isinstance(item, SubmitError)]
    answers: list[dict[str, Any] | SubmitError] = []
    try:
        with httpx.Client(base_url=base, timeout=timeout) as client:
            config = _signing_config(client)
            per_request = int(config["limits"]["maxBatch"])
            for number, start in enumerate(range(0, len(signable), per_request)):
                chunk = signable[start:start + per_request]
                on_chunk(start, len(chunk))
                cids = dict.fromkeys(cid for item in chunk for cid in named[id(item)] if images and cid in images)
                body = sign_batch(config, chunk, private_key, nonce=first_nonce + number, issued_at=issued_at,
                                  images=[images[cid] for cid in cids] if images else [])
                answers.extend(_batch_result(config, answer) for answer in _post_batch(client, body))
    except httpx.HTTPError as exc:
        raise ApiUnreachableError(f"cannot reach the Tally API at {base}: {exc}") from None
    given = iter(answers)
    return [item if isinstance(item, SubmitError) else next(given) for item in items]


def _post_batch(client: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = _answer(client.post("/v1/contributions:batch", json=body), 200)["results"]
    return answers


def _batch_result(config: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any] | SubmitError:
    if answer["status"] != 201:
        problem = answer["problem"]
        return SubmitError(f"{problem.get('status')} {problem.get('title')}: {problem.get('detail')} "
                           f"({problem.get('type')})")
    contribution: dict[str, Any] = answer["contribution"]
    check_receipt(config, contribution)
    return contribution


def contribution_state(api_url: str, key: int | str, timeout: float = 30.0) -> dict[str, Any]:
    """``GET /v1/contributions/{id or contentHash}``."""
    return _get_json(api_url, f"/v1/contributions/{key}", timeout)


def balance_bundle(api_url: str, account: str, epoch: int | None = None, timeout: float = 60.0) -> dict[str, Any]:
    """``GET /v1/accounts/{address}/proof``: an account's balance bundle (the latest final epoch
    unless ``epoch``)."""
    return _get_json(api_url, f"/v1/accounts/{account}/proof" + (f"?epoch={epoch}" if epoch else ""), timeout)


def proof_bundle(api_url: str, contribution_id: int | str, timeout: float = 60.0) -> dict[str, Any]:
    """``GET /v1/contributions/{id}/proof``: the bundle to check against the chain."""
    return _get_json(api_url, f"/v1/contributions/{contribution_id}/proof", timeout)


class NotAnchoredYetError(UnavailableError):
    """The contribution is not final on-chain yet: its proof exists once its epoch is (try later)."""

    code = "not-anchored"
    status = 409


def wait_until_anchored(api_url: str, contribution_id: int | str, *, timeout: float, poll: float = 2.0,
                        on_change: Callable[[dict[str, Any]], None] = lambda _state: None) -> dict[str, Any]:
    """Poll the contribution until its epoch is final on-chain (status ``anchored``); call
    ``on_change`` each time its status moves. Raise NotAnchoredYetError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    seen = None
    while True:
        state = contribution_state(api_url, contribution_id)
        if state["status"] != seen:
            seen = state["status"]
            on_change(state)
        if state["status"] == "anchored":
            return state
        if time.monotonic() >= deadline:
            raise NotAnchoredYetError(f"contribution {contribution_id} is still {state['status']} after "
                                      f"{timeout:.0f} s; wait longer with --timeout")
        time.sleep(poll)


def export_pages(api_url: str, key: str, *, after: int = 0, limit: int = 1000,
                 timeout: float = 120.0) -> Iterator[tuple[list[bytes], int, int]]:
    """Page through ``GET /v1/export`` with the data-consumer ``key`` from id ``after`` on:
    each page's JSON lines, its last id and how many remain after it, until none do."""
    base = api_url.rstrip("/")
    with httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {key}"}) as client:
        while True:
            try:
                response = client.get(base + "/v1/export", params={"after": after, "limit": limit})
            except httpx.HTTPError as exc:
                raise ApiUnreachableError(f"cannot reach the Tally API at {base}: {exc}") from None
            if response.status_code != 200:
                _answer(response, 200)
            lines = response.content.splitlines(keepends=True)
            after, remaining = int(response.headers["X-Export-Last-Id"]), int(response.headers["X-Export-Remaining"])
            yield lines, after, remaining
            if not lines or not remaining:
                return


def api_config(api_url: str, timeout: float = 30.0) -> dict[str, Any]:
    return _get_json(api_url, "/v1/config", timeout)


def _get_json(api_url: str, path: str, timeout: float) -> dict[str, Any]:
    base = api_url.rstrip("/")
    try:
        response = httpx.get(base + path, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ApiUnreachableError(f"cannot reach the Tally API at {base}: {exc}") from None
    return _answer(response, 200)


def _answer(response: httpx.Response, expected: int) -> dict[str, Any]:
    """The JSON body of an answer with the ``expected`` status; a 5xx is the API being
    unavailable (exit 3), any other status a refusal (exit 2), its problem in the message."""
    if response.status_code >= 500:
        raise ApiUnreachableError(_problem_text(response))
    if response.status_code != expected:
        raise SubmitError(_problem_text(response))
    body: dict[str, Any] = response.json()
    return body


def post_json(api_url: str, path: str, body: object, *, key: str | None = None,
              timeout: float = 30.0) -> tuple[int, dict[str, Any]]:
    """POST ``body`` to the API (with ``key`` as a bearer token, if any): the status (200 or 201)
    and the answer; any other status is a refusal or the API being unavailable (``_answer``)."""
    base = api_url.rstrip("/")
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    try:
        response = httpx.post(base + path, json=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ApiUnreachableError(f"cannot reach the Tally API at {base}: {exc}") from None
    return response.status_code, _answer(response, 201 if response.status_code == 201 else 200)


def get_json(api_url: str, path: str, timeout: float = 30.0) -> dict[str, Any]:
    return _get_json(api_url, path, timeout)


def signed_enrolment(config: dict[str, Any], program: str, private_key: PrivateKey, *, nonce: int,
                     issued_at: int) -> dict[str, Any]:
    """The body of POST /v1/programs/{program}/members that enrols the key's account on its own
    EIP-712 ``Enrol`` signature (docs/formats.md §3)."""
    account = checksum(private_key.public_key.to_checksum_address())
    digest = domain_of(config).enrol_digest(account, program, nonce, issued_at)
    return {"account": account, "nonce": str(nonce), "issuedAt": issued_at,
            "signature": hex0x(eip712.sign(digest, private_key))}


def signed_publish(config: dict[str, Any], contribution: Mapping[str, Any], private_key: PrivateKey, *,
                   visible: bool, nonce: int, issued_at: int) -> dict[str, Any]:
    """The body of ``POST /v1/contributions/{id}:publish``: the key's EIP-712 ``Publish`` of
    ``contribution`` (as ``GET /v1/contributions/{id}`` gives it), shown in the feed when
    ``visible``, withdrawn otherwise. Signed over the contribution's own contributor, so a key
    that is not the contributor's is refused by the API (``signer-mismatch``)."""
    digest = domain_of(config).publish_digest(checksum(contribution["contributor"]),
                                              bytes.fromhex(contribution["contentHash"][2:]), visible, nonce, issued_at)
    return {"visible": visible, "nonce": str(nonce), "issuedAt": issued_at,
            "signature": hex0x(eip712.sign(digest, private_key))}


def signed_engage(config: dict[str, Any], content_hash: str, private_key: PrivateKey, *, kind: int, nonce: int,
                  issued_at: int, remix: str | None = None) -> dict[str, Any]:
    """The body of ``POST /v1/contributions/{id}:engage``: the key's EIP-712 ``Engage`` with the
    contribution of ``content_hash``, a like (kind 1) or a remix (kind 2) naming ``remix``, the
    contentHash of the key's own new contribution."""
    actor = checksum(private_key.public_key.to_checksum_address())
    digest = domain_of(config).engage_digest(actor, bytes.fromhex(content_hash[2:]), kind, nonce, issued_at)
    return {"actor": actor, "kind": kind, "nonce": str(nonce), "issuedAt": issued_at,
            "signature": hex0x(eip712.sign(digest, private_key)), **({"remix": remix} if remix else {})}
