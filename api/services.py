"""What the routes work with, built once by the wiring (``tally.wiring``) and typed end to end."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ChainInfo:
    """What a client needs to reach the chain the contract lives on."""

    chain_id: int
    contract: str
    rpc_url: str | None
    explorer_url: str | None
    explorer_kind: str = "etherscan"


@dataclass(frozen=True, slots=True)
class UsagePolicy:
    """Who may report usage (`POST /v1/usage`), and what a unit of use earns its contributor."""

    api_key: str | None = None
    points_per_unit: int = 1
