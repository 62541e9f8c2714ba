"""Talking to an EVM chain over JSON-RPC: fees, finality and transaction lookups.

Everything a node can fail at (timeouts, connection refused, 5xx) surfaces as
``ChainUnavailableError`` so that the anchoring loop backs off instead of crashing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from web3 import Web3
from web3.exceptions import BlockNotFound, TransactionNotFound, Web3RPCError

from ledger.errors import UnavailableError

GWEI = 10**9


class ChainUnavailableError(UnavailableError, RuntimeError):
    """The node did not answer; try again later (exit code 3 from the CLI)."""


@dataclass(frozen=True, slots=True)
class FeePolicy:
    """EIP-1559 fees: what we offer, and the ceiling we never exceed."""

    max_fee_ceiling: int = 200 * GWEI
    priority_fee: int = 1 * GWEI
    base_fee_multiplier: int = 2
    # Nodes refuse a replacement that does not raise both fees by at least 10% (geth, anvil);
    # 12.5% leaves room for rounding.
    replacement_bump_percent: int = 125

    def initial(self, base_fee: int) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) for a new transaction."""
        max_fee = min(self.base_fee_multiplier * base_fee + self.priority_fee, self.max_fee_ceiling)
        return max_fee, min(self.priority_fee, max_fee)

    def replacement(self, base_fee: int, old_max: int, old_tip: int) -> tuple[int, int] | None:
        """Fees for a replacement of a stuck transaction, or None when the ceiling forbids one."""
        bumped_max = max(old_max * self.replacement_bump_percent // 100 + 1,
                         self.base_fee_multiplier * base_fee + self.priority_fee)
        bumped_tip = max(old_tip * self.replacement_bump_percent // 100 + 1, self.priority_fee)
        max_fee = min(bumped_max, self.max_fee_ceiling)
        tip = min(bumped_tip, max_fee)
        if max_fee * 100 < old_max * self.replacement_bump_percent or tip * 100 < old_tip * 110:
            return None
        return max_fee, tip


def connect(url: str, timeout: float = 10.0) -> Web3:
    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))


def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one web3 call, turning transport failures into ChainUnavailableError."""
    try:
        return fn(*args, **kwargs)
    except (requests.exceptions.RequestException, ConnectionError, TimeoutError) as exc:
        raise ChainUnavailableError(f"the chain node did not answer: {type(exc).__name__}") from None


def receipt_or_none(w3: Web3, tx_hash: str) -> Any:
    try:
        return call(w3.eth.get_transaction_receipt, tx_hash)
    except TransactionNotFound:
        return None


def transaction_known(w3: Web3, tx_hash: str) -> bool:
    try:
        return call(w3.eth.get_transaction, tx_hash) is not None
    except TransactionNotFound:
        return False


def finalized_block(w3: Web3, confirmations: int | None) -> int:
    """The highest block number we treat as final.

    With ``confirmations`` set: latest minus that many blocks. Otherwise the chain's own
    ``finalized`` tag; a chain without one (or one that has finalized nothing yet) has
    finalized nothing.
    """
    latest = int(call(w3.eth.get_block_number))
    if confirmations is not None:
        return latest - confirmations
    try:
        block = call(w3.eth.get_block, "finalized")
    except (BlockNotFound, Web3RPCError, ValueError):
        return -1
    return int(block["number"]) if block else -1


def base_fee(w3: Web3) -> int:
    block = call(w3.eth.get_block, "latest")
    return int(block.get("baseFeePerGas", 0))
