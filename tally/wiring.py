"""Building a running Tally from settings: the one place where the parts meet.

Settings go in, typed parts come out: the ledger (one engine per process), the intake service, the
anchorer and the scheduled jobs; ``tally.web`` adds the API's ``Services`` and app on top. Nothing
else reads settings, and nothing here holds logic of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from anchoring.anchorer import Anchorer, AnchorPolicy
from anchoring.chain import GWEI, FeePolicy
from anchoring.jobs import Jobs, JobSettings
from anchoring.leader import leadership_for
from ledger.consent import ConsentPolicy, OperatorSigner, Terms
from ledger.content import ContentError, ContentStore, IpfsStore, LocalBlockStore
from ledger.db import make_engine, make_sessionmaker
from ledger.deployment import ChainInfo
from ledger.eip712 import Domain
from ledger.epochs import Anchor
from ledger.feed import EngagementPolicy
from ledger.identity import ANCHOR, MASTER_KEY, OPERATOR, check_identity, master_key_fingerprint
from ledger.intake import Intake, Limits
from ledger.models import Epoch
from ledger.near_duplicate_backfill import NearDuplicateBackfill
from ledger.outbox import OutboxStore, SharedStore, drop_pinned, harden, pin_due, release_erased, unpinned_for_epoch
from ledger.quotas import prune_counters
from tally.chain import ChainRuntime
from tally.home import open_existing_database, recorded_chain, recorded_rewards
from tally.keys import anchor_key, master_key, operator_key
from tally.settings import Settings

log = logging.getLogger("tally")

ZERO_ADDRESS = "0x" + "00" * 20


def default_terms() -> bytes:
    return files("api").joinpath("terms.txt").read_bytes()


def chain_info(settings: Settings, chain: ChainRuntime | None = None) -> ChainInfo:
    """Chain id, contract and RPC URL: from the open chain, settings, or the recorded deployment;
    the rewards contract from the settings or its record."""
    if chain is not None:
        return ChainInfo(chain.chain_id, chain.contract.address, chain.rpc_url, settings.explorer_url,
                         settings.explorer_kind, recorded_rewards(settings, chain.chain_id, chain.contract.address))
    recorded = recorded_chain(settings)
    if recorded is None:
        log.warning("no contract deployed or configured: signing against the zero address")
        return ChainInfo(chain_id=settings.chain_id, contract=ZERO_ADDRESS, rpc_url=settings.rpc_url,
                         explorer_url=settings.explorer_url, explorer_kind=settings.explorer_kind)
    return recorded


@dataclass
class Ledger:
    """The database and the content store of a deployment.

    Every store reads the same way on every host (``ledger.outbox.SharedStore``: this host's
    cache, the shared database, the shared blockstore directory, the IPFS node). ``intake_store``
    writes no file: intake's durability is the database commit, which carries the bytes;
    ``harden`` writes them out through ``unsynced`` (the cache) and ``shared``; ``store`` keeps
    what the jobs write (manifests, snapshots) in the cache, their bytes going into the database.
    """

    engine: Engine
    sessions: sessionmaker[Session]
    store: ContentStore
    unsynced: ContentStore
    intake_store: ContentStore
    shared: ContentStore | None = None


def open_ledger(settings: Settings, *, existing: bool = False) -> Ledger:
    """The deployment's ledger; with ``existing``, refuse (creating nothing) where there is none."""
    if existing:
        engine, sessions = open_existing_database(settings)
    else:
        engine = make_engine(settings.db_url, threads=settings.database_threads)
        sessions = make_sessionmaker(engine)
    unsynced = LocalBlockStore(settings.blocks_dir, fsync=False)
    shared = LocalBlockStore(settings.shared_blocks_dir) if settings.shared_blocks_dir else None
    remote = (lambda: _ipfs_client(settings)) if settings.ipfs_url else None
    return Ledger(engine, sessions, SharedStore(unsynced, sessions, shared=shared, remote=remote), unsynced,
                  OutboxStore(unsynced, sessions, shared=shared, remote=remote), shared)


def _ipfs_client(settings: Settings) -> IpfsStore:
    store = open_ipfs(settings)
    assert store is not None
    return store


def open_ipfs(settings: Settings) -> IpfsStore | None:
    """The IPFS node (Kubo RPC API) objects are pinned to, if one is configured."""
    if not settings.ipfs_url:
        return None
    return IpfsStore(
        settings.ipfs_url,
        username=settings.ipfs_username,
        password=settings.ipfs_password.get_secret_value() if settings.ipfs_password else None,
        bearer_token=settings.ipfs_token.get_secret_value() if settings.ipfs_token else None,
        timeout=settings.ipfs_timeout,
    )


def check_deployment_identity(settings: Settings, ledger: Ledger, *, anchoring: bool) -> None:
    """Refuse to run with keys other than the deployment's (``ledger.identity``); the first process
    records them. ``anchoring``: this process sends anchors, so its anchor key counts too."""
    values = {OPERATOR: operator_key(settings).public_key.to_checksum_address(),
              MASTER_KEY: master_key_fingerprint(master_key(settings))}
    if anchoring:
        values[ANCHOR] = anchor_key(settings).public_key.to_checksum_address()
    with ledger.sessions() as session, session.begin():
        check_identity(session, values, now=int(time.time()))


def build_intake(settings: Settings, ledger: Ledger, chain: ChainInfo) -> Intake:
    terms = Terms(settings.terms_file.read_bytes() if settings.terms_file else default_terms())
    domain = Domain(chain.chain_id, chain.contract)
    return Intake(
        sessions=ledger.sessions,
        store=ledger.intake_store,
        consent=ConsentPolicy(domain, terms, settings.issued_at_window),
        signer=OperatorSigner(domain, operator_key(settings)),
        limits=Limits(settings.max_body_bytes, settings.max_batch, settings.issued_at_window,
                      max_batch_body_bytes=settings.max_batch_body_bytes,
                      max_image_bytes=settings.max_image_bytes,
                      max_contribution_image_bytes=settings.max_contribution_image_bytes),
        master_key=master_key(settings),
        personal_data=settings.pii,
        near_duplicates=settings.near_duplicates == "refuse",
        quotas=settings.quotas,
    )


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


def pinned_gate(settings: Settings) -> Callable[[Session, Epoch], bool]:
    """Anchor an epoch only once its manifest and contributions are pinned (when IPFS is used)."""
    if not settings.ipfs_url or settings.anchor_unpinned:
        return lambda _session, _epoch: True
    return lambda session, epoch: unpinned_for_epoch(session, epoch.number, epoch.manifest_cid) == 0


Checkpoint = Callable[[str], None]


def no_checkpoint(_name: str) -> None:
    """Named protocol steps where crash tests inject a fault; nothing happens in production."""


def build_anchorer(settings: Settings, ledger: Ledger, chain: ChainRuntime,
                   checkpoint: Checkpoint = no_checkpoint) -> Anchorer:
    return Anchorer(sessions=ledger.sessions, w3=chain.w3, contract=chain.contract, account=chain.account,
                    policy=anchor_policy(settings), ready=pinned_gate(settings), checkpoint=checkpoint)


@dataclass
class StorageJob:
    """Harden local blocks, pin to IPFS, release erased envelopes from it, index what the
    near-duplicate check has not seen: one pass, run every few seconds by the leader."""

    ledger: Ledger
    ipfs: IpfsStore | None
    near_duplicates: NearDuplicateBackfill | None = None
    pinned_retention: int | None = None
    """Seconds pinned bytes stay in the database (None: for ever)."""

    def __call__(self) -> None:
        now = int(time.time())
        with self.ledger.sessions() as session, session.begin():
            harden(session, self.ledger.unsynced, now=now, shared=self.ledger.shared)
            prune_counters(session, now)
        if self.near_duplicates is not None:
            self.near_duplicates()
        if self.ipfs is not None:
            with self.ledger.sessions() as session, session.begin():
                pin_due(session, self.ledger.store, self.ipfs, now=now)
            try:
                with self.ledger.sessions() as session, session.begin():
                    release_erased(session, self.ledger.store, self.ipfs, now=now)
            except ContentError as exc:  # the node is down or refused: nothing recorded, next pass
                log.warning("releasing erased objects from IPFS failed (%s); retrying", exc)
            with self.ledger.sessions() as session, session.begin():
                drop_pinned(session, now=now, retention=self.pinned_retention)


def engagement_policy(settings: Settings) -> EngagementPolicy:
    """What the feed's engagements credit: the API credits by it, the sealer publishes it."""
    return EngagementPolicy(settings.engagement_points_like, settings.engagement_points_remix,
                            settings.engagements_per_day)


def build_jobs(settings: Settings, ledger: Ledger, chain: ChainRuntime,
               checkpoint: Checkpoint = no_checkpoint) -> Jobs:
    # With the check on, what it has not seen (older contributions) is indexed in the background.
    backfill = NearDuplicateBackfill(ledger.sessions, ledger.intake_store, master_key(settings)) \
        if settings.near_duplicates == "refuse" else None
    retention = None if settings.pinned_retention < 0 else settings.pinned_retention
    storage = StorageJob(ledger, open_ipfs(settings), backfill, retention)
    return Jobs(
        sessions=ledger.sessions,
        store=ledger.store,
        anchor=Anchor(chain.chain_id, chain.contract.address),
        leadership=leadership_for(ledger.engine, settings.home),
        anchorer=build_anchorer(settings, ledger, chain, checkpoint),
        # The schedule is read from the database every second on the dev chain (30 s between seals),
        # every 5 s where seals are minutes apart: no busier than the interval needs.
        settings=JobSettings(sealing=settings.sealing, snapshot_every=settings.snapshot_every,
                             anchor_interval=settings.anchor_interval, engagement=engagement_policy(settings),
                             seal_check_interval=min(5.0, max(1.0, settings.sealing.interval / 30))),
        storage=storage,
        storage_interval=settings.storage_interval,
        checkpoint=checkpoint,
    )

