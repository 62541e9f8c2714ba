"""Replicas benchmark: the batched ingest load of bench/ingest.py through one single-worker API
replica and through two, on one PostgreSQL, in the same run.

Each configuration gets a fresh database; every replica is a `tally serve --workers 1 --no-jobs`
with a data folder of its own (as a host would have) and the deployment's keys. The load is the
batches of bench/ingest.py (real ShareGPT conversations, signed beforehand, intake's checks on),
spread evenly over the replicas for --seconds. Printed:

- contributions accepted a second with one replica and with two, and their ratio (bounded by the
  machine's cores: here the load client, both replicas and PostgreSQL share them);
- the database time per accepted contribution, from PostgreSQL's own accounting
  (``pg_stat_database.active_time``, the time its backends spent executing statements for this
  database, PostgreSQL 14+; ``pg_stat_statements`` is not needed) and, as a cross-check, the CPU
  of the database's backends (from /proc);
- from that, how many replicas one PostgreSQL server of --db-cores cores could feed before the
  database is the limit: (db-cores x 1 s / database time per contribution) / one replica's rate,
  with the larger of the two database times of the two-replica run (active time also counts the
  waits on row locks that replicas contending for the same rows add, so it is the cautious one).

    .venv/bin/python bench/replicas.py [--count 6000] [--seconds 20] [--concurrency 4] [--db-cores N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import CHECKS_ON, OPERATOR, cpu_seconds, load, server_session, session_members, sign_all, spent

from ledger.conversation import canonical_bytes
from ledger.migrate import upgrade
from tally.sharegpt import distinct_conversations
from tests.support.postgres import temporary_database
from tests.support.server import API_ONLY, tally_server

MASTER = "6d" * 32


class Accounting:
    """The replicas' CPU, the database backends' CPU and active time, and the contributions."""

    def __init__(self, ports: list[int], db_url: str) -> None:
        self.sessions = [server_session(port) for port in ports]
        self.engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
        self.database = sa.engine.make_url(db_url).database

    def reading(self) -> dict[str, Any]:
        with self.engine.connect() as connection:
            backends = [int(pid) for (pid,) in connection.execute(sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"),
                {"d": self.database})]
            contributions = connection.execute(sa.text("SELECT count(*) FROM contributions")).scalar_one()
            # Cumulative statistics are cached per transaction: clear them to read fresh values.
            connection.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            active = connection.execute(sa.text(
                "SELECT active_time FROM pg_stat_database WHERE datname = :d"), {"d": self.database}).scalar_one()
        return {"server": {pid: cpu_seconds(pid) for sid in self.sessions for pid in session_members(sid)},
                "database": {pid: cpu_seconds(pid) for pid in backends},
                "contributions": int(contributions), "active ms": float(active or 0.0)}

    def settled(self) -> dict[str, Any]:
        """A reading once the replicas are idle and the contributions stopped growing."""
        last = self.reading()
        while True:
            time.sleep(1.0)
            now = self.reading()
            if now["contributions"] == last["contributions"] and spent(last["server"], now["server"]) < 0.04:
                return now
            last = now


def run(replicas: int, conversations: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, float]:
    """The batched load through ``replicas`` replicas on a fresh database."""
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        db_url = stack.enter_context(temporary_database("tally_bench"))
        upgrade(db_url)
        env = {**API_ONLY, "TALLY_OPERATOR_KEY": OPERATOR, "TALLY_MASTER_KEY": MASTER,
               "TALLY_DATABASE_URL": db_url, "TALLY_REQUEST_THREADS": "8", **CHECKS_ON}
        urls = []
        for n in range(replicas):
            home = tmp / f"host-{n}" / "tally"
            home.mkdir(parents=True)
            urls.append(stack.enter_context(tally_server(home, workers=1, env=env)))
        accounting = Accounting([int(url.rsplit(":", 1)[1]) for url in urls], db_url)
        bodies = sign_all(httpx.get(urls[0] + "/v1/config").json(), conversations)
        batches = [json.dumps({"items": bodies[i:i + args.batch_size]})
                   for i in range(0, len(bodies), args.batch_size)]
        shares = [batches[n::replicas] for n in range(replicas)]
        results: list[dict[str, float]] = [{} for _ in urls]

        def drive(n: int) -> None:
            folder = tmp / f"load-{n}"
            folder.mkdir()
            results[n] = load(urls[n], "/v1/contributions:batch", shares[n], concurrency=args.concurrency,
                              seconds=args.seconds, client="python", tmp=folder)

        before = accounting.settled()
        started = time.perf_counter()
        threads = [threading.Thread(target=drive, args=(n,)) for n in range(replicas)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        after = accounting.settled()
        accounting.engine.dispose()
    accepted = after["contributions"] - before["contributions"]
    if not accepted:
        raise RuntimeError(f"nothing accepted through {replicas} replicas ({results})")
    return {"rate": accepted / elapsed, "accepted": accepted,
            "server ms": 1000 * spent(before["server"], after["server"]) / accepted,
            "database cpu ms": 1000 * spent(before["database"], after["database"]) / accepted,
            "database active ms": (after["active ms"] - before["active ms"]) / accepted,
            "p99 ms": max(r.get("p99", 0.0) for r in results)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=6000, help="distinct conversations (each run draws on them)")
    parser.add_argument("--seconds", type=int, default=20, help="duration of each run")
    parser.add_argument("--concurrency", type=int, default=4, help="batches in flight per replica")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--db-cores", type=int, default=os.cpu_count() or 1,
                        help="cores of the PostgreSQL server to size for (default: this machine's)")
    args = parser.parse_args()

    conversations = distinct_conversations(args.count)
    sizes = sorted(len(canonical_bytes(c)) for c in conversations)
    print(f"{len(conversations)} distinct real ShareGPT conversations, median {sizes[len(sizes) // 2]} bytes, "
          f"batches of {args.batch_size}, {args.concurrency} in flight per replica, {args.seconds} s a run, "
          f"{os.cpu_count()} cores shared by the load, the replicas and PostgreSQL")
    one = run(1, conversations, args)
    two = run(2, conversations, args)
    print()
    print(f"{'':38}{'one replica':>14}{'two replicas':>14}")
    for label, key in [("contributions accepted /s", "rate"), ("accepted", "accepted"),
                       ("replica CPU ms per contribution", "server ms"),
                       ("database active ms per contribution", "database active ms"),
                       ("database CPU ms per contribution", "database cpu ms"), ("batch p99 ms", "p99 ms")]:
        print(f"{label:38}{one[key]:14.2f}{two[key]:14.2f}")
    print()
    print(f"two replicas / one: {two['rate'] / one['rate']:.2f}x the contributions a second "
          f"(at most {min(2, os.cpu_count() or 1)}x on this machine's cores)")
    database_ms = max(two["database active ms"], two["database cpu ms"])
    capacity = args.db_cores * 1000 / database_ms
    print(f"database time per accepted contribution: {two['database active ms']:.3f} ms executing statements "
          f"(pg_stat_database.active_time), {two['database cpu ms']:.3f} ms backend CPU")
    print(f"one PostgreSQL server of {args.db_cores} cores: about {capacity:.0f} contributions a second "
          f"before it is the limit, = {capacity / one['rate']:.1f} replicas at one replica's "
          f"{one['rate']:.0f}/s")


if __name__ == "__main__":
    main()
