"""The data folder of a deployment (``TALLY_HOME``): what it records, and whether it exists.

Light on purpose (no web3, no FastAPI): commands that only read the ledger, such as
``tally status``, start in well under a second. Commands that read the ledger never create it:
run where there is no data folder, they say so in one line and leave no file behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from ledger.db import make_engine, make_sessionmaker
from ledger.deployment import ChainInfo
from ledger.encoding import ADDRESS_PATTERN
from ledger.errors import InvalidInputError
from tally.settings import Settings


class NoLedgerError(InvalidInputError):
    """There is no Tally ledger where the settings point: a place to fix, not a retry."""


class DeploymentRecordError(InvalidInputError):
    """The deployment record in the data folder is not one ``tally deploy`` wrote."""


def read_deployment(path: Path) -> dict[str, Any] | None:
    """The deployment ``tally deploy`` (or the embedded default) recorded, or None if there is none."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        valid = (isinstance(data, dict) and isinstance(data.get("address"), str)
                 and ADDRESS_PATTERN.fullmatch(data["address"]) is not None and int(data["chainId"]) >= 0)
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise DeploymentRecordError(f"{path} is not a deployment record (chainId and address); "
                                    "deploy again or set TALLY_CONTRACT_ADDRESS")
    record: dict[str, Any] = data
    return record


def recorded_chain(settings: Settings) -> ChainInfo | None:
    """The chain and contract from the settings or the deployment record; None if neither names one."""
    chain_id, contract, rpc_url = settings.chain_id, settings.contract_address, settings.rpc_url
    deployment = read_deployment(settings.deployment_file)
    if contract is None and deployment is not None:
        chain_id = int(deployment["chainId"])
        contract = str(deployment["address"])
        rpc_url = rpc_url or deployment.get("rpcUrl") or f"http://127.0.0.1:{settings.anvil_port}"
    if contract is None:
        return None
    return ChainInfo(chain_id=chain_id, contract=contract, rpc_url=rpc_url, explorer_url=settings.explorer_url,
                     explorer_kind=settings.explorer_kind)


def open_existing_database(settings: Settings) -> tuple[Engine, sessionmaker[Session]]:
    """The ledger's database, refusing (before anything is created) when there is none.

    SQLite creates a missing file on connect, so its absence is checked first; any database must
    then hold Tally's schema, else the one step to take is `tally db upgrade`.
    """
    url = settings.db_url
    if url == f"sqlite:///{settings.home / 'tally.db'}" and not (settings.home / "tally.db").is_file():
        raise NoLedgerError(
            f"no Tally data folder at {settings.home}: run this where `tally serve` keeps its data "
            "(the folder holding .tally), or set TALLY_HOME or TALLY_DATABASE_URL")
    engine = make_engine(url, threads=settings.request_threads)
    if not inspect(engine).has_table("epochs"):
        engine.dispose()
        raise NoLedgerError("the database has no Tally schema yet: run `tally db upgrade` (or `tally serve`)")
    return engine, make_sessionmaker(engine)
