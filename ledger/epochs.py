"""Sealing an epoch (DESIGN.md §6): everything accepted so far becomes one immutable step.

``seal_epoch`` runs in one database transaction: it assigns gap-free log indexes in acceptance
order, appends the leaves to the stored RFC 9162 log, stamps the journal entries with the epoch,
computes every balance and its OpenZeppelin tree, writes the manifest to the content store and
records the header. If anything fails, nothing of it remains; running it again is safe, and
with nothing new since the last epoch it makes no epoch.
"""

from __future__ import annotations

import tempfile
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, insert, select, tuple_, update
from sqlalchemy.orm import Session

from ledger import manifest_writer
from ledger.balances import balance_columns, changed_balances, columns_root
from ledger.content import ContentStore, put_file
from ledger.db import serialise, table_of
from ledger.encoding import is_account_address
from ledger.feed import ENGAGE, KIND_NAMES, EngagementPolicy
from ledger.formats import (
    BalancesSnapshot,
    EngagementLine,
    JournalLine,
    LogLeaf,
    Manifest,
    ManifestBalances,
    ManifestFeed,
    ManifestLog,
    PreviousEpoch,
    ProgramLine,
    ProvenLeaf,
    Scorer,
    UsageLine,
)
from ledger.journal import ENGAGEMENT, MINIMUM_TOPUP, RETRO_USAGE
from ledger.lifecycle import EpochState
from ledger.manifest_writer import JcsArray
from ledger.merkle.stored import StoredLog
from ledger.models import (
    AccountBalance,
    Contribution,
    Engagement,
    Epoch,
    FeedStatement,
    JournalEntry,
    Program,
    ProgramChange,
    StoredObject,
    UsageItem,
)
from ledger.outbox import add_object_file
from ledger.program_close import close_programs, due
from ledger.program_rules import DEFINE
from ledger.programs import definition_of
from ledger.scoring import recorded_features, rules_hash
from ledger.sealing import SNAPSHOT_EVERY


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
    return list(_sorted_balances(session))


def _sorted_balances(session: Session) -> Iterator[tuple[str, int]]:
    """:func:`balances` one at a time, as the database sorts them: by lower-cased address in
    code point order, as ``ledger.balances.listed`` sorts (on PostgreSQL ``COLLATE "C"``, not
    the database's collation), read 10,000 at a time through a server-side cursor of Core rows
    (the ORM's row loading cost a third of a snapshot's time)."""
    lowered: ColumnElement[str] = func.lower(AccountBalance.account)
    if session.get_bind().dialect.name == "postgresql":
        lowered = lowered.collate("C")
    rows = session.connection().execute(
        select(AccountBalance.account, AccountBalance.balance).where(AccountBalance.balance != 0)
        .order_by(lowered, AccountBalance.account).execution_options(yield_per=_ROWS_READ_AT_ONCE * 10))
    for account, balance in rows:
        if is_account_address(account):
            yield account, balance


def seal_epoch(
    session: Session, store: ContentStore, anchor: Anchor, *, now: int | None = None,
    snapshot_every: int = SNAPSHOT_EVERY, snapshot: bool = False,
    checkpoint: Callable[[str], None] = lambda _name: None, engagement: EngagementPolicy | None = None,
) -> Epoch | None:
    """Seal everything accepted and journaled so far into the next epoch, in the caller's
    transaction; None when there is nothing new. The caller commits.

    Every ``snapshot_every``-th epoch, or this one if ``snapshot``, also publishes a full
    balances snapshot that the manifest names. Programs' periods ended by ``now`` are closed in
    the same transaction (``ledger.program_close``); ``checkpoint("after-program-payouts")`` is
    where crash tests kill a sealer that has computed and posted them but not committed.
    ``engagement`` is the feed's policy the engagements were credited by: its points per like and
    per remix are published with them (``feed``), for the audit to hold each credit to."""
    now = int(time.time()) if now is None else now
    serialise(session, SEALING_LOCK)
    previous = latest_epoch(session)
    number = 1 if previous is None else previous.number + 1

    stored_log = StoredLog(session)
    first_index = stored_log.size()
    # Streamed: each row becomes its leaf hash and its leaf's JCS in the manifest at once, and
    # nothing else of it is kept (ledger.manifest_writer), so neither the rows (their score
    # breakdowns above all) nor the leaves are ever all held together. Each leaf publishes its
    # scorer and the features its points were computed from, so that the audit recomputes its
    # points from the manifest alone (docs/scoring.md).
    ids: array[int] = array("q")
    leaf_hashes: list[bytes] = []
    leaves = JcsArray()
    scorers: set[str] = set()
    rows = session.execute(
        select(Contribution.id, Contribution.contributor, Contribution.content_hash,
               Contribution.accepted_at, Contribution.points, Contribution.cid, Contribution.scorer_version,
               Contribution.score, Contribution.message_count)
        .where(Contribution.epoch.is_(None))
        .order_by(Contribution.id),
        execution_options={"yield_per": _ROWS_READ_AT_ONCE},
    )
    for row_id, contributor, content_hash, accepted_at, points, cid, scorer, breakdown, messages in rows:
        ids.append(row_id)
        leaf = LogLeaf(first_index + len(ids) - 1, contributor, content_hash, accepted_at, points, cid, scorer,
                       recorded_features(scorer, breakdown, messages))
        leaf_hashes.append(leaf.leaf_hash())
        leaves.add(leaf.to_json())
        if scorer is not None:
            scorers.add(scorer)
    # The journal likewise: each entry becomes its line's JCS and its amount in the deltas.
    journal = JcsArray()
    deltas: dict[str, int] = {}
    last_entry = _stream_journal(session.execute(
        select(JournalEntry.id, JournalEntry.account, JournalEntry.amount, JournalEntry.kind,
               JournalEntry.ref, JournalEntry.created_at)
        .where(JournalEntry.epoch.is_(None))
        .order_by(JournalEntry.id),
        execution_options={"yield_per": _ROWS_READ_AT_ONCE},
    ), journal, deltas)
    changes = list(session.scalars(select(ProgramChange).where(ProgramChange.epoch.is_(None))
                                   .order_by(ProgramChange.id)))
    items = list(session.scalars(select(UsageItem).where(UsageItem.epoch.is_(None)).order_by(UsageItem.id)))
    if not ids and not journal.count and not changes and not items and not due(session, now):
        return None
    if previous is not None and first_index != previous.log_size:
        raise RuntimeError(f"stored log has {first_index} leaves, epoch {previous.number} says {previous.log_size}")
    log_root = stored_log.append(leaf_hashes) if leaf_hashes else stored_log.root()
    log_size = first_index + len(ids)
    del leaf_hashes

    contributions = table_of(Contribution)
    for start in range(0, len(ids), _ROWS_AT_ONCE):
        session.execute(
            update(contributions).where(contributions.c.id == bindparam("row_id"))
            .values(epoch=number, log_index=bindparam("new_index")),
            [{"row_id": row_id, "new_index": first_index + start + k}
             for k, row_id in enumerate(ids[start:start + _ROWS_AT_ONCE])],
            execution_options={"synchronize_session": False},
        )
    if last_entry is not None:
        session.execute(
            update(JournalEntry)
            .where(JournalEntry.epoch.is_(None), JournalEntry.id <= last_entry)
            .values(epoch=number)
            .execution_options(synchronize_session=False)
        )
    for change in changes:
        change.epoch = number
    for item in items:
        item.epoch = number
    session.flush()
    # Closed on what this epoch and those before publish, so that the audit recomputes the same.
    if close_programs(session, now):
        checkpoint("after-program-payouts")
        payouts = session.execute(
            select(JournalEntry.id, JournalEntry.account, JournalEntry.amount, JournalEntry.kind,
                   JournalEntry.ref, JournalEntry.created_at)
            .where(JournalEntry.epoch.is_(None), JournalEntry.kind.in_((MINIMUM_TOPUP, RETRO_USAGE)))
            .order_by(JournalEntry.id)).all()
        session.execute(update(JournalEntry).where(JournalEntry.id.in_([row[0] for row in payouts]))
                        .values(epoch=number).execution_options(synchronize_session=False))
        _stream_journal(payouts, journal, deltas)

    changed, root, total_points, accounts = _seal_balances(session, number, deltas.items())
    snapshot_cid = None
    if snapshot or number % snapshot_every == 0:
        snapshot_cid = publish_snapshot(session, store, anchor, number, root, total_points, now)

    manifest = Manifest(
        chain_id=anchor.chain_id,
        contract=anchor.contract,
        epoch=number,
        previous=None if previous is None else PreviousEpoch(
            previous.number, previous.log_size, previous.log_root, previous.balances_root, previous.manifest_cid),
        log=ManifestLog(log_size, log_root, (), tuple(stored_log.compact_range(log_size))),
        journal=(),  # both written below, from what was streamed
        balances=ManifestBalances(root, total_points, changed=tuple(changed), accounts=accounts,
                                  snapshot=snapshot_cid),
        scorer=_scorer(scorers),
        sealed_at=now,
        programs=tuple(_program_line(session, change) for change in changes),
        usage=tuple(UsageLine(item.id, item.ref, item.contribution_id, item.account, item.units, item.points,
                              item.created_at) for item in items),
        feed=_feed(session, number, engagement or EngagementPolicy(), stored_log, log_size),
    )
    journal_entries = journal.count
    # The bytes go into the shared database with the epoch (ledger.outbox: every host serves
    # them, and the storage job writes them out and pins them like any object); the store keeps
    # a copy in this host's cache. They are written to a temporary file and read from it, a
    # chunk at a time, to name them, store their blocks and send their row, so that the seal
    # never holds the manifest (72 MB at 100,000 contributions) whole.
    with tempfile.TemporaryFile() as spool:
        size = manifest_writer.write_manifest(manifest, journal, leaves, spool)
        spool.seek(0)
        manifest_cid = put_file(store, spool)
        spool.seek(0)
        add_object_file(session, cid=manifest_cid, kind="manifest", handle=spool, size=size, now=now)

    epoch = Epoch(
        number=number, state=EpochState.SEALED.value, sealed_at=now, first_index=first_index, log_size=log_size,
        log_root=log_root, balances_root=root, total_points=total_points, accounts=accounts,
        contributions=len(ids), journal_entries=journal_entries, manifest_cid=manifest_cid,
        chain_id=anchor.chain_id, contract=anchor.contract,
    )
    session.add(epoch)
    session.flush()
    return epoch


def _program_line(session: Session, change: ProgramChange) -> ProgramLine:
    if change.change == DEFINE:
        program = session.get(Program, change.program)
        assert program is not None  # written with its definition
        return ProgramLine(change.id, change.change, change.program, change.at, change.by,
                           definition=definition_of(program))
    nonce = None if change.nonce is None else int(change.nonce)
    return ProgramLine(change.id, change.change, change.program, change.at, change.by, change.account,
                       nonce=nonce, issued_at=change.issued_at, signature=change.signature)


def _feed(session: Session, number: int, policy: EngagementPolicy, stored_log: StoredLog,
          log_size: int) -> ManifestFeed:
    """The ``feed`` block of epoch ``number``: every engagement whose credit the epoch seals,
    with the actor's Engage statement, and the leaf of each contribution it names with its
    inclusion proof in the log after the epoch, so that the audit needs no earlier manifest."""
    credited = select(JournalEntry.transfer_id).where(JournalEntry.epoch == number, JournalEntry.kind == ENGAGEMENT,
                                                      JournalEntry.amount > 0)
    engagements = list(session.scalars(select(Engagement).where(Engagement.transfer_id.in_(credited))
                                       .order_by(Engagement.id)))
    named = {key for row in engagements for key in (row.contribution_id, row.remix_id) if key is not None}
    rows = {row.id: row for row in session.scalars(select(Contribution).where(Contribution.id.in_(named))
                                                   .execution_options(populate_existing=True))}
    # Each engagement's Engage statement: one per (actor, contribution, kind), since an
    # engagement of that kind counts once; the latest if a refused attempt left one too.
    statements: dict[tuple[str, int, int], FeedStatement] = {}
    for start in range(0, len(engagements), _IN_CHUNK // 3):
        keys = [(row.actor, row.contribution_id, row.kind) for row in engagements[start:start + _IN_CHUNK // 3]]
        for found in session.scalars(
                select(FeedStatement).where(FeedStatement.type == ENGAGE, tuple_(
                    FeedStatement.signer, FeedStatement.contribution_id, FeedStatement.value).in_(keys))
                .order_by(FeedStatement.id)):
            statements[(found.signer, found.contribution_id, found.value)] = found
    lines = []
    for row in engagements:
        statement = statements.get((row.actor, row.contribution_id, row.kind))
        if statement is None:
            raise RuntimeError(f"engagement {row.id} has no Engage statement")
        remix = None if row.remix_id is None else rows[row.remix_id].content_hash
        lines.append(EngagementLine(row.id, KIND_NAMES[row.kind], rows[row.contribution_id].content_hash, row.actor,
                                    remix, row.created_at, int(statement.nonce), statement.issued_at,
                                    statement.signature))
    named_rows = sorted(rows.values(), key=lambda r: r.log_index if r.log_index is not None else -1)
    indexes = []
    for named_row in named_rows:
        if named_row.log_index is None:
            # Accepted after this seal read its leaves: the seal is rolled back and the next has both.
            raise RuntimeError(f"contribution {named_row.id} is engaged with but not in the log yet")
        indexes.append(named_row.log_index)
    proofs = stored_log.inclusion_proofs(indexes, log_size)
    leaves = [ProvenLeaf(LogLeaf(index, row.contributor, row.content_hash, row.accepted_at, row.points, row.cid),
                         tuple(proof))
              for row, index, proof in zip(named_rows, indexes, proofs, strict=True)]
    return ManifestFeed(policy.like_points, policy.remix_points, tuple(lines), tuple(leaves))


_ROWS_AT_ONCE = 10_000
"""Contributions updated per round trip while sealing."""

_ROWS_READ_AT_ONCE = 1_000
"""Contributions and journal entries read per round trip while sealing: a batch is held whole
(the driver's result and its rows, score breakdowns parsed). Reading 100,000 contributions into
leaves left the process 35 MB larger at 10,000 a batch and 2 MB at 1,000, for a hundred round
trips instead of ten."""

_IN_CHUNK = 5_000
"""Accounts looked up per statement: well under SQLite's limit on bound parameters."""


def _seal_balances(session: Session, number: int,
                   amounts: Iterable[tuple[str, int]]) -> tuple[list[tuple[str, int]], bytes, int, int]:
    """Apply the epoch's journal ``(account, amount)`` entries to the kept balances; the
    balances the epoch changed, and the root, total and number of all non-zero contributor
    balances after it."""
    deltas: dict[str, int] = {}
    for account, amount in amounts:
        deltas[account] = deltas.get(account, 0) + amount
    touched = [account for account, delta in deltas.items() if delta]
    before: dict[str, int] = {}
    for start in range(0, len(touched), _IN_CHUNK):
        chunk = touched[start:start + _IN_CHUNK]
        before.update((account, balance) for account, balance in session.execute(
            select(AccountBalance.account, AccountBalance.balance).where(AccountBalance.account.in_(chunk))))
    after = {account: before.get(account, 0) + deltas[account] for account in touched}
    table = table_of(AccountBalance)
    updates = [{"key": a, "new_balance": after[a]} for a in touched if a in before]
    if updates:
        session.execute(update(table).where(table.c.account == bindparam("key"))
                        .values(balance=bindparam("new_balance"), epoch=number), updates,
                        execution_options={"synchronize_session": False})
    inserts = [{"account": a, "balance": after[a], "epoch": number} for a in touched if a not in before]
    if inserts:
        session.execute(insert(table), inserts)
    changed = changed_balances({a: before.get(a, 0) for a in touched}, after)

    # Every balance, streamed into the tree's two columns: the root is all the seal needs.
    rows = session.execute(select(AccountBalance.account, AccountBalance.balance)
                           .where(AccountBalance.balance != 0),
                           execution_options={"yield_per": 50_000})
    held, amounts_held = balance_columns((account, balance) for account, balance in rows if is_account_address(account))
    return changed, columns_root(held, amounts_held), sum(amounts_held), len(amounts_held)


def publish_snapshot(session: Session, store: ContentStore, anchor: Anchor, number: int, root: bytes,
                      total_points: int, now: int) -> str:
    """Store the full balances after epoch ``number`` (``ledger.formats.snapshot``); its CID.
    Streamed like the manifest, from rows the database sorts, so that a million accounts are
    never held as a list (``balances`` gives the same values as one)."""
    values = JcsArray()
    for account, balance in _sorted_balances(session):
        if account.isascii() and account.isalnum():  # nothing in the pair's JCS to escape
            values.add_jcs(b'["%s","%d"]' % (account.encode("ascii"), balance))
        else:
            values.add([account, str(balance)])
    document = BalancesSnapshot(anchor.chain_id, anchor.contract, number, root, total_points, ())
    with tempfile.TemporaryFile() as spool:
        size = manifest_writer.write_snapshot(document, values, spool)
        spool.seek(0)
        cid = put_file(store, spool)
        if session.get(StoredObject, cid) is None:
            spool.seek(0)
            add_object_file(session, cid=cid, kind="snapshot", handle=spool, size=size, now=now)
    return cid


def _stream_journal(rows: Iterable[Any], journal: JcsArray, deltas: dict[str, int]) -> int | None:
    """Write each journal row ``(id, account, amount, kind, ref, created_at)`` as its manifest
    line and add its amount to ``deltas``; the last row's id (None without rows)."""
    last = None
    for entry_id, account, amount, kind, ref, at in rows:
        journal.add(JournalLine(entry_id, account, amount, kind, ref, at).to_json())
        deltas[account] = deltas.get(account, 0) + amount
        last = entry_id
    return last


def _scorer(scorers: Iterable[str]) -> Scorer:
    """The versions that scored the epoch's leaves, sorted, and the rules hash of each."""
    versions = sorted(set(scorers))
    return Scorer(",".join(versions), ",".join(rules_hash(version) for version in versions))

