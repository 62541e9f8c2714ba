"""Ingest benchmark: real ShareGPT conversations, signed beforehand, submitted over HTTP.

For each database (SQLite, PostgreSQL) it starts a real `tally serve`, then measures in one run:
the rate of GET /healthz (the ceiling of this machine, client included), single submissions,
and submissions through the batch endpoint. It prints contributions per second, p50 and p99
latency and each rate as a share of the ceiling, so the figures mean something on a noisy box.

    .venv/bin/python bench/ingest.py [--count 12000] [--concurrency 32] [--workers 2] [--only postgresql]

With wrk installed (apt-get install wrk) the load comes from wrk, a C client that leaves the CPU
to the server; otherwise from an asyncio httpx client, which itself needs about a core.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_keys import keys

from ledger.conversation import canonical_bytes
from ledger.migrate import upgrade
from tally.client import sign_submission
from tally.sharegpt import distinct_conversations
from tests.support.postgres import temporary_database
from tests.support.server import API_ONLY, tally_server

OPERATOR = "0x" + "42" * 32


def sign_all(config: dict[str, Any], conversations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    now = int(time.time())
    return [
        sign_submission(config, c, keys.PrivateKey(hashlib.sha256(b"bench%d" % (i % 500)).digest()),
                        nonce=i, issued_at=now)
        for i, c in enumerate(conversations)
    ]


async def run_requests(
    count: int, concurrency: int, send: Callable[[int], Awaitable[httpx.Response]], expect: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    cursor = iter(range(count))

    async def worker() -> None:
        for i in cursor:
            started = time.perf_counter()
            response = await send(i)
            latencies.append(time.perf_counter() - started)
            if response.status_code != expect:
                raise RuntimeError(f"request {i}: {response.status_code} {response.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 1 else values[0] * 1000


async def measure(url: str, bodies: list[dict[str, Any]], concurrency: int, batch_size: int) -> dict[str, Any]:
    half = len(bodies) // 2
    singles, batched = bodies[:half], bodies[half:]
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        health_n = max(2000, half)
        health_s, health_lat = await run_requests(health_n, concurrency, lambda i: client.get("/healthz"), 200)
        single_s, single_lat = await run_requests(
            len(singles), concurrency, lambda i: client.post("/v1/contributions", json=singles[i]), 201)
        chunks = [batched[i:i + batch_size] for i in range(0, len(batched), batch_size)]

        async def send_batch(i: int) -> httpx.Response:
            response = await client.post("/v1/contributions:batch", json={"items": chunks[i]})
            if response.status_code == 200 and response.json()["refused"]:
                raise RuntimeError(f"batch {i} refused items: {response.text[:300]}")
            return response

        batch_s, batch_lat = await run_requests(len(chunks), max(1, min(concurrency, 4)), send_batch, 200)
    return {
        "healthz/s": health_n / health_s, "healthz p50 ms": pct(health_lat, 50),
        "single/s": len(singles) / single_s, "single p50 ms": pct(single_lat, 50),
        "single p99 ms": pct(single_lat, 99),
        "batch/s": len(batched) / batch_s, "batch p50 ms": pct(batch_lat, 50), "batch p99 ms": pct(batch_lat, 99),
    }


WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_submit.lua"


def _wrk(args: list[str]) -> tuple[dict[str, Any], dict[str, float]]:
    out = subprocess.run(["wrk", *args], capture_output=True, text=True, check=True).stdout
    stats = json.loads(out.strip().splitlines()[-1]) if out.strip().endswith("}") else {}
    latency = {}
    for line in out.splitlines():
        match = re.match(r"\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)", line)
        if match:
            value = float(match.group(2)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(3)]
            latency[match.group(1)] = value
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    stats["requests/s"] = float(rate.group(1)) if rate else 0.0
    return stats, latency


def measure_wrk(url: str, bodies: list[dict[str, Any]], concurrency: int, batch_size: int,
                seconds: int) -> dict[str, Any]:
    """The same measurement with wrk, a C client that leaves the CPU to the server."""
    half = len(bodies) // 3
    singles, batched = bodies[:half], bodies[half:]
    with tempfile.TemporaryDirectory() as tmp:
        single_file, batch_file = Path(tmp) / "single.jsonl", Path(tmp) / "batch.jsonl"
        single_file.write_text("".join(json.dumps(b) + "\n" for b in singles))
        batch_file.write_text("".join(json.dumps({"items": batched[i:i + batch_size]}) + "\n"
                                      for i in range(0, len(batched), batch_size)))
        health, health_lat = _wrk(["-t2", f"-c{concurrency}", "-d5s", "--latency", url + "/healthz"])
        single, single_lat = _wrk(["-t2", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", str(WRK_SCRIPT),
                                   url, "--", str(single_file), "2", "/v1/contributions"])
        batch, batch_lat = _wrk(["-t2", "-c4", f"-d{max(2, seconds // 2)}s", "--latency", "-s", str(WRK_SCRIPT),
                                 url, "--", str(batch_file), "2", "/v1/contributions:batch"])
    for name, run in (("single", single), ("batch", batch)):
        if run.get("other"):
            raise RuntimeError(f"{name}: {run['other']} submissions refused")
        if run.get("spare"):
            print(f"note: the {name} run used up its conversations; its rate is a lower bound")
    return {
        "healthz/s": health["requests/s"], "healthz p50 ms": health_lat.get("50", 0.0),
        "single/s": single["created"] / single["seconds"], "single p50 ms": single_lat.get("50", 0.0),
        "single p99 ms": single_lat.get("99", 0.0),
        "batch/s": batch["ok"] / batch["seconds"], "batch p50 ms": batch_lat.get("50", 0.0),
        "batch p99 ms": batch_lat.get("99", 0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=12000,
                        help="contributions per database (a third single, the rest batched)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--client", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python",
                        help="load generator: wrk (Debian package, default when installed) or Python httpx")
    parser.add_argument("--seconds", type=int, default=8, help="duration of each wrk run")
    args = parser.parse_args()

    conversations = distinct_conversations(args.count)
    sizes = sorted(len(canonical_bytes(c)) for c in conversations)
    print(f"{len(conversations)} distinct real ShareGPT conversations, median {sizes[len(sizes) // 2]} bytes; "
          f"{args.workers} server workers, {args.concurrency} client connections, client: {args.client}")
    rows: list[tuple[str, dict[str, Any]]] = []
    for backend in ("sqlite", "postgresql"):
        if args.only and backend != args.only:
            continue
        with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
            home = Path(tmp) / "home"
            # wrk is one client sending for many contributors: the per-client and per-contributor
            # limits (ledger.quotas) would throttle it, so they are off for the throughput figure.
            env = {"TALLY_OPERATOR_KEY": OPERATOR, **API_ONLY, "TALLY_LIMIT_CLIENT_REQUESTS_PER_MINUTE": "0",
                   "TALLY_LIMIT_CONTRIBUTOR_REQUESTS_PER_MINUTE": "0", "TALLY_LIMIT_CONTRIBUTIONS_PER_HOUR": "0",
                   "TALLY_LIMIT_POINTS_PER_DAY": "0"}
            if backend == "postgresql":
                url = stack.enter_context(temporary_database("tally_bench"))
                env["TALLY_DATABASE_URL"] = url
                upgrade(url)
            with tally_server(home, workers=args.workers, env=env) as base:
                config = httpx.get(base + "/v1/config").json()
                bodies = sign_all(config, conversations)
                if args.client == "wrk":
                    rows.append((backend, measure_wrk(base, bodies, args.concurrency, args.batch_size, args.seconds)))
                else:
                    rows.append((backend, asyncio.run(measure(base, bodies, args.concurrency, args.batch_size))))
    keys_ = list(rows[0][1])
    print(f"{'':26}" + "".join(f"{b:>14}" for b, _ in rows))
    for key in keys_:
        print(f"{key:26}" + "".join(f"{r[key]:14.1f}" for _, r in rows))
    for backend, r in rows:
        print(f"{backend}: single = {r['single/s'] / r['healthz/s']:.2f} of the /healthz ceiling, "
              f"batch = {r['batch/s'] / r['healthz/s']:.2f} of it, batch/single = {r['batch/s'] / r['single/s']:.1f}x")


if __name__ == "__main__":
    main()
