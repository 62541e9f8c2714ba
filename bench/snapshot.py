"""The full balances snapshot (published every K epochs and on demand) at N accounts: the memory
and time of writing it as the seal does, streamed (``ledger.epochs.publish_snapshot``), against
building it whole as it was built before (``jcs.dumps`` of the snapshot of ``balances(session)``,
``store.put`` and an INSERT of its row with the bytes), in the same run; both roll back.

The ledger gets N accounts with balances (PostgreSQL writes them itself, generate_series; an
address's case as EIP-55 would give it does not change the work, so they are lower-case). Each
way runs in a fresh process, so that its peak RSS is its own; the two must give the same CID.

    .venv/bin/python bench/snapshot.py [--accounts 1000000] [--backend postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from memory import peak_mb, reset_peak

from ledger import jcs
from ledger.content import LocalBlockStore
from ledger.db import make_engine, make_sessionmaker
from ledger.epochs import Anchor, balances, publish_snapshot
from ledger.formats import BalancesSnapshot
from ledger.migrate import upgrade
from ledger.models import StoredObject
from tests.support.postgres import temporary_database

ANCHOR = Anchor(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
ROOT = bytes(32)  # not recomputed here: the snapshot carries the root it is given
FILL_POSTGRESQL = """
INSERT INTO account_balances (account, balance, epoch)
SELECT '0x' || substr(md5(i::text), 1, 20) || substr(md5('b' || i::text), 1, 20), 1 + i % 100000, 1
FROM generate_series(1, :count) AS i
"""


def fill(url: str, count: int) -> int:
    """``count`` accounts with balances; their total."""
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(FILL_POSTGRESQL), {"count": count})
            conn.execute(sa.text("ANALYZE account_balances"))
        else:
            import hashlib
            conn.execute(sa.text("INSERT INTO account_balances (account, balance, epoch) VALUES (:a, :b, 1)"),
                         [{"a": "0x" + hashlib.sha256(b"%d" % i).hexdigest()[:40], "b": 1 + i % 100000}
                          for i in range(1, count + 1)])
        total = int(conn.execute(sa.text("SELECT sum(balance) FROM account_balances")).scalar_one())
    engine.dispose()
    return total


def one_way(url: str, way: str, blocks: Path, total: int) -> dict[str, float | str]:
    """Write the snapshot one way in this process: its CID, seconds and peak RSS growth.

    The peak is this process's own from here on (``memory.reset_peak``): after a SQLite fill of a
    million accounts in Python the parent held more than the build, which ru_maxrss counted."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    store = LocalBlockStore(blocks, fsync=False)
    before = reset_peak()
    started = time.perf_counter()
    with sessions() as session, session.begin():
        if way == "streamed":
            cid = publish_snapshot(session, store, ANCHOR, 1, ROOT, total, 0)
        else:
            data = jcs.dumps(BalancesSnapshot(ANCHOR.chain_id, ANCHOR.contract, 1, ROOT, total,
                                              tuple(balances(session))).to_json())
            cid = store.put(data)
            session.add(StoredObject(cid=cid, kind="snapshot", size=len(data), data=data, created_at=0,
                                     durable_at=None, pin_attempts=0, next_pin_at=0))
            session.flush()
        session.rollback()  # only the bytes matter here
    seconds = time.perf_counter() - started
    grown = peak_mb() - before
    engine.dispose()
    return {"cid": cid, "seconds": seconds, "grown_mb": grown}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--way", choices=["streamed", "whole"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--blocks", help=argparse.SUPPRESS)
    parser.add_argument("--total", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:  # one way, in its own process
        print(json.dumps(one_way(args.url, args.way, Path(args.blocks), args.total)))
        return

    tmp = Path(tempfile.mkdtemp())
    with contextlib.ExitStack() as stack:
        url = (stack.enter_context(temporary_database("tally_bench_snapshot")) if args.backend == "postgresql"
               else f"sqlite:///{tmp / 'bench.db'}")
        upgrade(url)
        started = time.perf_counter()
        total = fill(url, args.accounts)
        print(f"{args.backend}: {args.accounts:,} accounts in {time.perf_counter() - started:.0f} s (not timed)")
        results = {}
        for way in ("whole", "streamed"):
            out = subprocess.run([sys.executable, __file__, "--way", way, "--url", url, "--blocks",
                                  str(tmp / f"blocks-{way}"), "--total", str(total)],
                                 check=True, capture_output=True, text=True).stdout
            results[way] = json.loads(out)
    whole, streamed = results["whole"], results["streamed"]
    if whole["cid"] != streamed["cid"]:
        raise SystemExit(f"the two ways disagree: {whole['cid']} and {streamed['cid']}")
    for name, result in (("built whole (before)", whole), ("streamed (the seal now)", streamed)):
        grown, seconds = float(result["grown_mb"]), float(result["seconds"])
        print(f"{name}: peak RSS grew {grown:.0f} MB = {grown * 1e6 / args.accounts:.0f} bytes an account, "
              f"{seconds:.2f} s")
    print(f"streamed / whole: memory {float(streamed['grown_mb']) / max(float(whole['grown_mb']), 1e-9):.2f}x, "
          f"time {float(streamed['seconds']) / float(whole['seconds']):.2f}x (same CID {streamed['cid'][:16]}...)")


if __name__ == "__main__":
    main()
