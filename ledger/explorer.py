"""Block explorer links for a chain, in the Etherscan or the Blockscout URL form.

Well-known chains have defaults; ``TALLY_EXPLORER_URL`` (with ``TALLY_EXPLORER_KIND``) sets or
overrides the explorer of the deployment's chain. A local dev chain has none.
"""

from __future__ import annotations

from dataclasses import dataclass

KNOWN: dict[int, tuple[str, str]] = {
    1: ("etherscan", "https://etherscan.io"),
    11155111: ("etherscan", "https://sepolia.etherscan.io"),
    17000: ("etherscan", "https://holesky.etherscan.io"),
    10: ("etherscan", "https://optimistic.etherscan.io"),
    8453: ("etherscan", "https://basescan.org"),
    84532: ("etherscan", "https://sepolia.basescan.org"),
    42161: ("etherscan", "https://arbiscan.io"),
    137: ("etherscan", "https://polygonscan.com"),
    100: ("blockscout", "https://gnosis.blockscout.com"),
}


@dataclass(frozen=True, slots=True)
class Explorer:
    kind: str  # "etherscan" or "blockscout"
    base: str

    def transaction(self, tx_hash: str) -> str:
        return f"{self.base}/tx/{tx_hash}"

    def address(self, address: str) -> str:
        return f"{self.base}/address/{address}"

    def read_contract(self, address: str) -> str:
        if self.kind == "blockscout":
            return f"{self.base}/address/{address}?tab=read_contract"
        return f"{self.base}/address/{address}#readContract"

    def links(self, contract: str, tx_hash: str | None) -> dict[str, str]:
        links = {"contract": self.address(contract), "readContract": self.read_contract(contract)}
        if tx_hash:
            links["transaction"] = self.transaction(tx_hash)
        return links


def explorer_for(chain_id: int, url: str | None = None, kind: str | None = None) -> Explorer | None:
    if url:
        return Explorer(kind or "etherscan", url.rstrip("/"))
    known = KNOWN.get(chain_id)
    return Explorer(*known) if known else None
