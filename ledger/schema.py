"""Every table of the ledger, imported in one place so that metadata and migrations see them."""

from ledger.db import Base
from ledger.merkle.stored import MerkleLogHead, MerkleLogTile
from ledger.models import AnchorAttempt, Contribution, Epoch, JournalEntry, JournalTransfer, StoredObject

__all__ = ["AnchorAttempt", "Base", "Contribution", "Epoch", "JournalEntry", "JournalTransfer", "MerkleLogHead",
           "MerkleLogTile", "StoredObject"]
