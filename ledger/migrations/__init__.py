"""Alembic migrations of the ledger schema; run them with `tally db upgrade`."""
