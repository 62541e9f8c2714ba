"""Where a deployment anchors, as clients and proof bundles name it (DESIGN.md §8 `/v1/config`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChainInfo:
    """The chain and contract a deployment anchors in, and how a client reaches and browses them."""

    chain_id: int
    contract: str
    rpc_url: str | None
    explorer_url: str | None
    explorer_kind: str = "etherscan"
