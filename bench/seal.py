"""Sealing benchmark: one epoch of N contributions on PostgreSQL (or SQLite), manifest included.

The ledger is filled with N accepted contributions from 1,000 contributors (synthetic rows: a
seal reads only hashes, addresses, times, points and scores, never the conversations, so their
text does not change the work; the scores, features included, are those of real ShareGPT
conversations) on top of an already sealed log of --base leaves. Then one
`seal_epoch` runs and is timed, against a baseline measured in the same run: reading the same
pending rows back (the least any seal must do).

    .venv/bin/python bench/seal.py [--count 100000] [--base 0] [--backend postgresql|sqlite] [--trace-memory]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from memory import peak_mb, reset_peak

from ledger.content import LocalBlockStore
from ledger.db import make_engine, make_sessionmaker
from ledger.epochs import Anchor, seal_epoch
from ledger.journal import ACCRUAL, REWARDS_POOL
from ledger.migrate import upgrade
from ledger.models import Contribution, JournalEntry, JournalTransfer, StoredObject
from tests.support.postgres import temporary_database

ANCHOR = Anchor(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")


def real_scores(count: int = 97) -> list[dict[str, object]]:
    """The scores (``Score.as_dict()``) of ``count`` real conversations: what a leaf publishes."""
    from ledger.conversation import ConversationError, normalise
    from ledger.scoring import score
    from tally.sharegpt import iter_sharegpt

    scores = []
    for record in iter_sharegpt():
        with contextlib.suppress(ConversationError):
            scores.append(score(normalise(record)).as_dict())
        if len(scores) == count:
            return scores
    raise SystemExit("too few ShareGPT conversations")


def fill(sessions: sa.orm.sessionmaker, start: int, count: int) -> None:  # type: ignore[type-arg]
    scores = real_scores()
    accounts = ["0x" + hashlib.sha256(b"account%d" % i).hexdigest()[:40] for i in range(1000)]
    from eth_utils import to_checksum_address

    accounts = [to_checksum_address(a) for a in accounts]
    chunk = 10_000
    for offset in range(start, start + count, chunk):
        ids = range(offset, min(offset + chunk, start + count))
        rows = [{
            "id": i + 1, "content_hash": hashlib.sha256(b"conversation%d" % i).digest(),
            "contributor": accounts[i % 1000], "nonce": str(i), "issued_at": 1_790_000_000 + i,
            "terms_hash": bytes(32), "signature": bytes(65), "cid": "bafkrei" + "a" * 52, "size": 7500,
            "model": None, "message_count": 6, "points": scores[i % 97]["points"], "score": scores[i % 97],
            "scorer_version": scores[i % 97]["version"], "accepted_at": 1_790_000_000 + i,
            "receipt_signature": bytes(65),
        } for i in ids]
        with sessions() as session, session.begin():
            session.execute(insert(Contribution.__table__), rows)
            session.execute(insert(JournalTransfer.__table__), [
                {"id": r["id"], "kind": ACCRUAL, "ref": f"contribution:{r['id']}", "created_at": r["accepted_at"],
                 "contribution_id": r["id"]} for r in rows])
            session.execute(insert(JournalEntry.__table__), [
                {"transfer_id": r["id"], "account": account, "amount": amount, "kind": ACCRUAL,
                 "ref": f"contribution:{r['id']}", "created_at": r["accepted_at"]}
                for r in rows for account, amount in ((REWARDS_POOL, -r["points"]), (r["contributor"], r["points"]))])
    if sessions.kw["bind"].dialect.name == "postgresql":
        with sessions() as session, session.begin():
            for table in ("contributions", "journal_transfers", "journal_entries"):
                session.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
            session.execute(sa.text("ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--base", type=int, default=0, help="leaves sealed before the timed epoch")
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--trace-memory", action="store_true",
                        help="also trace Python's allocations (slows the seal several times)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp())
    with contextlib.ExitStack() as stack:
        if args.backend == "postgresql":
            url = stack.enter_context(temporary_database("tally_bench"))
        else:
            url = f"sqlite:///{tmp / 'bench.db'}"
        run(url, tmp, args.count, args.base, args.backend, args.trace_memory)


def run(url: str, tmp: Path, count: int, base: int, backend: str, trace_memory: bool = False) -> None:
    """Fill the ledger, then time one seal against reading the same rows back."""
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    store = LocalBlockStore(tmp / "blocks")
    started = time.perf_counter()
    if base:
        fill(sessions, 0, base)
        with sessions() as session, session.begin():
            seal_epoch(session, store, ANCHOR)
    fill(sessions, base, count)
    print(f"{backend}: filled {base + count} contributions in "
          f"{time.perf_counter() - started:.1f} s (not timed)")

    started = time.perf_counter()
    with sessions() as session:
        rows = session.execute(select(Contribution.id, Contribution.contributor, Contribution.content_hash,
                                      Contribution.accepted_at, Contribution.points, Contribution.cid)
                               .where(Contribution.epoch.is_(None))).all()
        entries = session.execute(select(JournalEntry.id, JournalEntry.account, JournalEntry.amount)
                                  .where(JournalEntry.epoch.is_(None))).all()
    baseline = time.perf_counter() - started

    before_rss = reset_peak()  # the seal's own peak, above what the process holds now
    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    with sessions() as session, session.begin():
        epoch = seal_epoch(session, store, ANCHOR)
    seal = time.perf_counter() - started
    # Measured before anything reads the manifest back (a 72 MB read is 144 MB of its own).
    grown = peak_mb() - before_rss
    traced_peak = tracemalloc.get_traced_memory()[1] if trace_memory else 0
    tracemalloc.stop()
    assert epoch is not None and epoch.contributions == count
    with sessions() as session:
        manifest_bytes = session.scalar(select(StoredObject.size).where(StoredObject.cid == epoch.manifest_cid))
    assert manifest_bytes is not None and store.has(epoch.manifest_cid)
    print(f"baseline: reading the {len(rows)} pending contributions and {len(entries)} entries: {baseline:.2f} s")
    print(f"seal_epoch of {count} contributions (log {base} -> {epoch.log_size} leaves, "
          f"{epoch.accounts} accounts, manifest {manifest_bytes / 1e6:.1f} MB): {seal:.2f} s "
          f"= {seal / baseline:.1f}x the baseline, {count / seal:,.0f} contributions/s "
          f"(target: 100,000 within 30 s on PostgreSQL)")
    print(f"memory: the process's peak RSS grew {grown:.0f} MB = {grown * 1000 / count:.1f} KB a contribution "
          f"(target 1 KB)")
    if trace_memory:
        print(f"Python allocations peaked at {traced_peak / 1e6:.0f} MB during the seal = "
              f"{traced_peak / count / 1000:.2f} KB a contribution (with tracemalloc on: the time above is not "
              f"the seal's)")
    engine.dispose()


if __name__ == "__main__":
    main()
