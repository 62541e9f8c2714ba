"""SQLAlchemy tables of the ledger: contributions and the points journal.

Points are integers that fit a signed 64-bit column: a contribution earns at most a few hundred
points, so the journal's totals stay far below 2**63 while the on-chain formats keep their
uint128/uint256 room. Hashes, signatures and addresses are stored as raw bytes or checksummed
text exactly as they are published.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY; BIGINT elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Contribution(Base):
    """One accepted conversation, with the consent that came with it and the receipt we gave."""

    __tablename__ = "contributions"
    __table_args__ = (# A single consent's nonce is used once per contributor; the items of one
                      # ContributionBatch share the batch's nonce, which consent_batches keeps unique.
                      Index("uq_contributions_contributor_nonce", "contributor", "nonce", unique=True,
                            postgresql_where=text("batch_root IS NULL"), sqlite_where=text("batch_root IS NULL")),
                      # the per-contributor limits count the last hour's and today's (ledger.quotas)
                      Index("ix_contributions_contributor_accepted_at", "contributor", "accepted_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    content_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    contributor: Mapped[str] = mapped_column(String(42), index=True)
    nonce: Mapped[str] = mapped_column(String(78))
    issued_at: Mapped[int] = mapped_column(BigInteger)
    terms_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signature: Mapped[bytes] = mapped_column(LargeBinary(65))
    cid: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    model: Mapped[str | None] = mapped_column(String(200))
    message_count: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger)
    score: Mapped[dict[str, Any]] = mapped_column(JSON)
    scorer_version: Mapped[str] = mapped_column(String(40))
    accepted_at: Mapped[int] = mapped_column(BigInteger)
    receipt_signature: Mapped[bytes] = mapped_column(LargeBinary(65))
    # Filled in when an epoch is sealed: the gap-free position in the RFC 9162 log.
    epoch: Mapped[int | None] = mapped_column(Integer, index=True)
    log_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    # Privacy mode: the stored object (``cid``) is an AES-256-GCM envelope whose data key, wrapped
    # by the master key, lives here; erasure destroys it (crypto-shredding). Public mode: null.
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary(61))
    encrypted: Mapped[bool] = mapped_column(default=False)
    erased_at: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # indexed: every storage pass asks which contributions are erased
    # The near-duplicate sketch (ledger.near_duplicates, SKETCH_BYTES, its version its first byte),
    # its band keys in near_duplicate_keys; null until signed (accepted while near-duplicates were
    # not checked, or before migration 0015: the backfill signs them).
    near_duplicate_sketch: Mapped[bytes | None] = mapped_column(LargeBinary(521), default=None)
    # The client address the submission came from, as the API saw it (for the operator's accrual
    # report: a farm of sybil accounts shows up behind a few addresses); never published.
    client_address: Mapped[str | None] = mapped_column(String(64), default=None)
    # Batch consent (ledger.batch_consent): null for a contribution signed on its own. ``signature``,
    # ``nonce``, ``issued_at`` and ``terms_hash`` are then the ContributionBatch's; these are the rest
    # of its message and this item's proof (its 32-byte siblings, concatenated) to ``batch_root``.
    batch_root: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None)
    batch_count: Mapped[int | None] = mapped_column(BigInteger, default=None)
    batch_proof: Mapped[bytes | None] = mapped_column(LargeBinary(1024), default=None)


class ConsentBatch(Base):
    """A ContributionBatch whose items were recorded: its nonce is used (once per contributor,
    like a single consent's), so the same signed batch cannot be replayed."""

    __tablename__ = "consent_batches"
    __table_args__ = (UniqueConstraint("contributor", "nonce", name="uq_consent_batches_contributor_nonce"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contributor: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[str] = mapped_column(String(78))
    contents_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    count: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary(65))
    created_at: Mapped[int] = mapped_column(BigInteger)


class JournalTransfer(Base):
    """A movement of points between two accounts: one accrual, grant, usage reward or clawback."""

    __tablename__ = "journal_transfers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)
    contribution_id: Mapped[int | None] = mapped_column(ForeignKey("contributions.id"), index=True)


class Adjustment(Base):
    """A grant or clawback made by an operator, keyed by the caller's reference (idempotency)."""

    __tablename__ = "adjustments"

    ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64), index=True)
    points: Mapped[int] = mapped_column(BigInteger)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("journal_transfers.id"), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class UsageReport(Base):
    """A data consumer's report of uses, keyed by its reference (idempotency); its credits are
    the journal transfers of kind ``usage`` with that reference."""

    __tablename__ = "usage_reports"

    ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    items: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)


class DataExport(Base):
    """One export of contributions to a data consumer (``ledger.export``): which ids it covered.
    Usage may be reported only for contributions inside a range its consumer received."""

    __tablename__ = "data_exports"
    __table_args__ = (Index("ix_data_exports_consumer_last_id", "consumer", "last_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(64))
    after_id: Mapped[int] = mapped_column(BigInteger)
    last_id: Mapped[int] = mapped_column(BigInteger)
    """The last id sent (``after_id`` when nothing was): the export covered ``(after_id, last_id]``."""
    count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[int] = mapped_column(BigInteger)


class JournalEntry(Base):
    """One leg of a double-entry transfer of points. Rows are never updated nor deleted.

    Every transfer writes two rows with the same ``transfer_id`` whose amounts sum to zero, so
    the sum of the whole journal is always zero and a balance is the sum of an account's rows.
    """

    __tablename__ = "journal_entries"
    __table_args__ = (Index("ix_journal_entries_account_id", "account", "id"),
                      # a program's close sums a member's earnings of one period (ledger.program_close)
                      Index("ix_journal_entries_account_created_at", "account", "created_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("journal_transfers.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[int] = mapped_column(BigInteger)
    # Set when the epoch that includes this entry is sealed.
    epoch: Mapped[int | None] = mapped_column(Integer, index=True)


class AccountBalance(Base):
    """Every account's balance after the latest sealed epoch: the sum of its sealed journal
    entries, kept up to date by sealing, which so reads the accounts instead of the whole
    journal (a balance is still, by definition, that sum: the audit recomputes it so)."""

    __tablename__ = "account_balances"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger)
    epoch: Mapped[int] = mapped_column(Integer)
    """The last epoch that changed it."""


class Epoch(Base):
    """One sealed epoch: its log and balances roots, its manifest, and its way onto the chain.

    ``state`` follows DESIGN.md §6: sealed -> submitted -> mined -> final; a reorg that drops
    the anchoring transaction takes it back to sealed.
    """

    __tablename__ = "epochs"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(16), index=True)
    sealed_at: Mapped[int] = mapped_column(BigInteger)
    first_index: Mapped[int] = mapped_column(BigInteger)
    log_size: Mapped[int] = mapped_column(BigInteger)
    log_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    balances_root: Mapped[bytes] = mapped_column(LargeBinary(32))
    total_points: Mapped[int] = mapped_column(BigInteger)
    accounts: Mapped[int] = mapped_column(Integer)
    contributions: Mapped[int] = mapped_column(Integer)
    journal_entries: Mapped[int] = mapped_column(Integer)
    manifest_cid: Mapped[str] = mapped_column(String(128))
    chain_id: Mapped[int] = mapped_column(BigInteger)
    contract: Mapped[str] = mapped_column(String(42))
    # The anchoring transaction, once sent; several attempts may share one nonce (replacements).
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    tx_nonce: Mapped[int | None] = mapped_column(BigInteger)
    submitted_at: Mapped[int | None] = mapped_column(BigInteger)
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    mined_at: Mapped[int | None] = mapped_column(BigInteger)
    finalized_at: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(500))


class AnchorAttempt(Base):
    """One signed anchoring transaction, stored before it is broadcast.

    Keeping the exact signed bytes makes sending idempotent: after a crash, or when a node lost
    the transaction, the same bytes (same hash, same nonce) are broadcast again, never a second
    transaction. A replacement (same nonce, higher fees) is a new attempt of the same epoch.
    """

    __tablename__ = "anchor_attempts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    epoch: Mapped[int] = mapped_column(ForeignKey("epochs.number"), index=True)
    nonce: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66), unique=True)
    raw_tx: Mapped[bytes] = mapped_column(LargeBinary)
    max_fee_per_gas: Mapped[int] = mapped_column(BigInteger)
    max_priority_fee_per_gas: Mapped[int] = mapped_column(BigInteger)
    gas_limit: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # Set when the attempt is abandoned: replaced by a higher-fee attempt, or dropped by a reorg.
    superseded: Mapped[bool] = mapped_column(default=False)


class FinalityViolation(Base):
    """A final epoch the chain no longer held: a reorg deeper than the confirmations dropped its
    transaction. Rows are only ever added (one per epoch taken back), so the count is the same
    on every replica; the transaction fields keep what had been called final."""

    __tablename__ = "finality_violations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    epoch: Mapped[int] = mapped_column(ForeignKey("epochs.number"), index=True)
    detected_at: Mapped[int] = mapped_column(BigInteger)
    # The contract's latestEpoch when the break was seen.
    chain_latest: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))


class StoredObject(Base):
    """Every object we store (contributions, manifests, snapshots) and how far it has travelled.

    The outbox of the content store: intake records the object in the same transaction as the
    contribution, with its bytes, so an acknowledged contribution is durable the moment the
    database commits. ``data`` stays here, the store of record every host reads, until the IPFS
    node holds the object (``pinned_at`` plus ``TALLY_PINNED_RETENTION``), or until it is written
    to a shared blockstore directory. A background job writes the blocks out (``durable_at``) and
    pins the object to IPFS in batches, with retries and backoff (``ledger.outbox``).
    """

    __tablename__ = "stored_objects"

    cid: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[int] = mapped_column(BigInteger)
    durable_at: Mapped[int | None] = mapped_column(BigInteger, index=True)
    pinned_at: Mapped[int | None] = mapped_column(BigInteger, index=True)
    pin_root: Mapped[str | None] = mapped_column(String(128))
    """The batch directory whose recursive pin holds this object (``PinnedBatch.root``); NULL
    while unpinned, and for objects pinned each on its own before batch directories existed."""
    released_at: Mapped[int | None] = mapped_column(BigInteger)
    """When an erased contribution's envelope left IPFS (its batch was pinned again without it)."""
    pin_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_pin_at: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))


class ContributionImage(Base):
    """One image of a version-2 contribution (docs/formats.md §2): its CID as the canonical
    conversation names it, and the object stored for it, which is that CID in public mode and an
    envelope under the image's own data key in privacy mode (erasure destroys the key)."""

    __tablename__ = "contribution_images"

    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id"), primary_key=True,
                                                 autoincrement=False)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    """The image's place among the contribution's distinct images, in order of first mention."""
    cid: Mapped[str] = mapped_column(String(128), index=True)
    stored_cid: Mapped[str] = mapped_column(String(128))
    media_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary(61))


class NearDuplicateKey(Base):
    """One LSH band key of a contribution's near-duplicate sketch (``ledger.near_duplicates``;
    the band's number and the sketch's version are hashed into the key): a new submission sharing
    a key with an earlier contribution is compared with it. The primary key's B-tree answers the
    look-up of all a submission's keys (``= ANY``) in one index scan."""

    __tablename__ = "near_duplicate_keys"

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id"), primary_key=True,
                                                 autoincrement=False)


class RateCounter(Base):
    """Requests in one minute (``window`` = Unix time // 60) of a contributor or a client address
    (``ledger.quotas``); every replica counts here."""

    __tablename__ = "rate_counters"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)


class DeploymentIdentity(Base):
    """What every host of the deployment must share (``ledger.identity``): the operator and anchor
    addresses and the master key's fingerprint, recorded by the first process to start."""

    __tablename__ = "deployment_identity"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[int] = mapped_column(BigInteger)


class Program(Base):
    """A program with a guaranteed minimum per period (``ledger.programs``); never changed once
    defined, but for how many of its periods have been closed."""

    __tablename__ = "programs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    period: Mapped[str] = mapped_column(String(16))
    """"day", "week", "month" or a number of seconds, as defined."""
    minimum: Mapped[int] = mapped_column(BigInteger)
    start: Mapped[int] = mapped_column(BigInteger)
    retro_from: Mapped[int | None] = mapped_column(BigInteger)
    retro_rate: Mapped[int | None] = mapped_column(BigInteger)
    defined_at: Mapped[int] = mapped_column(BigInteger)
    periods_closed: Mapped[int] = mapped_column(BigInteger, default=0)
    """Periods 0 .. periods_closed - 1 are closed: their top-ups are in the journal."""


class ProgramChange(Base):
    """A program's definition or a membership change (enrol, leave), published in the manifest of
    the epoch that seals it (``epoch``). A contributor-signed enrolment keeps its EIP-712
    signature, and its nonce is used up like a contribution's."""

    __tablename__ = "program_changes"
    __table_args__ = (UniqueConstraint("account", "nonce", name="uq_program_changes_account_nonce"),
                      Index("ix_program_changes_program_account", "program", "account"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program: Mapped[str] = mapped_column(String(40))
    change: Mapped[str] = mapped_column(String(8))
    account: Mapped[str | None] = mapped_column(String(42))
    at: Mapped[int] = mapped_column(BigInteger)
    by: Mapped[str] = mapped_column(String(8))
    """"admin" (the admin key) or "account" (signed by the account)."""
    nonce: Mapped[str | None] = mapped_column(String(78))
    issued_at: Mapped[int | None] = mapped_column(BigInteger)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary(65))
    epoch: Mapped[int | None] = mapped_column(Integer, index=True)


class ProgramPayout(Base):
    """A minimum top-up or a retroactive usage payment, keyed by its journal ref: the primary key
    is what makes each one happen once, whatever crashes or replicas do."""

    __tablename__ = "program_payouts"

    ref: Mapped[str] = mapped_column(String(128), primary_key=True)
    program: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(42))
    points: Mapped[int] = mapped_column(BigInteger)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("journal_transfers.id"), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class UsageItem(Base):
    """One item of a usage report: the units of use of one contribution, paid or not (``points``
    0 when usage was recorded without paying), published in the manifest of the epoch that seals
    it; ``retro_ref`` names the retroactive payment that paid its units later, if one did."""

    __tablename__ = "usage_items"
    __table_args__ = (Index("ix_usage_items_account_created_at", "account", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(128))
    contribution_id: Mapped[int] = mapped_column(BigInteger)
    account: Mapped[str] = mapped_column(String(42))
    units: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    epoch: Mapped[int | None] = mapped_column(Integer, index=True)
    retro_ref: Mapped[str | None] = mapped_column(String(128))


class Publication(Base):
    """A contribution its contributor shows in the public feed (``ledger.feed``): the row exists
    while it is published; withdrawal and erasure delete it, so the feed is this table alone."""

    __tablename__ = "publications"
    # The feed's keyset order, newest first: the first page is an index-only scan of this index.
    __table_args__ = (Index("ix_publications_feed_order", "published_at", "contribution_id"),)

    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id"), primary_key=True,
                                                 autoincrement=False)
    published_at: Mapped[int] = mapped_column(BigInteger)
    images: Mapped[list[str]] = mapped_column(JSON)
    """The contribution's image CIDs in order (``ledger.conversation.image_cids``), kept here so the
    feed reads no content."""
    preview: Mapped[str] = mapped_column(String(400))
    """The start of the conversation's first message, in the clear: the contributor published it."""


class FeedStatement(Base):
    """Every accepted Publish or Engage signature (``ledger.feed``): a signer's nonce is used once
    per type, so no statement can be replayed; kept as the record of what each signer said."""

    __tablename__ = "feed_statements"
    __table_args__ = (UniqueConstraint("type", "signer", "nonce", name="uq_feed_statements_type_signer_nonce"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(16))
    """``Publish`` or ``Engage``, the EIP-712 primary type."""
    signer: Mapped[str] = mapped_column(String(42))
    nonce: Mapped[str] = mapped_column(String(78))
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id"), index=True)
    value: Mapped[int] = mapped_column(Integer)
    """Publish: 1 visible, 0 withdrawn; Engage: the kind."""
    issued_at: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary(65))
    created_at: Mapped[int] = mapped_column(BigInteger)


class Engagement(Base):
    """One counted like or remix of a published contribution by ``actor`` (``ledger.feed``), and
    the ``engagement`` journal transfer that credited its creator (null when the points are 0)."""

    __tablename__ = "engagements"
    __table_args__ = (UniqueConstraint("contribution_id", "actor", "kind", name="uq_engagements_once"),
                      Index("ix_engagements_actor_created_at", "actor", "created_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id"))
    actor: Mapped[str] = mapped_column(String(42))
    kind: Mapped[int] = mapped_column(Integer)
    remix_id: Mapped[int | None] = mapped_column(ForeignKey("contributions.id"), unique=True, default=None)
    """A remix's new contribution (the actor's own): each contribution remixes at most one parent."""
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("journal_transfers.id"), default=None)
    created_at: Mapped[int] = mapped_column(BigInteger)
