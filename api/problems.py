"""RFC 9457 problem details: every error the API returns, each with a stable ``type``.

A ``type`` is a relative URI, ``/problems/<slug>``, resolved against the API's own origin,
where a GET returns its description; clients match on it, never on ``detail`` text. The slug is
the ``code`` of the ``ledger.errors.TallyError`` that was raised: routes raise, this module
renders, and the registry below holds each type's title, status and description.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse

from ledger.errors import TallyError

MEDIA_TYPE = "application/problem+json"


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        return f"/problems/{self.slug}"


_TYPES = [
    ProblemType("malformed-json", 400, "Malformed JSON", "The request body is not valid JSON."),
    ProblemType("json-too-deep", 400, "JSON nested too deep",
                "The body nests arrays and objects deeper than the limit (64 levels); no accepted format "
                "needs more than a few."),
    ProblemType("invalid-request", 422, "Invalid request",
                "The JSON is well-formed but a field is missing, has the wrong type or is out of range; "
                "`errors` lists each one."),
    ProblemType("unsupported-media-type", 415, "Unsupported media type",
                "Send the body as application/json."),
    ProblemType("body-too-large", 413, "Body too large",
                "The request body is larger than the limit published at GET /v1/config (limits.maxBodyBytes; "
                "for a batch, limits.maxBatchBodyBytes)."),
    ProblemType("batch-too-large", 413, "Batch too large",
                "A batch holds at most limits.maxBatch items (GET /v1/config)."),
    ProblemType("invalid-address", 422, "Invalid address",
                "An Ethereum address is 0x followed by 40 hex digits; mixed case must be a valid EIP-55 checksum."),
    ProblemType("invalid-signature", 422, "Invalid signature",
                "The signature is not a 65-byte hex string (r, s, v) with a low s and v of 27 or 28."),
    ProblemType("signer-mismatch", 403, "Signer mismatch",
                "The EIP-712 Contribution signature does not recover to `contributor`. Sign with the "
                "contributor's key over the domain and types of GET /v1/config, for the contentHash of "
                "the canonical conversation. An EIP-712 Enrol signature must recover to `account`."),
    ProblemType("self-engagement", 403, "Self-engagement",
                "The Engage actor is the contribution's own contributor: engaging with one's own contribution "
                "earns nothing and is refused."),
    ProblemType("already-engaged", 409, "Already engaged",
                "This actor already liked (or remixed) this contribution, or the remix's new contribution "
                "already credited a parent: each counts once."),
    ProblemType("nonce-reused", 409, "Nonce reused",
                "This contributor already used this nonce (for a ContributionBatch: in another batch; or for an "
                "enrolment in a program); sign again with a fresh one."),
    ProblemType("batch-count-mismatch", 422, "Batch count mismatch",
                "A signed batch's count is not the number of conversations it carries; nothing was written."),
    ProblemType("batch-proof-mismatch", 422, "Batch proof mismatch",
                "The item's contentHash and proof do not lead to the ContributionBatch's contentsRoot."),
    ProblemType("batch-signer-mismatch", 422, "Batch signer mismatch",
                "The ContributionBatch signature does not recover to the contributor."),
    ProblemType("batch-consent-invalid", 422, "Batch consent invalid",
                "An item's ContributionBatch consent does not check out."),
    ProblemType("stale-issued-at", 422, "Consent too old",
                "issuedAt is further in the past than the allowed window (limits.issuedAtWindow seconds)."),
    ProblemType("future-issued-at", 422, "Consent from the future",
                "issuedAt is further in the future than the allowed window; check the signer's clock."),
    ProblemType("terms-mismatch", 422, "Terms mismatch",
                "termsHash is not the SHA-256 of the terms served at GET /v1/terms."),
    ProblemType("attachment-mismatch", 422, "Attachment mismatch",
                "An attachment's bytes do not have the CID it is named by, or an attachment is not an image the "
                "conversation names (docs/formats.md §2, version 2); nothing was written."),
    ProblemType("unsupported-media", 415, "Unsupported image type",
                "An attached image is not a PNG, JPEG, WebP or GIF by its magic bytes; nothing was written."),
    ProblemType("attachment-too-large", 413, "Attachment too large",
                "An image is larger than limits.maxImageBytes, or a contribution's images together are larger "
                "than limits.maxContributionImageBytes (GET /v1/config); nothing was written."),
    ProblemType("missing-attachment", 422, "Missing attachment",
                "The conversation names an image CID that no attachment carries; nothing was written."),
    ProblemType("unknown-format", 422, "Unknown conversation format",
                "The conversation is neither a ChatGPT conversation (mapping, current_node), a ShareGPT "
                "record (conversations) nor {messages: [...]}."),
    ProblemType("malformed-conversation", 422, "Malformed conversation",
                "The conversation has the shape of a known format but a part of it is broken."),
    ProblemType("unknown-role", 422, "Unknown role",
                "A message has a role that maps to none of user, assistant, system, tool."),
    ProblemType("incomplete-conversation", 422, "Incomplete conversation",
                "A conversation needs at least one non-empty user message and one non-empty assistant message."),
    ProblemType("contains-personal-data", 422, "Contains personal data",
                "The conversation still holds personal data (an e-mail address, a phone, card or IBAN number, "
                "a public IP address, an API key, token or private key); nothing was written. `findings` lists "
                "each kind with the index of the message it is in (null: the model name), never the values. "
                "Clients replace each value with a placeholder such as [email] before signing (the JS client's "
                "redactForSubmission, `tally redact FILE`); docs/personal-data.md says what is detected."),
    ProblemType("duplicate-contribution", 409, "Already contributed",
                "This conversation (its contentHash) was already accepted; `existing` names that contribution."),
    ProblemType("near-duplicate", 409, "Nearly the same as a contribution",
                "This conversation's text is nearly the same as an accepted contribution's (case, spacing, "
                "punctuation, a few words or a message changed; docs/scoring.md gives the rule); `existing` "
                "names it, or is null for an item earlier in the same batch. Nothing was written."),
    ProblemType("duplicate-image", 409, "Image already contributed",
                "An image of this conversation (its CID, `image`) is already in an accepted contribution, "
                "which `existing` names (null: an item earlier in the same batch). An image is contributed, "
                "and paid for, once; nothing was written (docs/scoring.md, \"Images\")."),
    ProblemType("ref-reused", 409, "Reference reused",
                "This ref already names a different grant, clawback or usage report (for an adjustment, "
                "`existing` shows it). Use a new ref for a new request, or send the same request again "
                "to read the first answer back."),
    ProblemType("program-exists", 409, "Program exists",
                "A program with this id is already defined otherwise; a definition never changes (`existing` "
                "shows it). Send the same definition to read it back, or choose another id."),
    ProblemType("not-a-member", 409, "Not a member", "The account is not a member of the program: it cannot leave."),
    ProblemType("insufficient-points", 409, "Insufficient points",
                "A clawback cannot take an account below a zero balance."),
    ProblemType("not-found", 404, "Not found", "No such resource."),
    ProblemType("unauthorized", 401, "Unauthorized",
                "This operation needs an API key as `Authorization: Bearer <key>`: the admin key, or the "
                "data-consumer key for POST /v1/usage."),
    ProblemType("rate-limited", 429, "Too many requests",
                "Retry after the seconds given in the Retry-After header (and in `retryAfter`). Either this "
                "client sent too many wrong or missing API keys in a short time, so its requests with a key "
                "are refused, even with the right one; or a submission passed a limit per contributor "
                "(requests a minute, contributions an hour, points a UTC day) or per client address "
                "(requests a minute), published at GET /v1/config under `limits`. Nothing was written."),
    ProblemType("not-anchored", 409, "Not anchored yet",
                "The proof needs an epoch that is sealed and anchored on-chain; epochs are sealed on a "
                "schedule, so try again later."),
    ProblemType("not-acceptable", 406, "Not acceptable",
                "This resource is served as application/vnd.ipld.raw or application/vnd.ipld.car."),
    ProblemType("method-not-allowed", 405, "Method not allowed", "This resource does not accept that method."),
    ProblemType("conflict", 409, "Conflict", "The request contradicts what the ledger already holds."),
    ProblemType("invalid-manifest", 422, "Invalid manifest",
                "The document is not an epoch manifest of a version this server reads; the detail names the field."),
    ProblemType("invalid-snapshot", 422, "Invalid balances snapshot",
                "The document is not a balances snapshot of a format this server reads; the detail names the field."),
    ProblemType("invalid-bundle", 422, "Invalid proof bundle",
                "The document is not a proof bundle of a format this server reads; the detail names the field."),
    ProblemType("invalid-car", 422, "Invalid CAR", "The bytes are not a CARv1 archive."),
    ProblemType("unknown-scorer", 422, "Unknown scorer",
                "The scorer version is not one whose rules this server has (docs/scoring.md)."),
    ProblemType("invalid-features", 422, "Invalid features",
                "The features are not the ones the scorer version computes its points from; the detail names "
                "the feature."),
    ProblemType("content-erased", 410, "Content erased",
                "The object's data key was destroyed on request: its content can never be read again; its "
                "points and its public commitment stay."),
    ProblemType("invalid-document", 422, "Invalid document",
                "A field of a manifest or a proof bundle is missing or malformed; `field` is its path."),
    ProblemType("audit-discrepancy", 422, "Audit discrepancy",
                "A published number does not recompute from the chain's events and the manifests."),
    ProblemType("audit-failed", 422, "Audit failed",
                "The audit did not pass; the detail says why, and `epoch` where when one epoch is at fault."),
    ProblemType("no-contract", 422, "No contract",
                "The chain holds no code at the address audited: a mistyped address, or another chain."),
    ProblemType("not-tally-anchor", 422, "Not a TallyAnchor",
                "The contract at the address does not answer as TallyAnchor does; `call` names the call "
                "(ERC-165 supportsInterface, latestEpoch(), headerHash(n)) that answered otherwise."),
    ProblemType("epoch-count-mismatch", 422, "Epochs missing from the scan",
                "The contract's latestEpoch() names another number of anchored epochs than the EpochAnchored "
                "events scanned (fewer: the scan started past them)."),
    ProblemType("api-disagrees", 422, "The API disagrees with the chain",
                "A Tally API calls final more epochs than the contract holds, or anchors on another contract."),
    ProblemType("verification-failed", 422, "Verification failed",
                "A proof, a root or a published number does not check out."),
    ProblemType("unavailable", 503, "Unavailable", "A dependency of this request is unavailable; retry later."),
    ProblemType("internal-error", 500, "Internal error",
                "Something failed on our side; nothing was written. The error was logged."),
]

PROBLEM_TYPES: dict[str, ProblemType] = {t.slug: t for t in _TYPES}


def problem_type_of(error: TallyError) -> ProblemType:
    """The registered problem type of an error's ``code`` (a test keeps the registry complete)."""
    return PROBLEM_TYPES.get(error.code) or ProblemType(error.code, error.status, "Error", str(error))


def problem_body(error: TallyError, instance: str | None = None) -> dict[str, Any]:
    """The RFC 9457 body: type, title, status, detail, then the error's extension members."""
    problem = problem_type_of(error)
    body: dict[str, Any] = {
        "type": problem.uri,
        "title": problem.title,
        "status": problem.status,
        "detail": error.detail,
    }
    if instance:
        body["instance"] = instance
    body.update(error.extensions)
    return body


def problem_response(error: TallyError, instance: str | None = None,
                     headers: Mapping[str, str] | None = None) -> JSONResponse:
    body = problem_body(error, instance)
    return JSONResponse(body, status_code=body["status"], media_type=MEDIA_TYPE, headers=headers)
