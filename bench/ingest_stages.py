"""Where intake's CPU goes, stage by stage, in-process: real ShareGPT conversations, signed
beforehand, through each step of ``Intake.submit`` on its own, then whole submissions into a real
ledger (SQLite, and PostgreSQL where it runs), single and in batches of ``--batch-size``.

Every figure is CPU time (``time.process_time_ns``) per conversation, printed with its ratio to
``json.loads`` of the same bodies measured in the same run, so two runs on a busy machine still
compare. The stages are the functions intake calls, in its order: the body's parse, the consent's
fields, normalisation, the RFC 8785 bytes, the SHA-256, the near-duplicate signature and its band
keys, the score, the signature's recovery, the personal-data check and the receipt's signature;
then the whole ``submit`` / ``submit_batch`` (checks and database) and the database's share
(what is left after the checks); and what the server pays around them, a hop to a thread and back.
On PostgreSQL, in alternating blocks, with the database backends' CPU: a single submission with
its client address counted in a round trip of its own and in the submission's first; and whole
submissions, single and batched, with quality-v2's features compiled and counted by the Python
reference.

    .venv/bin/python bench/ingest_stages.py [--count 600] [--batch-size 100] [--no-postgres] [--client-count 1000]
        [--scorer-count 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_keys import keys

from ledger.consent import ReceiptFields
from ledger.conversation import Conversation, canonical_bytes, normalise
from ledger.intake import Intake, Prepared
from ledger.migrate import upgrade
from ledger.near_duplicates import signature
from ledger.personal_data import findings_in
from ledger.scoring import score
from ledger.scoring.v2 import TOKENIZER
from tally.client import sign_submission
from tally.sharegpt import distinct_conversations

OPERATOR = "0x" + "42" * 32
CONTRACT = "0x" + "11" * 20
NEVER = 1_000_000


def cpu_ns_each(function: Callable[[Any], object], inputs: Sequence[Any], repeat: int = 3) -> float:
    """The least, over ``repeat`` passes, of the CPU nanoseconds per input of ``function``."""
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time_ns()
        for value in inputs:
            function(value)
        best = min(best, (time.process_time_ns() - started) / len(inputs))
    return best


@contextlib.contextmanager
def ledger_intake(url: str, home: Path) -> Iterator[tuple[Intake, dict[str, Any]]]:
    """An intake with the shipped checks on (limits high enough never to refuse), on ``url``."""
    from tally.settings import Settings
    from tally.wiring import build_intake, chain_info, open_ledger

    upgrade(url)
    settings = Settings(home=home, database_url=url, operator_key=OPERATOR, chain_id=31337, contract_address=CONTRACT,
                        limit_client_requests_per_minute=NEVER, limit_contributor_requests_per_minute=NEVER,
                        limit_contributions_per_hour=NEVER, limit_points_per_day=NEVER * 1000)
    ledger = open_ledger(settings)
    try:
        intake = build_intake(settings, ledger, chain_info(settings))
        config = {"eip712": {"domain": {"chainId": 31337, "verifyingContract": CONTRACT}},
                  "termsHash": "0x" + intake.consent.terms.hash.hex()}
        yield intake, config
    finally:
        ledger.engine.dispose()


def signed_bodies(config: dict[str, Any], conversations: Sequence[dict[str, Any]], now: int,
                  first: int = 0) -> list[bytes]:
    """The conversations signed by 500 contributors, the ``first + i``-th with nonce ``first + i``."""
    return [json.dumps(sign_submission(config, c, keys.PrivateKey(hashlib.sha256(b"stages%d" % (i % 500)).digest()),
                                       nonce=i, issued_at=now)).encode()
            for i, c in enumerate(conversations, start=first)]


def stages(intake: Intake, raw: Sequence[bytes], now: int) -> dict[str, float]:
    """CPU ns per conversation of each check, on its own."""
    bodies = [json.loads(b) for b in raw]
    signed = [intake.consent.parse(b, now) for b in bodies]
    conversations = [normalise(s.conversation) for s in signed]
    canonical = [canonical_bytes(c) for c in conversations]
    prepared = [Prepared.of(c) for c in conversations]
    signatures = [signature(c) for c in conversations]
    pairs = list(zip(signed, prepared, strict=True))
    receipts = [ReceiptFields(p.content_hash, s.contributor, p.score.points, now) for s, p in pairs]
    return {
        "json.loads (baseline)": cpu_ns_each(json.loads, raw),
        "consent fields": cpu_ns_each(lambda b: intake.consent.parse(b, now), bodies),
        "normalise": cpu_ns_each(normalise, [s.conversation for s in signed]),
        "RFC 8785 bytes": cpu_ns_each(canonical_bytes, conversations),
        "SHA-256": cpu_ns_each(lambda d: hashlib.sha256(d).digest(), canonical),
        "near-duplicate signature": cpu_ns_each(signature, conversations),
        "band keys": cpu_ns_each(lambda s: s.band_keys(), signatures),
        "score": cpu_ns_each(score, conversations),
        "Prepared.of (bytes, hash, signature, keys, score)": cpu_ns_each(Prepared.of, conversations),
        "signature recovery": cpu_ns_each(lambda sp: intake.consent.verify_signer(sp[0], sp[1].content_hash), pairs),
        "personal data": cpu_ns_each(findings_in, conversations),
        "receipt signature": cpu_ns_each(intake.signer.sign, receipts),
        "Intake.check (every check above)": cpu_ns_each(lambda b: intake.check(json.loads(b), now), raw),
    }


def tokenizer_paths(conversations: Sequence[Conversation]) -> dict[str, float]:
    """The quality-v2 tokenizer's ASCII path against its general one on the same ASCII messages
    (the same tokens, checked here), per conversation."""
    ascii_messages = [m.content for c in conversations for m in c.messages if m.content.isascii()]
    for text in ascii_messages:
        if TOKENIZER.tokenize(text) != TOKENIZER.tokenize_general(text):
            raise AssertionError(f"the ASCII path differs on {text[:80]!r}")
    share = len(ascii_messages) / sum(len(c.messages) for c in conversations)
    scale = len(ascii_messages) / len(conversations)
    return {f"tokenize, general classes ({share:.0%} of messages are ASCII)":
            scale * cpu_ns_each(TOKENIZER.tokenize_general, ascii_messages),
            "tokenize, ASCII path, same messages": scale * cpu_ns_each(TOKENIZER.tokenize, ascii_messages)}


def whole(intake: Intake, raw: Sequence[bytes], batch_size: int) -> dict[str, float]:
    """CPU ns per conversation of whole submissions (parse, checks, database), single then batched;
    the database's share is the whole less ``Intake.check``'s cost on the same bodies."""
    half = len(raw) // 2
    singles, batched = raw[:half], raw[half:]
    for body in singles[:10]:  # the pool, the prepared statements, the caches
        intake.submit(json.loads(body), "bench")
    singles = singles[10:]
    now = int(intake.clock())
    started = time.process_time_ns()
    for body in singles:
        intake.submit_request(lambda: json.loads(body), "bench")  # noqa: B023 (called at once)
    single = (time.process_time_ns() - started) / len(singles)
    chunks = [batched[i:i + batch_size] for i in range(0, len(batched) - batch_size + 1, batch_size)]
    started = time.process_time_ns()
    for chunk in chunks:
        intake.count_client_request("bench")
        intake.submit_batch([json.loads(body) for body in chunk], "bench")
    batch = (time.process_time_ns() - started) / sum(map(len, chunks))
    checks = cpu_ns_each(lambda b: intake.check(json.loads(b), now), singles, repeat=1)
    return {"submit (single)": single, "  of it outside Intake.check": single - checks,
            f"submit_batch (per item of {batch_size})": batch, "  of it outside Intake.check ": batch - checks}


Way = Callable[[Sequence[bytes]], object]
"""One way of submitting a block of bodies (each on its own, or as one batch)."""


def alternating(ways: dict[str, Way], raw: Sequence[bytes], url: str, block: int) -> dict[str, float]:
    """CPU ns per body of each way on PostgreSQL, this process's and its database backends' (from
    /proc), the ways taking blocks of ``block`` bodies in turn so that they see the same machine;
    then each way's share of this process alone."""
    import sqlalchemy as sa
    from ingest import cpu_seconds

    probe = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with probe.connect() as connection:
        database = connection.execute(sa.text("SELECT current_database()")).scalar_one()

    def backends_cpu() -> float:
        with probe.connect() as connection:
            pids = connection.execute(sa.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": database})
            return sum(cpu_seconds(pid) for (pid,) in pids)

    spent = {name: [0.0, 0.0] for name in ways}
    rounds = len(raw) // (len(ways) * block)
    for r in range(rounds):
        order = list(ways.items()) if r % 2 == 0 else list(reversed(ways.items()))
        for k, (name, way) in enumerate(order):
            start = (r * len(ways) + k) * block
            database_before = backends_cpu()
            started = time.process_time_ns()
            way(raw[start:start + block])
            spent[name][0] += time.process_time_ns() - started
            spent[name][1] += 1e9 * (backends_cpu() - database_before)
    probe.dispose()
    each = rounds * block
    return {**{name: (process + backends) / each for name, (process, backends) in spent.items()},
            **{f"  {name}, this process only": process / each for name, (process, _) in spent.items()}}


def client_count(intake: Intake, raw: Sequence[bytes], url: str) -> dict[str, float]:
    """A single submission with the client address counted in a round trip of its own first
    (``count_client_request``, then ``submit``: the way before) and in the submission's first
    round trip (``submit_request``), in alternating blocks of 25."""
    return alternating({
        "count, then submit (3 round trips)": lambda bodies: [
            (intake.count_client_request("bench"), intake.submit(json.loads(body), "bench")) for body in bodies],
        "submit_request (2 round trips)": lambda bodies: [
            intake.submit_request(lambda: json.loads(body), "bench") for body in bodies],  # noqa: B023 (called at once)
    }, raw, url, 25)


@contextlib.contextmanager
def features_in_python() -> Iterator[None]:
    """quality-v2's features counted by the Python reference, not the compiled counter."""
    from ledger import scoring
    from ledger.scoring import v2

    compiled = v2.features
    scoring._COUNT[v2.VERSION] = v2.features = v2.features_in_python  # v3 calls v2.features too
    try:
        yield
    finally:
        scoring._COUNT[v2.VERSION] = v2.features = compiled


def scorer_ways(intake: Intake, raw: Sequence[bytes], url: str, batch_size: int) -> dict[str, float]:
    """Whole submissions, single (blocks of 25) and batched (a batch a block), with quality-v2's
    features compiled (ledger/scoring/_features.c) and counted by the Python reference."""

    def single(bodies: Sequence[bytes]) -> None:
        for body in bodies:
            intake.submit_request(lambda: json.loads(body), "bench")  # noqa: B023 (called at once)

    def batch(bodies: Sequence[bytes]) -> None:
        intake.count_client_request("bench")
        intake.submit_batch([json.loads(body) for body in bodies], "bench")

    def reference(way: Way) -> Way:
        def in_python(bodies: Sequence[bytes]) -> None:
            with features_in_python():
                way(bodies)
        return in_python

    half = len(raw) // 2
    return {
        **alternating({"single, features compiled": single, "single, features in Python": reference(single)},
                      raw[:half], url, 25),
        **alternating({f"batched item (of {batch_size}), features compiled": batch,
                       f"batched item (of {batch_size}), features in Python": reference(batch)},
                      raw[half:], url, batch_size),
    }


def thread_hop(hops: int = 5000) -> dict[str, float]:
    """CPU ns of a request's hop to an intake thread and back, as the server makes it (AnyIO's
    ``to_thread.run_sync`` on uvloop, with a limiter): a submission makes one (its count, the
    body's parsing and ``Intake.submit_request`` together)."""
    import anyio
    import anyio.to_thread

    async def hop_many() -> float:
        threads = anyio.CapacityLimiter(4)
        for _ in range(100):
            await anyio.to_thread.run_sync(int, limiter=threads)
        started = time.process_time_ns()
        for _ in range(hops):
            await anyio.to_thread.run_sync(int, limiter=threads)
        return (time.process_time_ns() - started) / hops

    return {"a hop to a thread and back (anyio, uvloop)": anyio.run(hop_many, backend_options={"use_uvloop": True})}


def show(title: str, figures: dict[str, float], baseline: float) -> None:
    print(title)
    for name, ns in figures.items():
        print(f"  {name:52} {ns / 1e6:8.3f} ms {ns / baseline:7.2f}x json.loads")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=600, help="distinct conversations for each database")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--client-count", type=int, default=1000,
                        help="PostgreSQL: more conversations, for the client's count one way and the other")
    parser.add_argument("--scorer-count", type=int, default=2000,
                        help="PostgreSQL: more conversations, for whole submissions with the features compiled and not")
    args = parser.parse_args()
    # ``whole`` submits half the conversations singly (after 10 that warm up) and batches the
    # other half; ``client_count`` compares the two ways in pairs of blocks of 25.
    if args.batch_size < 1 or args.count < max(2 * args.batch_size, 2 * 11):
        parser.error(f"--count must be at least twice --batch-size and at least 22 (got {args.count}"
                     f" and {args.batch_size})")
    if not args.no_postgres and args.client_count < 50:
        parser.error(f"--client-count must be at least 50, two blocks of 25 (got {args.client_count})")
    if not args.no_postgres and args.scorer_count < 4 * args.batch_size:
        parser.error(f"--scorer-count must be at least four times --batch-size (got {args.scorer_count})")

    every = distinct_conversations(args.count + (0 if args.no_postgres else args.client_count + args.scorer_count))
    conversations, more = every[:args.count], every[args.count:]
    now = int(time.time())
    with tempfile.TemporaryDirectory() as tmp:
        with ledger_intake(f"sqlite:///{tmp}/stages.db", Path(tmp) / "home") as (intake, config):
            raw = signed_bodies(config, conversations, now)
            size = sorted(map(len, raw))[len(raw) // 2]
            print(f"{len(raw)} real ShareGPT conversations, median body {size} bytes; CPU per conversation")
            figures = stages(intake, raw, now)
            baseline = figures["json.loads (baseline)"]
            show("checks, each on its own:", figures, baseline)
            show("quality-v2 tokens:", tokenizer_paths([normalise(c) for c in conversations]), baseline)
            show("serving:", thread_hop(), baseline)
            show("SQLite:", whole(intake, raw, args.batch_size), baseline)
        if not args.no_postgres:
            from tests.support.postgres import temporary_database

            with temporary_database("tally_stages") as url, ledger_intake(url, Path(tmp) / "pg") as (intake, config):
                show("PostgreSQL (this process only; the backend's CPU is bench/ingest.py's):",
                     whole(intake, signed_bodies(config, conversations, now), args.batch_size), baseline)
                counted, scored = more[:args.client_count], more[args.client_count:]
                show("PostgreSQL, a single submission with the client's count (this process and the database):",
                     client_count(intake, signed_bodies(config, counted, now, len(conversations)), url), baseline)
                show("PostgreSQL, the features compiled and in Python (this process and the database):",
                     scorer_ways(intake, signed_bodies(config, scored, now, len(conversations) + len(counted)), url,
                                 args.batch_size), baseline)


if __name__ == "__main__":
    main()
