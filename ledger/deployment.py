"""Where a deployment anchors, as clients and proof bundles name it (DESIGN.md §8 `/v1/config`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RewardsInfo:
    """The TallyRewards contract that pays for anchored points, the ERC-20 it pays in, and how
    many of the token's smallest units it pays per point."""

    contract: str
    token: str
    units_per_point: int

    def as_json(self) -> dict[str, Any]:
        """``/v1/config``'s ``rewards``: units per point as a decimal string, like every amount."""
        return {"contract": self.contract, "token": self.token, "unitsPerPoint": str(self.units_per_point)}


@dataclass(frozen=True, slots=True)
class ChainInfo:
    """The chain and contract a deployment anchors in, and how a client reaches and browses them;
    ``rewards`` when a rewards contract pays for the anchored points."""

    chain_id: int
    contract: str
    rpc_url: str | None
    explorer_url: str | None
    explorer_kind: str = "etherscan"
    rewards: RewardsInfo | None = None
