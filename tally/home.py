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
from ledger.deployment import ChainInfo, RewardsInfo
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


def read_rewards(path: Path) -> dict[str, Any] | None:
    """The rewards contract ``tally deploy`` (or the embedded default) recorded, or None if none
    was; its chainId, anchor, address, token and unitsPerPoint are checked for form."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        valid = (isinstance(data, dict) and data.get("contract") == "TallyRewards" and int(data["chainId"]) >= 0
                 and all(isinstance(data.get(k), str) and ADDRESS_PATTERN.fullmatch(data[k]) is not None
                         for k in ("address", "anchor", "token"))
                 and str(data["unitsPerPoint"]).isdecimal())
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise DeploymentRecordError(f"{path} is not a TallyRewards record (chainId, address, anchor, token and "
                                    "unitsPerPoint); deploy again or set TALLY_REWARDS_ADDRESS")
    record: dict[str, Any] = data
    return record


def recorded_rewards(settings: Settings, chain_id: int, anchor: str) -> RewardsInfo | None:
    """The rewards contract from the settings, else from the data folder's record when that is of
    this chain and this anchor (a record left by an earlier chain or anchor is not theirs)."""
    if settings.rewards_address and settings.rewards_token and settings.rewards_units_per_point:
        return RewardsInfo(settings.rewards_address, settings.rewards_token, settings.rewards_units_per_point)
    record = read_rewards(settings.rewards_file)
    if record is None or int(record["chainId"]) != chain_id or record["anchor"].lower() != anchor.lower():
        return None
    return RewardsInfo(str(record["address"]), str(record["token"]), int(record["unitsPerPoint"]))


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
                     explorer_kind=settings.explorer_kind, rewards=recorded_rewards(settings, chain_id, contract))


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
    engine = make_engine(url, threads=settings.database_threads)
    if not inspect(engine).has_table("epochs"):
        engine.dispose()
        raise NoLedgerError("the database has no Tally schema yet: run `tally db upgrade` (or `tally serve`)")
    return engine, make_sessionmaker(engine)
