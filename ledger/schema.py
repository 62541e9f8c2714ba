"""Every table of the ledger, imported in one place so that metadata and migrations see them.

The tables of ``ledger.models`` (contributions, the journal's transfers and entries, adjustments,
usage reports, epochs, anchor attempts, stored objects) and the stored log's head, tiles and
compact ranges (``ledger.merkle.stored``).
"""

from ledger.db import Base
from ledger.merkle.stored import MerkleLogHead, MerkleLogRange, MerkleLogTile
from ledger.models import (
    Adjustment,
    AnchorAttempt,
    Contribution,
    Epoch,
    JournalEntry,
    JournalTransfer,
    StoredObject,
    UsageReport,
)

__all__ = ["Adjustment", "AnchorAttempt", "Base", "Contribution", "Epoch", "JournalEntry", "JournalTransfer",
           "MerkleLogHead", "MerkleLogRange", "MerkleLogTile", "StoredObject", "UsageReport"]
