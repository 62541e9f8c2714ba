"""The near-duplicate check against a large index on PostgreSQL: what it adds to one submission.

The ledger gets N contributions (default 1,000,000) with sketches and their 16 band keys each
(16 N rows in near_duplicate_keys). The first ``--real`` of them are real ShareGPT conversations,
signed by ``ledger.near_duplicates``; the rest are written by PostgreSQL itself (generate_series:
random keys and sketches, which is what unrelated conversations give). Then the check runs as
``ledger.intake_postgresql`` runs it for a single submission: in one round trip, the band keys'
advisory locks and the look-up of the contributions sharing a key (the same statements), then
the decision in Python (``match_near_duplicates``), in a transaction rolled back afterwards.
Half the probes are edited copies of the indexed real conversations (candidates found and
compared), half other real conversations.

The baseline, in the same run and on the same connection: BEGIN and one primary-key read of a
contribution in one round trip, rolled back (the least any check inside the transaction costs).
What the check adds to a submission is its time less the baseline's, probe by probe (intake sends
its statements in the round trip that BEGIN and the next ids take anyway), plus the sketch.

    .venv/bin/python bench/near_duplicate_index.py [--count 1000000] [--probes 400] [--real 2000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.conversation import normalise
from ledger.intake_postgresql import CANDIDATES, LOCKS
from ledger.migrate import upgrade
from ledger.near_duplicate_index import match_near_duplicates, near_duplicate_locks
from ledger.near_duplicates import BANDS, SKETCH_BYTES, VERSION, signature
from tally.sharegpt import distinct_conversations
from tests.near_duplicates.edits import EDITS
from tests.support.postgres import temporary_database

FILL = f"""
INSERT INTO contributions (id, content_hash, contributor, nonce, issued_at, terms_hash, signature, cid, size,
    model, message_count, points, score, scorer_version, accepted_at, receipt_signature, encrypted,
    near_duplicate_sketch)
SELECT i, sha256(('c' || i)::bytea), '0x' || substr(md5(i::text), 1, 40), i::text, 0, '\\x00'::bytea,
    '\\x00'::bytea, 'bafkrei', 7500, NULL, 6, 10, '{{}}', 'quality-v1', 0, '\\x00'::bytea, false,
    '\\x{VERSION:02x}'::bytea
    || substr(decode(repeat(md5(i::text), {SKETCH_BYTES // 16 + 1}), 'hex'), 1, {SKETCH_BYTES - 1})
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
"""
KEYS = f"""
INSERT INTO near_duplicate_keys (key, contribution_id)
SELECT ('x' || substr(md5(i::text || '/' || b::text), 1, 16))::bit(64)::bigint, i
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i, generate_series(0, {BANDS - 1}) AS b
"""
REAL = ("UPDATE contributions SET near_duplicate_sketch = %(sketch)s, content_hash = %(hash)s WHERE id = %(id)s")
INSERT_KEY = "INSERT INTO near_duplicate_keys (key, contribution_id) VALUES (%(key)s, %(id)s)"
BASELINE = "SELECT points FROM contributions WHERE id = %(id)s"


def fill(connection: psycopg.Connection, count: int, real: list) -> None:  # type: ignore[type-arg]
    with connection.transaction():
        for first in range(1, count + 1, 250_000):
            last = min(first + 249_999, count)
            connection.execute(FILL, {"first": first, "last": last})
            # The first len(real) get the real conversations' keys below.
            connection.execute(KEYS, {"first": max(first, len(real) + 1), "last": last})
        with connection.cursor() as cursor:
            for n, sig in enumerate(real, start=1):
                cursor.execute(REAL, {"sketch": sig.to_bytes(), "hash": n.to_bytes(32, "big"), "id": n})
                cursor.executemany(INSERT_KEY, [{"key": k, "id": n} for k in sig.band_keys()])
    connection.execute("VACUUM ANALYZE contributions")
    connection.execute("VACUUM ANALYZE near_duplicate_keys")


def one_round_trip(connection: psycopg.Connection, statements: list[tuple[str, dict]]) -> list:  # type: ignore[type-arg]
    """BEGIN and the statements in one pipeline sync; their rows; rolled back after."""
    with connection.pipeline() as pipeline:
        connection.execute("BEGIN")
        cursors = [connection.execute(sql, params) for sql, params in statements]
        pipeline.sync()
        rows = [cursor.fetchall() for cursor in cursors]
    connection.execute("ROLLBACK")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--probes", type=int, default=400)
    parser.add_argument("--real", type=int, default=2000)
    args = parser.parse_args()
    conversations = [normalise(r) for r in distinct_conversations(args.real + args.probes // 2)]
    indexed, others = conversations[:args.real], conversations[args.real:]
    rng = random.Random(2026)
    edits = list(EDITS.values())
    copies = [c for c in (edits[n % len(edits)](indexed[n], rng) for n in range(args.probes)) if c is not None]
    probes = copies[:args.probes // 2] + others
    rng.shuffle(probes)
    with temporary_database("tally_bench_nd") as url:
        upgrade(url)
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as connection:
            started = time.perf_counter()
            fill(connection, args.count, [signature(c) for c in indexed])
            size = connection.execute("SELECT pg_size_pretty(pg_total_relation_size('near_duplicate_keys'))").fetchone()
            print(f"indexed {args.count:,} contributions ({BANDS * args.count:,} band keys, "
                  f"{size[0] if size else '?'}) in {time.perf_counter() - started:.0f} s (not timed)")
            baseline, compute, check, candidates, refused = [], [], [], [], 0
            for n, conversation in enumerate(probes):
                started = time.perf_counter()
                one_round_trip(connection, [(BASELINE, {"id": 1 + n * 7919 % args.count})])
                baseline.append(time.perf_counter() - started)
                started = time.perf_counter()
                sig = signature(conversation)
                keys = tuple(sig.band_keys())
                compute.append(time.perf_counter() - started)
                started = time.perf_counter()
                ordered = sorted(set(near_duplicate_locks([keys])))
                _, rows = one_round_trip(connection, [
                    (LOCKS, {"namespaces": [a for a, _ in ordered], "objids": [b for _, b in ordered]}),
                    (CANDIDATES, {"keys": list(keys)})])
                answer = match_near_duplicates([(sig, keys, bytes(32))], rows)[0]
                check.append(time.perf_counter() - started)
                candidates.append(len({row[1] for row in rows}))
                refused += answer is not None
    med = statistics.median
    p95 = lambda xs: sorted(xs)[int(0.95 * len(xs))]  # noqa: E731
    print(f"{len(probes)} probes ({len(copies[:args.probes // 2])} edited copies of indexed ones, "
          f"{len(others)} others); {refused} refused; candidates per probe: median {med(candidates):.0f}, "
          f"max {max(candidates)}")
    print(f"baseline: BEGIN and a primary-key read in one round trip: {med(baseline) * 1e6:.0f} µs median")
    print(f"the check inside the transaction (locks and look-up of {BANDS} band keys in one round trip, decision): "
          f"{med(check) * 1e6:.0f} µs median (p95 {p95(check) * 1e6:.0f}) = {med(check) / med(baseline):.2f}x the "
          f"baseline (target 1 ms)")
    print(f"the sketch and its band keys, before the transaction: {med(compute) * 1e6:.0f} µs median")
    # In intake the check's statements ride in the round trip that BEGIN and the next ids take
    # anyway (ledger.intake_postgresql): what it adds is the check less the baseline, probe by probe.
    added = [c - b for c, b in zip(check, baseline, strict=True)]
    whole = [a + s for a, s in zip(added, compute, strict=True)]
    print(f"what the check adds to a submission: its statements and decision over the baseline "
          f"{med(added) * 1e6:.0f} µs median (p95 {p95(added) * 1e6:.0f}); with the sketch "
          f"{med(whole) * 1e6:.0f} µs median (p95 {p95(whole) * 1e6:.0f}) (target 1 ms)")


if __name__ == "__main__":
    main()
