"""Request bodies as OpenAPI documents them. The checks themselves are the ledger's
(``ledger.consent``, ``ledger.intake``), so a refusal names the field the same way everywhere."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class SubmissionBody(BaseModel):
    """The body of POST /v1/contributions."""

    contributor: str = Field(description="the contributor's address, 0x-hex (EIP-55 if mixed case)")
    conversation: dict[str, Any] = Field(description="a ChatGPT, ShareGPT or plain conversation")
    nonce: str | int = Field(description="uint256, decimal string (or a JSON number below 2^53)")
    issuedAt: int = Field(description="Unix seconds when the consent was signed")
    termsHash: str = Field(description="0x-hex SHA-256 of GET /v1/terms")
    signature: str = Field(description="0x-hex 65-byte EIP-712 signature of Contribution")


class BatchBody(BaseModel):
    """The body of POST /v1/contributions:batch."""

    items: list[SubmissionBody]
