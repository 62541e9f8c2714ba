"""Sealing and auditing epoch after epoch: each epoch costs its own work plus one balances root,
flat in the number of epochs before it, at 10k, 100k and 1M accounts.

For each account count the ledger starts from a snapshot of that many accounts (their balances
are put in ``account_balances`` as if earlier epochs had sealed them, and a first epoch of one
grant publishes the snapshot), then ``--epochs`` epochs of ``--per-epoch`` contributions each
(synthetic rows as in bench/seal.py, each from a different account) are sealed one after the other
on PostgreSQL, and each is audited as ``tally audit`` does (``Auditor.epoch``: the manifest by
CID, the log extended, every leaf's points recomputed, the journal replayed, the changed balances
checked and the balances root rebuilt), the audit taking up after the first epoch from its
snapshot as ``tally audit --from-epoch 2`` does.

Printed per epoch: seal and audit seconds, each as a ratio to the first measured epoch (flat
means about 1.0 however many epochs came before) and to a baseline measured in the same run, the
root alone (``balances_root`` of every account, the least either must do beyond the epoch's own
rows); the manifest's size; and the process's peak RSS.

    .venv/bin/python bench/seal_epochs.py [--accounts 10000 100000 1000000] [--epochs 5] [--per-epoch 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anchoring.audit import Auditor, AuditReport
from anchoring.contract import EpochAnchored
from bench.seal import ANCHOR, peak_rss_mb, real_scores
from ledger.balances import balances_root
from ledger.content import LocalBlockStore
from ledger.db import make_engine, make_sessionmaker
from ledger.encoding import checksum
from ledger.epochs import seal_epoch
from ledger.formats import BalancesSnapshot, Manifest
from ledger.journal import ACCRUAL, GRANT, REWARDS_POOL
from ledger.migrate import upgrade
from ledger.models import AccountBalance, Contribution, Epoch, JournalEntry, JournalTransfer
from tests.support.postgres import temporary_database

START_BALANCE = 1_000


def accounts_of(count: int) -> list[str]:
    return [checksum("0x" + hashlib.sha256(b"account%d" % i).hexdigest()[:40]) for i in range(count)]


def seed(sessions: sa.orm.sessionmaker, accounts: list[str]) -> None:  # type: ignore[type-arg]
    """Every account holds START_BALANCE, as if sealed by earlier epochs; one grant is pending."""
    with sessions() as session, session.begin():
        for start in range(0, len(accounts), 50_000):
            session.execute(insert(AccountBalance.__table__), [
                {"account": a, "balance": START_BALANCE, "epoch": 0} for a in accounts[start:start + 50_000]])
        session.execute(insert(AccountBalance.__table__),
                        [{"account": REWARDS_POOL, "balance": -START_BALANCE * len(accounts), "epoch": 0}])
        session.execute(insert(JournalTransfer.__table__), [{"id": 1, "kind": GRANT, "ref": "seed", "created_at": 0}])
        session.execute(insert(JournalEntry.__table__), [
            {"transfer_id": 1, "account": account, "amount": amount, "kind": GRANT, "ref": "seed", "created_at": 0}
            for account, amount in ((REWARDS_POOL, -1), (accounts[0], 1))])


def fill(sessions: sa.orm.sessionmaker, accounts: list[str], first_id: int, count: int,  # type: ignore[type-arg]
         scores: list[dict[str, object]]) -> None:
    """``count`` accepted contributions, each from the next account round the list."""
    rows = [{
        "id": i, "content_hash": hashlib.sha256(b"conversation%d" % i).digest(),
        "contributor": accounts[i % len(accounts)], "nonce": str(i), "issued_at": 1_790_000_000 + i,
        "terms_hash": bytes(32), "signature": bytes(65), "cid": "bafkrei" + "a" * 52, "size": 7500,
        "model": None, "message_count": 6, "points": scores[i % len(scores)]["points"],
        "score": scores[i % len(scores)], "scorer_version": scores[i % len(scores)]["version"],
        "accepted_at": 1_790_000_000 + i, "receipt_signature": bytes(65),
    } for i in range(first_id, first_id + count)]
    with sessions() as session, session.begin():
        session.execute(insert(Contribution.__table__), rows)
        session.execute(insert(JournalTransfer.__table__), [
            {"id": r["id"] + 1, "kind": ACCRUAL, "ref": f"contribution:{r['id']}", "created_at": r["accepted_at"],
             "contribution_id": r["id"]} for r in rows])
        session.execute(insert(JournalEntry.__table__), [
            {"transfer_id": r["id"] + 1, "account": account, "amount": amount, "kind": ACCRUAL,
             "ref": f"contribution:{r['id']}", "created_at": r["accepted_at"]}
            for r in rows for account, amount in ((REWARDS_POOL, -r["points"]), (r["contributor"], r["points"]))])
        session.execute(sa.text("ANALYZE"))


def event_of(epoch: Epoch) -> EpochAnchored:
    return EpochAnchored(epoch.number, epoch.log_size, epoch.log_root, epoch.balances_root, epoch.total_points,
                         epoch.manifest_cid, "0x" + "00" * 32, epoch.number, "0x" + "00" * 32, 0)


def run(url: str, tmp: Path, account_count: int, epochs: int, per_epoch: int,
        scores: list[dict[str, object]]) -> list[tuple[int, float, float, float, int]]:
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    store = LocalBlockStore(tmp / f"blocks-{account_count}", fsync=False)
    accounts = accounts_of(account_count)
    seed(sessions, accounts)
    with sessions() as session, session.begin():
        first = seal_epoch(session, store, ANCHOR, snapshot=True)
        assert first is not None
        first_event = event_of(first)
    # The audit takes up after the first epoch as `tally audit --from-epoch 2` does: the log from
    # its manifest's compact range, the balances from the snapshot it names, each checked
    # against the epoch's roots.
    auditor = Auditor(None, ANCHOR.contract, store)  # type: ignore[arg-type]
    report = AuditReport(ANCHOR.contract, ANCHOR.chain_id)
    previous = auditor.start_after(first_event)
    manifest = Manifest.from_json(json.loads(store.get(first_event.manifest_cid)))
    assert manifest.balances.snapshot is not None
    snapshot = BalancesSnapshot.from_json(json.loads(store.get(manifest.balances.snapshot)))

    started = time.perf_counter()
    balances_root(snapshot.values)
    root_alone = time.perf_counter() - started

    results = []
    next_id = 1
    for _ in range(epochs):
        fill(sessions, accounts, next_id, per_epoch, scores)
        next_id += per_epoch
        started = time.perf_counter()
        with sessions() as session, session.begin():
            epoch = seal_epoch(session, store, ANCHOR)
            assert epoch is not None and epoch.contributions == per_epoch
            event = event_of(epoch)
        seal = time.perf_counter() - started
        started = time.perf_counter()
        previous = auditor.epoch(report, event, previous)
        audit = time.perf_counter() - started
        results.append((event.epoch, seal, audit, root_alone, len(store.get(event.manifest_cid))))
        print(f"  epoch {event.epoch}: seal {seal:.2f} s, audit {audit:.2f} s, manifest "
              f"{results[-1][4] / 1e6:.1f} MB, peak RSS {peak_rss_mb():.0f} MB", flush=True)
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--per-epoch", type=int, default=10_000)
    args = parser.parse_args()
    scores = real_scores()
    table = []
    for count in args.accounts:
        print(f"{count:,} accounts, {args.epochs} epochs of {args.per_epoch:,} contributions (PostgreSQL):", flush=True)
        with tempfile.TemporaryDirectory() as tmp, temporary_database("tally_bench") as url:
            results = run(url, Path(tmp), count, args.epochs, args.per_epoch, scores)
        first_seal, first_audit = results[0][1], results[0][2]
        last_seal, last_audit, root_alone = results[-1][1], results[-1][2], results[-1][3]
        table.append((count, first_seal, last_seal, first_audit, last_audit, root_alone, results[-1][4]))
    print()
    print("| accounts | seal, first → last epoch | last / first | audit, first → last | last / first "
          "| seal / root alone | audit / root alone | manifest |")
    print("|---|---|---|---|---|---|---|---|")
    for count, s0, s1, a0, a1, root, size in table:
        print(f"| {count:,} | {s0:.2f} → {s1:.2f} s | {s1 / s0:.2f}x | {a0:.2f} → {a1:.2f} s | {a1 / a0:.2f}x "
              f"| {s1 / root:.1f}x | {a1 / root:.1f}x | {size / 1e6:.1f} MB |")
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
