"""Sealing an epoch (DESIGN.md §6): everything accepted so far becomes one immutable step.

``seal_epoch`` runs in one database transaction: it assigns gap-free log indexes in acceptance
order, appends the leaves to the stored RFC 9162 log, stamps the journal entries with the epoch,
computes every balance and its OpenZeppelin tree, writes the manifest to the content store and
records the header. If anything fails, nothing of it remains; running it again is safe, and
with nothing new since the last epoch it makes no epoch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session
from tiny_keccak import keccak256

from ledger import jcs
from ledger.content import ContentStore
from ledger.db import serialise, table_of
from ledger.encoding import is_account_address
from ledger.formats import (
    BALANCE_ENCODING,
    JournalLine,
    LogLeaf,
    Manifest,
    ManifestBalances,
    ManifestLog,
    PreviousEpoch,
    Scorer,
)
from ledger.lifecycle import EpochState
from ledger.merkle.standard import StandardMerkleTree
from ledger.merkle.stored import StoredLog
from ledger.models import Contribution, Epoch, JournalEntry, StoredObject
from ledger.scoring import recorded_features, rules_hash

# OpenZeppelin's tree has no empty form; an epoch in which no account holds points (every
# contribution scored zero) commits to keccak256 of nothing, which no leaf can prove against.
EMPTY_BALANCES_ROOT = keccak256(b"")


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where epochs are anchored; named in every manifest."""

    chain_id: int
    contract: str


def latest_epoch(session: Session) -> Epoch | None:
    return session.scalar(select(Epoch).order_by(Epoch.number.desc()).limit(1))


SEALING_LOCK = 0x7A11E9
"""Two sealers must not both read "latest epoch = n" and write n + 1."""


def balances(session: Session) -> list[tuple[str, int]]:
    """Every contributor account with a non-zero sealed balance, sorted by address."""
    rows = session.execute(
        select(JournalEntry.account, func.sum(JournalEntry.amount))
        .where(JournalEntry.epoch.is_not(None))
        .group_by(JournalEntry.account)
    ).all()
    return sorted(
        ((account, int(total)) for account, total in rows if is_account_address(account) and total),
        key=lambda pair: pair[0].lower(),
    )


def seal_epoch(
    session: Session, store: ContentStore, anchor: Anchor, *, now: int | None = None
) -> Epoch | None:
    """Seal everything accepted and journaled so far into the next epoch, in the caller's
    transaction; None when there is nothing new. The caller commits."""
    now = int(time.time()) if now is None else now
    serialise(session, SEALING_LOCK)
    previous = latest_epoch(session)
    number = 1 if previous is None else previous.number + 1

    contributions = session.execute(
        select(Contribution.id, Contribution.contributor, Contribution.content_hash,
               Contribution.accepted_at, Contribution.points, Contribution.cid, Contribution.scorer_version,
               Contribution.score, Contribution.message_count)
        .where(Contribution.epoch.is_(None))
        .order_by(Contribution.id)
    ).all()
    entries = session.execute(
        select(JournalEntry.id, JournalEntry.account, JournalEntry.amount, JournalEntry.kind,
               JournalEntry.ref)
        .where(JournalEntry.epoch.is_(None))
        .order_by(JournalEntry.id)
    ).all()
    if not contributions and not entries:
        return None

    stored_log = StoredLog(session)
    first_index = stored_log.size()
    if previous is not None and first_index != previous.log_size:
        raise RuntimeError(f"stored log has {first_index} leaves, epoch {previous.number} says {previous.log_size}")
    # Each leaf publishes its scorer and the features its points were computed from, so that the
    # audit recomputes every leaf's points from the manifest alone (docs/scoring.md).
    leaves = tuple(LogLeaf(first_index + offset, contributor, content_hash, accepted_at, points, cid, scorer,
                           recorded_features(scorer, breakdown, messages))
                   for offset, (_, contributor, content_hash, accepted_at, points, cid, scorer, breakdown, messages)
                   in enumerate(contributions))
    leaf_hashes = [leaf.leaf_hash() for leaf in leaves]
    log_root = stored_log.append(leaf_hashes) if leaf_hashes else stored_log.root()
    log_size = first_index + len(leaf_hashes)

    if contributions:
        session.execute(
            update(table_of(Contribution))
            .where(table_of(Contribution).c.id == bindparam("row_id"))
            .values(epoch=number, log_index=bindparam("new_index")),
            [{"row_id": row[0], "new_index": first_index + i} for i, row in enumerate(contributions)],
            execution_options={"synchronize_session": False},
        )
    if entries:
        session.execute(
            update(JournalEntry)
            .where(JournalEntry.epoch.is_(None), JournalEntry.id <= entries[-1][0])
            .values(epoch=number)
            .execution_options(synchronize_session=False)
        )

    values = balances(session)
    total_points = sum(balance for _, balance in values)
    # The (account, balance) pairs themselves: a copy of them as lists was ~70 MB per million.
    tree = StandardMerkleTree.of(values, BALANCE_ENCODING) if values else None
    balances_root = bytes.fromhex(tree.root[2:]) if tree else EMPTY_BALANCES_ROOT

    manifest = Manifest(
        chain_id=anchor.chain_id,
        contract=anchor.contract,
        epoch=number,
        previous=None if previous is None else PreviousEpoch(
            previous.number, previous.log_size, previous.log_root, previous.balances_root, previous.manifest_cid),
        log=ManifestLog(log_size, log_root, leaves),
        journal=tuple(JournalLine(entry_id, account, amount, kind, ref)
                      for entry_id, account, amount, kind, ref in entries),
        balances=ManifestBalances(balances_root, total_points, tuple(values)),
        scorer=_scorer(leaves),
    )
    manifest_bytes = jcs.dumps(manifest.to_json())
    manifest_cid = store.put(manifest_bytes)  # a durable write: the manifest is rebuilt from nothing
    session.add(StoredObject(cid=manifest_cid, kind="manifest", size=len(manifest_bytes), data=None,
                             created_at=now, durable_at=now, pin_attempts=0, next_pin_at=now))

    epoch = Epoch(
        number=number, state=EpochState.SEALED.value, sealed_at=now, first_index=first_index, log_size=log_size,
        log_root=log_root, balances_root=balances_root, total_points=total_points, accounts=len(values),
        contributions=len(contributions), journal_entries=len(entries), manifest_cid=manifest_cid,
        chain_id=anchor.chain_id, contract=anchor.contract,
    )
    session.add(epoch)
    session.flush()
    return epoch


def _scorer(leaves: tuple[LogLeaf, ...]) -> Scorer:
    """The versions that scored the epoch's leaves, sorted, and the rules hash of each."""
    versions = sorted({leaf.scorer for leaf in leaves if leaf.scorer is not None})
    return Scorer(",".join(versions), ",".join(rules_hash(version) for version in versions))

