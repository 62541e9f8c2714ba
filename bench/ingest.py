"""Ingest benchmark: real ShareGPT conversations, signed beforehand, submitted over HTTP to a real
`tally serve` on PostgreSQL, with intake's checks on and, in the same run, off.

"On" is the shipped default: the near-duplicate check, the personal-data check and the limits
per contributor and per client (set high enough never to refuse the benchmark's one client, so
that their database work is done and measured). "Off" is TALLY_NEAR_DUPLICATES=accept,
TALLY_PII=accept and every limit 0. Each configuration gets a fresh database and server, and:

- baselines: GET /healthz (no database) and GET /readyz (one database round trip);
- single submissions, then batches of --batch-size, each for --seconds (at least 20) with wrk;
- the server's CPU per accepted submission: user + system time of the server's processes (the
  supervisor and its workers, from /proc) plus that of the database's backends serving it
  (pg_stat_activity's pids for the database, from /proc), over the phase, divided by the
  contributions the database gained in it, counted once every request sent has been answered
  (so nothing in flight is dropped from either side of the ratio);
- new PostgreSQL sessions opened during the phase (pg_stat_database.sessions): 0 means no churn;
- in-process, through a TCP proxy between intake and PostgreSQL that counts the times the
  client speaks after the server did: the database round trips per single submission (the
  per-client count included) and per batch.

    .venv/bin/python bench/ingest.py [--count 16000] [--seconds 20] [--concurrency 32] [--workers 2] [--each-check]

--each-check also runs each check alone beside none (near-duplicates, personal data, the limits),
each in a fresh database and server of its own: what each adds to a submission's CPU.

wrk (Debian package `wrk`) is a C client that leaves the CPU to the server; without it the load
comes from an asyncio httpx client, which itself needs about a core (the CPU per submission,
from process accounting, still holds; the rates do not).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_keys import keys

from ledger.conversation import canonical_bytes
from ledger.migrate import upgrade
from tally.client import sign_submission
from tally.sharegpt import distinct_conversations
from tests.support.postgres import temporary_database
from tests.support.round_trips import TurnCounter, proxied_url, upstream_of
from tests.support.server import API_ONLY, tally_server

OPERATOR = "0x" + "42" * 32
TICK = os.sysconf("SC_CLK_TCK")
NEVER = "1000000"
CHECKS_ON = {"TALLY_LIMIT_CLIENT_REQUESTS_PER_MINUTE": NEVER, "TALLY_LIMIT_CONTRIBUTOR_REQUESTS_PER_MINUTE": NEVER,
             "TALLY_LIMIT_CONTRIBUTIONS_PER_HOUR": NEVER, "TALLY_LIMIT_POINTS_PER_DAY": "1000000000"}
CHECKS_OFF = {"TALLY_NEAR_DUPLICATES": "accept", "TALLY_PII": "accept", "TALLY_LIMIT_CLIENT_REQUESTS_PER_MINUTE": "0",
              "TALLY_LIMIT_CONTRIBUTOR_REQUESTS_PER_MINUTE": "0", "TALLY_LIMIT_CONTRIBUTIONS_PER_HOUR": "0",
              "TALLY_LIMIT_POINTS_PER_DAY": "0"}
CONFIGURATIONS = {"checks on": CHECKS_ON, "checks off": CHECKS_OFF}
ONE_CHECK = {
    "near-duplicates only": {**CHECKS_OFF, "TALLY_NEAR_DUPLICATES": "refuse"},
    "personal data only": {**CHECKS_OFF, "TALLY_PII": "refuse"},
    "limits only": {**CHECKS_OFF, **CHECKS_ON},
}
"""With --each-check: each check alone, beside none (what each adds to the CPU a submission)."""
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_submit.lua"


def sign_all(config: dict[str, Any], conversations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    now = int(time.time())
    return [
        sign_submission(config, c, keys.PrivateKey(hashlib.sha256(b"bench%d" % (i % 500)).digest()),
                        nonce=i, issued_at=now)
        for i, c in enumerate(conversations)
    ]


# --- process accounting -------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process (proc(5)); 0 for one that is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def session_members(sid: int) -> list[int]:
    """The processes of the session ``sid`` (a `tally serve` started in a session of its own)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3]) == sid:
                    members.append(int(entry.name))
    return members


def server_session(port: int) -> int:
    """The session id of the `tally serve` listening on ``port``."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if b"serve" in argv and str(port).encode() in argv:
                    return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3])
    raise RuntimeError(f"no tally serve on port {port}")


class Accounting:
    """CPU of the server's processes and of its database backends, and the database's counters."""

    def __init__(self, port: int, db_url: str) -> None:
        self.sid = server_session(port)
        self.engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
        self.database = sa.engine.make_url(db_url).database

    def _backends(self, connection: sa.Connection) -> list[int]:
        return [int(pid) for (pid,) in connection.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": self.database})]

    def reading(self) -> dict[str, Any]:
        with self.engine.connect() as connection:
            backends = self._backends(connection)
            contributions = connection.execute(sa.text("SELECT count(*) FROM contributions")).scalar_one()
            sessions = connection.execute(sa.text(
                "SELECT sessions FROM pg_stat_database WHERE datname = :d"), {"d": self.database}).scalar_one()
        return {"server": {pid: cpu_seconds(pid) for pid in session_members(self.sid)},
                "database": {pid: cpu_seconds(pid) for pid in backends},
                "contributions": int(contributions), "sessions": int(sessions)}

    def settled(self) -> dict[str, Any]:
        """A reading once the server is idle (its processes used under 2% of a core in the last
        second and the contributions stopped growing): every request sent has been answered."""
        last = self.reading()
        while True:
            time.sleep(1.0)
            now = self.reading()
            if now["contributions"] == last["contributions"] and spent(last["server"], now["server"]) < 0.02:
                return now
            last = now


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


# --- load -------------------------------------------------------------------------------------

def wrk(args: list[str]) -> tuple[dict[str, Any], dict[str, float]]:
    out = subprocess.run(["wrk", *args], capture_output=True, text=True, check=True).stdout
    stats = json.loads(out.strip().splitlines()[-1]) if out.strip().endswith("}") else {}
    latency = {}
    for line in out.splitlines():
        match = re.match(r"\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)", line)
        if match:
            latency[match.group(1)] = float(match.group(2)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(3)]
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    stats["requests/s"] = float(rate.group(1)) if rate else 0.0
    requests = re.search(r"(\d+) requests in", out)
    stats["requests"] = int(requests.group(1)) if requests else 0
    return stats, latency


async def python_load(url: str, method: str, path: str, bodies: list[Any], concurrency: int,
                      seconds: float) -> tuple[int, list[float]]:
    latencies: list[float] = []
    failures: list[str] = []
    cursor = iter(bodies)
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=120,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        async def worker() -> None:
            for body in cursor:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                try:
                    await client.request(method, path, json=body)
                except httpx.TransportError as error:
                    # A keep-alive connection the server closed as it was reused: counted and
                    # printed, never retried (a retried submission would be a duplicate).
                    failures.append(type(error).__name__)
                    continue
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    if failures:
        print(f"  note: {path}: {len(failures)} requests failed in transport ({', '.join(sorted(set(failures)))})")
    return len(latencies), latencies


def load(url: str, path: str, lines: list[str], *, concurrency: int, seconds: int, client: str,
         tmp: Path) -> dict[str, float]:
    """Send ``lines`` (JSON bodies; GET when None) for ``seconds``: requests, rate, p50, p99."""
    if client == "wrk":
        if lines:
            bodies = tmp / "bodies.jsonl"
            bodies.write_text("".join(line + "\n" for line in lines))
            stats, latency = wrk(["-t2", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "120s", "--latency",
                                  "-s", str(WRK_SCRIPT), url, "--", str(bodies), "2", path])
            if stats.get("other"):
                raise RuntimeError(f"{path}: {stats['other']} requests refused")
            if stats.get("spare"):
                print(f"  note: {path} used up its conversations ({stats['spare']} GET /healthz after them, their"
                      " CPU taken out at the run's /healthz cost); its rate is a lower bound")
        else:
            stats, latency = wrk(["-t2", f"-c{concurrency}", f"-d{seconds}s", "--latency", url + path])
        return {"requests": stats["requests"], "rate": stats["requests/s"], "spare": stats.get("spare", 0),
                "p50": latency.get("50", 0.0), "p99": latency.get("99", 0.0)}
    method = "POST" if lines else "GET"
    bodies = [json.loads(line) for line in lines] if lines else [None] * 10**6
    started = time.perf_counter()
    count, latencies = asyncio.run(python_load(url, method, path, bodies, concurrency, seconds))
    quantiles = statistics.quantiles(latencies, n=100)
    return {"requests": count, "rate": count / (time.perf_counter() - started),
            "p50": quantiles[49] * 1000, "p99": quantiles[98] * 1000}


def measure(url: str, accounting: Accounting, path: str, lines: list[str], *, concurrency: int,
            seconds: int, client: str, tmp: Path, spare_ms: float) -> dict[str, float]:
    """One submission phase: the load's figures, the contributions accepted, the server's and
    the database's CPU per accepted contribution (ms), and the new database sessions. A wrk
    thread that has sent all its bodies sends GET /healthz until the phase ends: their CPU, at
    ``spare_ms`` each (the run's /healthz figure), is not the submissions'."""
    before = accounting.settled()
    started = time.perf_counter()
    result = load(url, path, lines, concurrency=concurrency, seconds=seconds, client=client, tmp=tmp)
    after = accounting.settled()
    accepted = after["contributions"] - before["contributions"]
    result["rate"] = accepted / (time.perf_counter() - started)  # contributions a second, answered or not
    server = spent(before["server"], after["server"]) - result.pop("spare", 0) * spare_ms / 1000
    database = spent(before["database"], after["database"])
    if not accepted:
        raise RuntimeError(f"{path}: nothing accepted in {seconds} s ({result})")
    return {**result, "accepted": accepted, "server ms": 1000 * server / accepted,
            "database ms": 1000 * database / accepted, "cpu ms": 1000 * (server + database) / accepted,
            "new sessions": after["sessions"] - before["sessions"]}


def measure_get(url: str, accounting: Accounting, path: str, *, concurrency: int, client: str,
                tmp: Path) -> dict[str, float]:
    """A baseline phase (GET, 5 s): its rate, and the server's and database's CPU per request
    answered, the floor under any submission's (the HTTP server, the app's middleware, and for
    /readyz one database round trip)."""
    before = accounting.settled()
    result = load(url, path, [], concurrency=concurrency, seconds=5, client=client, tmp=tmp)
    after = accounting.settled()
    server = spent(before["server"], after["server"])
    database = spent(before["database"], after["database"])
    return {**result, "cpu ms per request": 1000 * (server + database) / max(1, result["requests"])}


# --- round trips --------------------------------------------------------------------------------

def round_trips(db_url: str, conversations: list[dict[str, Any]], batch_size: int, home: Path) -> dict[str, float]:
    """Database round trips of intake with the checks on, in-process, over the counting proxy."""
    from tally.settings import Settings
    from tally.wiring import build_intake, chain_info, open_ledger

    proxy = TurnCounter(upstream_of(db_url))
    settings = Settings(home=home, database_url=proxied_url(db_url, proxy), operator_key=OPERATOR,
                        chain_id=31337, contract_address=API_ONLY["TALLY_CONTRACT_ADDRESS"],
                        **{name.removeprefix("TALLY_").lower(): int(value) for name, value in CHECKS_ON.items()})
    ledger = open_ledger(settings)
    intake = build_intake(settings, ledger, chain_info(settings))
    terms = intake.consent.terms.hash
    config = {"eip712": {"domain": {"chainId": 31337, "verifyingContract": settings.contract_address}},
              "termsHash": "0x" + terms.hex()}
    bodies = sign_all(config, conversations)
    singles, batched = bodies[:200], bodies[200:200 + 10 * batch_size]
    for body in singles[:20]:  # warm the pool and the prepared statements
        intake.count_client_request("bench")
        intake.submit(body, "bench")
    start = proxy.turns
    for body in singles[20:]:
        intake.count_client_request("bench")
        intake.submit(body, "bench")
    per_single = (proxy.turns - start) / len(singles[20:])
    start = proxy.turns
    chunks = [batched[i:i + batch_size] for i in range(0, len(batched), batch_size)]
    for chunk in chunks:
        intake.count_client_request("bench")
        intake.submit_batch(chunk, "bench")
    per_batch = (proxy.turns - start) / len(chunks)
    ledger.engine.dispose()
    return {"single": per_single, "batch": per_batch}


# --- the run --------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=16000, help="distinct conversations (each phase draws on them)")
    parser.add_argument("--seconds", type=int, default=20, help="duration of each submission phase (at least 20)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--client", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--each-check", action="store_true",
                        help="also run each check alone (near-duplicates, personal data, limits)")
    args = parser.parse_args()

    conversations = distinct_conversations(args.count)
    sizes = sorted(len(canonical_bytes(c)) for c in conversations)
    print(f"{len(conversations)} distinct real ShareGPT conversations, median {sizes[len(sizes) // 2]} bytes; "
          f"PostgreSQL, {args.workers} server workers, {args.concurrency} connections, {args.seconds} s a phase, "
          f"client: {args.client}")
    third = len(conversations) // 3
    results: dict[str, dict[str, dict[str, float]]] = {}
    configurations = {**CONFIGURATIONS, **(ONE_CHECK if args.each_check else {})}
    for name, checks in configurations.items():
        with tempfile.TemporaryDirectory() as tmp, temporary_database("tally_bench") as db_url:
            upgrade(db_url)
            env = {"TALLY_OPERATOR_KEY": OPERATOR, **API_ONLY, "TALLY_DATABASE_URL": db_url, **checks}
            home = Path(tmp) / "home"
            with tally_server(home, workers=args.workers, env=env) as base:
                port = int(base.rsplit(":", 1)[1])
                accounting = Accounting(port, db_url)
                bodies = [json.dumps(b) for b in sign_all(httpx.get(base + "/v1/config").json(), conversations)]
                batches = [json.dumps({"items": [json.loads(b) for b in bodies[i:i + args.batch_size]]})
                           for i in range(third, len(bodies), args.batch_size)]
                common = {"concurrency": args.concurrency, "client": args.client, "tmp": Path(tmp)}
                phase = {"healthz": measure_get(base, accounting, "/healthz", **common),
                         "readyz": measure_get(base, accounting, "/readyz", **common)}
                spare_ms = phase["healthz"]["cpu ms per request"]
                phase["single"] = measure(base, accounting, "/v1/contributions", bodies[:third],
                                          seconds=args.seconds, spare_ms=spare_ms, **common)
                phase["batch"] = measure(base, accounting, "/v1/contributions:batch", batches, seconds=args.seconds,
                                         spare_ms=spare_ms, **{**common, "concurrency": 4})
                accounting.engine.dispose()
            results[name] = phase
            print(f"{name}: " + "; ".join(
                f"{k} {v['rate']:.0f}/s" + (f", {v['accepted']} accepted, {v['cpu ms']:.2f} ms CPU each "
                                             f"({v['server ms']:.2f} server + {v['database ms']:.2f} database), "
                                             f"{v['new sessions']} new sessions" if "accepted" in v else "")
                for k, v in phase.items()))
    with tempfile.TemporaryDirectory() as tmp, temporary_database("tally_bench") as db_url:
        upgrade(db_url)
        trips = round_trips(db_url, conversations[:200 + 10 * args.batch_size], args.batch_size, Path(tmp) / "home")

    on, off = results["checks on"], results["checks off"]
    print()
    print(f"{'':34}{'checks on':>14}{'checks off':>14}")
    rows = [("GET /healthz /s", "healthz", "rate"), ("GET /healthz CPU ms each", "healthz", "cpu ms per request"),
            ("GET /readyz /s", "readyz", "rate"), ("GET /readyz CPU ms each", "readyz", "cpu ms per request"),
            ("single /s", "single", "rate"), ("single p50 ms", "single", "p50"), ("single p99 ms", "single", "p99"),
            ("single requests", "single", "requests"), ("single CPU ms each", "single", "cpu ms"),
            ("  of it server", "single", "server ms"), ("  of it database", "single", "database ms"),
            ("single new sessions", "single", "new sessions"),
            ("batched items /s", "batch", "rate"), ("batched items accepted", "batch", "accepted"),
            ("batched CPU ms per item", "batch", "cpu ms"), ("batch new sessions", "batch", "new sessions")]
    for label, phase_name, key in rows:
        a, b = on[phase_name][key], off[phase_name][key]
        print(f"{label:34}{a:14.2f}{b:14.2f}")
    print()
    for kind in ("single", "batch"):
        print(f"{kind}: the checks cost {on[kind]['cpu ms'] / off[kind]['cpu ms'] - 1:+.1%} CPU per accepted "
              "submission (target at most +15%)")
    print(f"single: {on['single']['cpu ms']:.2f} ms CPU = {on['single']['cpu ms'] / 2.0:.2f}x the 2.0 ms target; "
          f"batched: {on['batch']['cpu ms']:.2f} ms = {on['batch']['cpu ms'] / 0.5:.2f}x the 0.5 ms target")
    print(f"single: {on['single']['rate'] / on['readyz']['rate']:.2f} of the /readyz rate, "
          f"{on['single']['rate'] / on['healthz']['rate']:.2f} of /healthz")
    for name in ONE_CHECK if args.each_check else ():
        alone = results[name]
        print(f"{name}: " + ", ".join(
            f"{kind} {alone[kind]['cpu ms']:.2f} ms ({alone[kind]['server ms']:.2f} server + "
            f"{alone[kind]['database ms']:.2f} database), {alone[kind]['cpu ms'] / off[kind]['cpu ms'] - 1:+.1%}"
            for kind in ("single", "batch")))
    print(f"database round trips, checks on: {trips['single']:.1f} per single submission (target 3), "
          f"{trips['batch']:.1f} per batch of {args.batch_size}")


if __name__ == "__main__":
    main()
