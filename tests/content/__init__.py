"""Content addressing and storage: CIDs, the stores, envelope encryption."""
