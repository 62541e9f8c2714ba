"""Building a running Tally from settings: the one place where the parts meet."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib.resources import files

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from anchoring.anchorer import Anchorer, AnchorPolicy
from anchoring.chain import GWEI, FeePolicy
from anchoring.jobs import Jobs, JobSettings
from anchoring.leader import leadership_for
from api.app import ChainInfo, create_app
from api.eip712 import Domain
from api.submission import Intake, Limits
from ledger.content import ContentStore, LocalBlockStore
from ledger.db import make_engine, make_sessionmaker
from ledger.epochs import Anchor
from tally.chain import ChainRuntime, read_deployment
from tally.keys import operator_key
from tally.settings import Settings

log = logging.getLogger("tally")

ZERO_ADDRESS = "0x" + "00" * 20


def default_terms() -> bytes:
    return files("api").joinpath("terms.txt").read_bytes()


def chain_info(settings: Settings, chain: ChainRuntime | None = None) -> ChainInfo:
    """Chain id, contract and RPC URL: from the open chain, settings, or the recorded deployment."""
    if chain is not None:
        return ChainInfo(chain.chain_id, chain.contract.address, chain.rpc_url, settings.explorer_url,
                         settings.explorer_kind)
    chain_id, contract, rpc_url = settings.chain_id, settings.contract_address, settings.rpc_url
    deployment = read_deployment(settings.deployment_file)
    if contract is None and deployment is not None:
        chain_id = int(deployment["chainId"])
        contract = str(deployment["address"])
        rpc_url = rpc_url or deployment.get("rpcUrl") or f"http://127.0.0.1:{settings.anvil_port}"
    if contract is None:
        log.warning("no contract deployed or configured: signing against the zero address")
        contract = ZERO_ADDRESS
    return ChainInfo(chain_id=chain_id, contract=contract, rpc_url=rpc_url, explorer_url=settings.explorer_url,
                     explorer_kind=settings.explorer_kind)


@dataclass
class Ledger:
    """The database and the content store of a deployment."""

    engine: Engine
    sessions: sessionmaker[Session]
    store: ContentStore


def open_ledger(settings: Settings) -> Ledger:
    engine = make_engine(settings.db_url)
    return Ledger(engine, make_sessionmaker(engine), LocalBlockStore(settings.blocks_dir))


def build_intake(settings: Settings, ledger: Ledger, chain: ChainInfo) -> Intake:
    terms = settings.terms_file.read_bytes() if settings.terms_file else default_terms()
    return Intake(
        sessions=ledger.sessions,
        store=ledger.store,
        domain=Domain(chain.chain_id, chain.contract),
        operator_key=operator_key(settings),
        terms=terms,
        limits=Limits(settings.max_body_bytes, settings.max_batch, settings.issued_at_window),
    )


def build_app(settings: Settings, chain: ChainRuntime | None = None) -> FastAPI:
    info = chain_info(settings, chain)
    ledger = open_ledger(settings)
    return create_app(build_intake(settings, ledger, info), info, cors_origins=settings.cors_origins)


def app_from_environment() -> FastAPI:
    """Uvicorn factory for worker processes: each reads the same TALLY_* environment."""
    return build_app(Settings())


def anchor_policy(settings: Settings) -> AnchorPolicy:
    confirmations = settings.confirmations
    if confirmations is None and not settings.rpc_url:
        # anvil's `finalized` tag trails by 64 blocks; two confirmations suit a dev chain.
        confirmations = 2
    return AnchorPolicy(
        fees=FeePolicy(max_fee_ceiling=int(settings.max_fee_gwei * GWEI),
                       priority_fee=int(settings.priority_fee_gwei * GWEI)),
        confirmations=confirmations,
        stuck_after=settings.stuck_after,
    )


def build_anchorer(settings: Settings, ledger: Ledger, chain: ChainRuntime) -> Anchorer:
    return Anchorer(sessions=ledger.sessions, w3=chain.w3, contract=chain.contract, account=chain.account,
                    policy=anchor_policy(settings))


def build_jobs(settings: Settings, ledger: Ledger, chain: ChainRuntime) -> Jobs:
    return Jobs(
        sessions=ledger.sessions,
        store=ledger.store,
        anchor=Anchor(chain.chain_id, chain.contract.address),
        leadership=leadership_for(ledger.engine, settings.home),
        anchorer=build_anchorer(settings, ledger, chain),
        settings=JobSettings(seal_interval=settings.seal_interval, seal_threshold=settings.seal_threshold,
                             anchor_interval=settings.anchor_interval),
    )


def describe(settings: Settings) -> str:
    return json.dumps(settings.public(), default=str)
