"""The near-duplicate check against a large index on PostgreSQL: what it adds to one submission.

The ledger gets N contributions (default 1,000,000) with signatures, and their 16 LSH bands each
(16 N rows in near_duplicate_keys), written by PostgreSQL itself (generate_series: the index's
contents are random band keys, which is what real signatures give). Then, for real ShareGPT
conversations, the check runs as intake runs it: the signature is computed, and inside a
transaction the band keys are locked and looked up (``near_duplicate_refusals``), then rolled
back. The baseline, in the same run: one primary-key look-up of a contribution (the least any
check costs).

    .venv/bin/python bench/near_duplicate_index.py [--count 1000000] [--probes 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.conversation import normalise
from ledger.db import make_engine, make_sessionmaker, serialise_each
from ledger.migrate import upgrade
from ledger.models import Contribution
from ledger.near_duplicate_index import near_duplicate_locks, near_duplicate_refusals
from ledger.near_duplicates import signature
from tally.sharegpt import distinct_conversations
from tests.support.postgres import temporary_database

FILL = """
INSERT INTO contributions (id, content_hash, contributor, nonce, issued_at, terms_hash, signature, cid, size,
    model, message_count, points, score, scorer_version, accepted_at, receipt_signature, encrypted,
    near_duplicate_sketch)
SELECT i, sha256(('c' || i)::bytea), '0x' || substr(md5(i::text), 1, 40), i::text, 0, '\\x00'::bytea,
    '\\x00'::bytea, 'bafkrei', 7500, NULL, 6, 10, '{}', 'quality-v1', 0, '\\x00'::bytea, false,
    decode(repeat(md5(i::text), 16), 'hex')
FROM generate_series(:first, :last) AS i
"""
BANDS = """
INSERT INTO near_duplicate_keys (key, contribution_id)
SELECT ('x' || substr(md5(i::text || '/' || b::text), 1, 16))::bit(64)::bigint, i
FROM generate_series(:first, :last) AS i, generate_series(0, 15) AS b
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--probes", type=int, default=300)
    args = parser.parse_args()
    with temporary_database("tally_bench_nd") as url:
        upgrade(url)
        engine = make_engine(url)
        started = time.perf_counter()
        with engine.begin() as connection:
            for first in range(1, args.count + 1, 250_000):
                last = min(first + 249_999, args.count)
                connection.execute(sa.text(FILL), {"first": first, "last": last})
                connection.execute(sa.text(BANDS), {"first": first, "last": last})
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
        print(f"indexed {args.count:,} contributions ({16 * args.count:,} band rows) in "
              f"{time.perf_counter() - started:.0f} s (not timed)")
        sessions = make_sessionmaker(engine)
        probes = [normalise(r) for r in distinct_conversations(args.probes)]
        baseline, compute, lookup = [], [], []
        for n, conversation in enumerate(probes):
            with sessions() as session:
                started = time.perf_counter()
                session.scalar(sa.select(Contribution.points).where(Contribution.id == 1 + n * 7919 % args.count))
                baseline.append(time.perf_counter() - started)
                session.rollback()
            started = time.perf_counter()
            sig = signature(conversation)
            item = (sig, tuple(sig.band_keys()), bytes(32))
            compute.append(time.perf_counter() - started)
            with sessions() as session, session.begin():
                started = time.perf_counter()
                serialise_each(session, near_duplicate_locks([item[1]]))
                near_duplicate_refusals(session, [item])
                lookup.append(time.perf_counter() - started)
                session.rollback()
        engine.dispose()
    med = statistics.median
    total = [c + lk for c, lk in zip(compute, lookup, strict=True)]
    print(f"baseline: a primary-key look-up: {med(baseline) * 1e6:.0f} µs (median of {len(baseline)})")
    print(f"signature: {med(compute) * 1e6:.0f} µs; lock and look-up of 16 band keys in {16 * args.count:,} rows: "
          f"{med(lookup) * 1e6:.0f} µs (p95 {sorted(lookup)[int(0.95 * len(lookup))] * 1e6:.0f}) = "
          f"{med(lookup) / med(baseline):.1f}x the baseline")
    print(f"the check in all: {med(total) * 1e6:.0f} µs per submission (target 1 ms)")


if __name__ == "__main__":
    main()
