"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from ledger.db import Base, make_engine
from ledger.migrate import alembic_config, upgrade


def test_migrations_match_the_models_and_run_twice(db_url: str) -> None:
    upgrade(db_url)
    upgrade(db_url)  # a second run is a no-op, as `tally serve` does it at every start
    command.check(alembic_config(db_url))  # raises if the models and the migrations differ
    engine = make_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(Base.metadata.tables) <= tables
