"""The public feed's first page with 100,000 published contributions on PostgreSQL.

Synthetic contributions as in bench/seal.py, every one published (a ``publications`` row, one
published each second, a few with image CIDs) and a third of them liked. The real app is served
by uvicorn on a real port and asked, one request at a time over one keep-alive connection, for
``GET /v1/feed`` (the first page, 20 cards) and for ``GET /healthz`` in the same run, the least a
request costs; the feed is reported as a ratio to it. The plan of the keyset query is printed too
(an index-only scan backwards over ``ix_publications_feed_order``). Target: under 20 ms. This
prints, never asserts.

    .venv/bin/python bench/feed.py [--count 100000] [--requests 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from seal import fill  # bench/seal.py: the same synthetic rows

from api.app import create_app
from ledger.models import Engagement, Publication
from tests.api.conftest import build_api
from tests.support.postgres import temporary_database
from tests.support.server import free_port

IMAGE = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


def publish_all(sessions: sa.orm.sessionmaker, count: int) -> None:  # type: ignore[type-arg]
    chunk = 10_000
    for offset in range(0, count, chunk):
        ids = range(offset + 1, min(offset + chunk, count) + 1)
        with sessions() as session, session.begin():
            session.execute(sa.insert(Publication.__table__), [
                {"contribution_id": i, "published_at": 1_790_000_000 + i, "images": [IMAGE] if i % 5 == 0 else [],
                 "preview": "Explain how an append-only Merkle log proves consistency"} for i in ids])
            session.execute(sa.insert(Engagement.__table__), [
                {"contribution_id": i, "actor": "0x" + f"{i:040x}", "kind": 1, "created_at": 1_790_000_000 + i}
                for i in ids if i % 3 == 0])
    with sessions() as session, session.begin():
        session.execute(sa.text("ANALYZE"))


def timed(client: httpx.Client, path: str, requests: int) -> float:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, temporary_database("tally_bench_feed") as url:
        api = build_api(url, Path(tmp))
        sessions = api.intake.sessions
        started = time.perf_counter()
        fill(sessions, 0, args.count)
        publish_all(sessions, args.count)
        # An index-only scan needs the visibility map set: what autovacuum does on a live server.
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text("VACUUM ANALYZE publications"))
            connection.execute(sa.text("VACUUM ANALYZE engagements"))
            plan = connection.execute(sa.text(
                "EXPLAIN SELECT published_at, contribution_id FROM publications "
                "ORDER BY published_at DESC, contribution_id DESC LIMIT 21")).scalars().all()
        engine.dispose()
        print(f"filled and published {args.count:,} contributions in {time.perf_counter() - started:.1f} s "
              "(not timed)")
        print("the first page's keyset query:", " / ".join(line.strip() for line in plan))

        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(api.services), host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            first = client.get("/v1/feed").json()
            if len(first["items"]) != 20 or not first["next"]:
                print("the feed did not give a full first page: the figures below mean nothing")
            timed(client, "/v1/feed", 20)  # warm the pool and the caches
            healthz = timed(client, "/healthz", args.requests)
            feed = timed(client, "/v1/feed", args.requests)
        server.should_exit = True
        thread.join(timeout=10)
    print(f"GET /healthz: {healthz * 1000:.2f} ms (median of {args.requests})")
    print(f"GET /v1/feed (first page, 20 of {args.count:,} published): {feed * 1000:.2f} ms "
          f"(median of {args.requests}) = {feed / healthz:.1f}x /healthz (target: under 20 ms)")


if __name__ == "__main__":
    main()
