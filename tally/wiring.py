"""Building a running Tally from settings: the one place where the parts meet."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI

from api.app import ChainInfo, create_app
from api.eip712 import Domain
from api.submission import Intake, Limits
from ledger.content import LocalBlockStore
from ledger.db import make_engine, make_sessionmaker
from tally.keys import operator_key
from tally.settings import Settings

log = logging.getLogger("tally")

ZERO_ADDRESS = "0x" + "00" * 20


def default_terms() -> bytes:
    from importlib.resources import files

    return files("api").joinpath("terms.txt").read_bytes()


def chain_info(settings: Settings) -> ChainInfo:
    """Chain id and contract: from settings, else from the deployment recorded in TALLY_HOME."""
    chain_id, contract = settings.chain_id, settings.contract_address
    rpc_url = settings.rpc_url
    if contract is None and settings.deployment_file.is_file():
        deployment = json.loads(settings.deployment_file.read_text())
        chain_id = int(deployment["chainId"])
        contract = deployment["address"]
        rpc_url = rpc_url or deployment.get("rpcUrl")
    if contract is None:
        log.warning("no contract deployed or configured: signing against the zero address")
        contract = ZERO_ADDRESS
    return ChainInfo(chain_id=chain_id, contract=contract, rpc_url=rpc_url,
                     explorer_url=settings.explorer_url)


def build_intake(settings: Settings, chain: ChainInfo) -> Intake:
    engine = make_engine(settings.db_url)
    terms = settings.terms_file.read_bytes() if settings.terms_file else default_terms()
    return Intake(
        sessions=make_sessionmaker(engine),
        store=LocalBlockStore(settings.blocks_dir),
        domain=Domain(chain.chain_id, chain.contract),
        operator_key=operator_key(settings),
        terms=terms,
        limits=Limits(settings.max_body_bytes, settings.max_batch, settings.issued_at_window),
    )


def build_app(settings: Settings) -> FastAPI:
    chain = chain_info(settings)
    return create_app(build_intake(settings, chain), chain, cors_origins=settings.cors_origins)


def app_from_environment() -> FastAPI:
    """Uvicorn factory for worker processes: each reads the same TALLY_* environment."""
    return build_app(Settings())
