"""Every table of the ledger, imported in one place so that metadata and migrations see them."""

from ledger.db import Base
from ledger.models import Contribution, JournalEntry, JournalTransfer

__all__ = ["Base", "Contribution", "JournalEntry", "JournalTransfer"]
