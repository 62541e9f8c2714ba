"""The balances snapshot (DESIGN.md §6): every non-zero balance after one epoch, published by CID.

A version 3 manifest lists only the balances its epoch changed; every few epochs (``TALLY_SNAPSHOT_EVERY``)
its ``balances.snapshot`` names one of these documents, stored and pinned like the manifest, so
that a reader rebuilds any epoch's balances from the newest snapshot before it and the changes
since (``ledger.balances.balances_at``). ``GET /v1/epochs/{n}/balances`` serves the same document
for any epoch, on demand. Either way it proves itself: the root of its ``values`` must be the
``balancesRoot`` anchored for its epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.encoding import hex0x
from ledger.formats import fields as f
from ledger.formats.fields import InvalidDocumentError
from ledger.formats.manifest import balance_pairs, pairs_json

SNAPSHOT_FORMAT = "tally-balances-v1"


class InvalidSnapshotError(InvalidDocumentError):
    """A balances snapshot does not parse; the message names the field, e.g. ``values[3][1]``."""

    code = "invalid-snapshot"


@dataclass(frozen=True, slots=True)
class BalancesSnapshot:
    """Every non-zero contributor balance after ``epoch``, sorted by lower-cased address."""

    chain_id: int
    contract: str
    epoch: int
    root: bytes
    total_points: int
    values: tuple[tuple[str, int], ...]

    def to_json(self) -> dict[str, Any]:
        return {"format": SNAPSHOT_FORMAT, "chainId": self.chain_id, "contract": self.contract,
                "epoch": self.epoch, "root": hex0x(self.root), "totalPoints": str(self.total_points),
                "values": pairs_json(self.values)}

    @classmethod
    def from_json(cls, obj: object) -> BalancesSnapshot:
        """The snapshot in ``obj`` (parsed JSON), or ``InvalidSnapshotError`` naming the first bad field."""
        with f.reported_as(InvalidSnapshotError):
            o = f.document(obj, "snapshot")
            f.constant(o, "", "format", SNAPSHOT_FORMAT)
            return cls(f.uint(o, "", "chainId"), f.checked_address(o, "", "contract"), f.uint(o, "", "epoch"),
                       f.hash32(o, "", "root"), f.decimal(o, "", "totalPoints"), balance_pairs(o, "", "values"))
