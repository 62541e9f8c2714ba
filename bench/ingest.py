"""Ingest benchmark: real ShareGPT conversations, signed beforehand, submitted over HTTP to a real
`tally serve` on PostgreSQL, with intake's checks on and, in the same run, off.

"On" is the shipped default: the near-duplicate check, the personal-data check and the limits
per contributor and per client (set high enough never to refuse the benchmark's one client, so
that their database work is done and measured). "Off" is TALLY_NEAR_DUPLICATES=accept,
TALLY_PII=accept and every limit 0. Each configuration gets a fresh database and server, all of
them running from the start, and:

- baselines: GET /healthz (no database) and GET /readyz (one database round trip), 2 s a slice;
- single submissions, then batches of --batch-size, each for --seconds (at least 20) with wrk;
- each phase cut into --rounds slices (4), which the configurations take in turn, their order
  rotated each round: every configuration sees the machine as it is in each part of the run
  (these machines' speed drifts by a third from one minute to the next; one phase after the
  other, a configuration's figures measured the drift as much as the configuration);
- the server's CPU per accepted submission: user + system time of the server's processes (the
  supervisor and its workers, from /proc) plus that of the database's backends serving it
  (pg_stat_activity's pids for the database, from /proc), over the phase, divided by the
  contributions the database gained in it, counted once every request sent has been answered
  (so nothing in flight is dropped from either side of the ratio);
- new PostgreSQL sessions the server opened during the phase (pg_stat_database.sessions, less the
  bench's own readings): 0 means no churn;
- in-process, through a TCP proxy between intake and PostgreSQL that counts the times the
  client speaks after the server did: the database round trips per single submission (the
  per-client count included) and per batch.

    .venv/bin/python bench/ingest.py [--count 16000] [--seconds 20] [--concurrency 32] [--workers 2] [--each-check]

--each-check also runs each check alone (near-duplicates, personal data, the limits), each in a
fresh database and server of its own interleaved with one of none: what each adds to a
submission's CPU.

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
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
        self.opened = 0  # this accounting's own sessions (each reading opens one), not the server's

    def _backends(self, connection: sa.Connection) -> list[int]:
        return [int(pid) for (pid,) in connection.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": self.database})]

    def reading(self) -> dict[str, Any]:
        self.opened += 1
        with self.engine.connect() as connection:
            backends = self._backends(connection)
            contributions = connection.execute(sa.text("SELECT count(*) FROM contributions")).scalar_one()
            sessions = connection.execute(sa.text(
                "SELECT sessions FROM pg_stat_database WHERE datname = :d"), {"d": self.database}).scalar_one()
        return {"server": {pid: cpu_seconds(pid) for pid in session_members(self.sid)},
                "database": {pid: cpu_seconds(pid) for pid in backends},
                "contributions": int(contributions), "sessions": int(sessions) - self.opened}

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

def wrk(args: list[str]) -> dict[str, Any]:
    """Run wrk with ``bench/wrk_submit.lua``: its JSON line, with the requests and their rate."""
    out = subprocess.run(["wrk", *args], capture_output=True, text=True, check=True).stdout
    stats: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    stats["requests/s"] = float(rate.group(1)) if rate else 0.0
    requests = re.search(r"(\d+) requests in", out)
    stats["requests"] = int(requests.group(1)) if requests else 0
    return stats


Latencies = list[tuple[float, float]]
"""A slice's latencies as (milliseconds, weight): every request's from the httpx client; from
wrk, which keeps a histogram, its 400 quarter-percentiles, each weighing a 400th of the requests."""


def pooled_percentile(latencies: Latencies, share: float) -> float:
    """The latency under which ``share`` of the pooled, weighted latencies of a phase's slices lie."""
    ordered = sorted(latencies)
    target = share * sum(weight for _, weight in ordered)
    below = 0.0
    for value, weight in ordered:
        below += weight
        if below >= target:
            return value
    return ordered[-1][0] if ordered else 0.0


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
         tmp: Path) -> dict[str, Any]:
    """Send ``lines`` (JSON bodies; GET when None) for ``seconds``: requests, rate, latencies."""
    if client == "wrk":
        if lines:
            bodies = tmp / "bodies.jsonl"
            bodies.write_text("".join(line + "\n" for line in lines))
            stats = wrk(["-t2", f"-c{concurrency}", f"-d{seconds}s", "--timeout", "120s",
                         "-s", str(WRK_SCRIPT), url, "--", str(bodies), "2", path])
            if stats.get("spare"):
                # wrk_submit.lua stops a thread once its submissions are all answered: the
                # /healthz it sent meanwhile are few, and the slice's rate a lower bound.
                print(f"  note: {path} used up its conversations before the slice's end ({stats['spare']} GET"
                      " /healthz while the last were answered, their CPU taken out at the run's /healthz cost);"
                      " its rate is a lower bound")
        else:
            stats = wrk(["-t2", f"-c{concurrency}", f"-d{seconds}s", "-s", str(WRK_SCRIPT), url + path])
        if stats.get("other"):
            raise RuntimeError(f"{path}: {stats['other']} requests refused")
        weight = stats["requests"] / len(stats["quantiles"])
        return {"requests": stats["requests"], "rate": stats["requests/s"], "spare": stats.get("spare", 0),
                "latencies": [(us / 1000, weight) for us in stats["quantiles"]]}
    method = "POST" if lines else "GET"
    bodies = [json.loads(line) for line in lines] if lines else [None] * 10**6
    started = time.perf_counter()
    count, latencies = asyncio.run(python_load(url, method, path, bodies, concurrency, seconds))
    return {"requests": count, "rate": count / (time.perf_counter() - started),
            "latencies": [(seconds * 1000, 1.0) for seconds in latencies]}


def measure(url: str, accounting: Accounting, path: str, lines: list[str], *, concurrency: int,
            seconds: float, client: str, tmp: Path) -> dict[str, Any]:
    """One slice of a phase (``lines``: JSON bodies to POST; none: GET ``path``): the load's
    figures, the contributions the database gained, the CPU seconds of the server's processes
    and of the database's backends, and the new database sessions, read once every request sent
    has been answered."""
    before = accounting.settled()
    started = time.perf_counter()
    result = load(url, path, lines, concurrency=concurrency, seconds=seconds, client=client, tmp=tmp)
    after = accounting.settled()
    return {**result, "seconds": time.perf_counter() - started,
            "accepted": after["contributions"] - before["contributions"],
            "server s": spent(before["server"], after["server"]),
            "database s": spent(before["database"], after["database"]),
            "new sessions": after["sessions"] - before["sessions"]}


def combined(slices: list[dict[str, Any]], *, spare_ms: float = 0.0) -> dict[str, float]:
    """A phase's figures from its slices: rates and CPU per accepted submission (per request
    answered, for a GET) over their sums, p50 and p99 of their latencies pooled. A wrk thread that
    has sent all its bodies sends GET /healthz until the last are answered, then stops: their
    CPU, at ``spare_ms`` each (the /healthz figure of the same configuration), is not the
    submissions'."""
    total = {key: sum(s[key] for s in slices) for key in
             ("requests", "accepted", "seconds", "server s", "database s", "new sessions")}
    total["spare"] = sum(s.get("spare", 0) for s in slices)
    answered = total["accepted"] or total["requests"]  # a GET phase accepts nothing
    if not answered:
        raise RuntimeError(f"nothing answered in {total['seconds']:.0f} s ({slices})")
    server = total["server s"] - total["spare"] * spare_ms / 1000
    latencies = [latency for s in slices for latency in s["latencies"]]
    return {"requests": total["requests"], "accepted": total["accepted"], "rate": answered / total["seconds"],
            "p50": pooled_percentile(latencies, 0.50), "p99": pooled_percentile(latencies, 0.99),
            "server ms": 1000 * server / answered, "database ms": 1000 * total["database s"] / answered,
            "cpu ms": 1000 * (server + total["database s"]) / answered, "new sessions": total["new sessions"]}


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
        intake.submit_request(lambda: body, "bench")  # noqa: B023 (called at once)
    start = proxy.turns
    for body in singles[20:]:
        intake.submit_request(lambda: body, "bench")  # noqa: B023 (called at once)
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

def interleaved(args: argparse.Namespace, configurations: dict[str, dict[str, str]],
                conversations: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Each configuration's phases (healthz, readyz, single, batch), measured side by side:
    every configuration's server runs from the start and each phase is cut into ``args.rounds``
    slices, taken by the configurations in turn (their order rotated each round), so that all of
    them see the machine as it is in each part of the run: a busy neighbour or a change of clock
    speed then weighs on every configuration alike, not on one phase of one of them."""
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(_server(args, checks, conversations, len(conversations) // 3))
                   for name, checks in configurations.items()}
        common = {"client": args.client, "tmp": Path(stack.enter_context(tempfile.TemporaryDirectory()))}
        slices: dict[str, dict[str, list[dict[str, float]]]] = {name: {} for name in configurations}
        names = list(configurations)
        each = -(-args.seconds // args.rounds)  # whole seconds (wrk's -d)
        for kind, path, concurrency, seconds in (("healthz", "/healthz", args.concurrency, 2),
                                                 ("readyz", "/readyz", args.concurrency, 2),
                                                 ("single", "/v1/contributions", args.concurrency, each),
                                                 ("batch", "/v1/contributions:batch", 4, each)):
            for r in range(args.rounds):
                for name in names[r % len(names):] + names[:r % len(names)]:
                    server = servers[name]
                    lines = server.bodies[kind][r] if kind in server.bodies else []
                    slices[name].setdefault(kind, []).append(measure(
                        server.url, server.accounting, path, lines, concurrency=concurrency,
                        seconds=seconds, **common))
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name in configurations:
        phase = {kind: combined(slices[name][kind]) for kind in ("healthz", "readyz")}
        phase.update({kind: combined(slices[name][kind], spare_ms=phase["healthz"]["cpu ms"])
                      for kind in ("single", "batch")})
        results[name] = phase
        print(f"{name}: " + "; ".join(
            f"{k} {v['rate']:.0f}/s" + (f", {v['accepted']} accepted, {v['cpu ms']:.2f} ms CPU each "
                                         f"({v['server ms']:.2f} server + {v['database ms']:.2f} database), "
                                         f"{v['new sessions']} new sessions" if v["accepted"] else "")
            for k, v in phase.items()))
    return results


@dataclass
class Server:
    """A configuration's running server, its accounting, and its bodies for each slice of each
    submission phase."""

    url: str
    accounting: Accounting
    bodies: dict[str, list[list[str]]]


@contextlib.contextmanager
def _server(args: argparse.Namespace, checks: dict[str, str], conversations: list[dict[str, Any]],
            third: int) -> Iterator[Server]:
    """A fresh database and `tally serve` with ``checks``; a third of the conversations for the
    single submissions and the rest in batches, each cut into ``args.rounds`` slices."""
    with tempfile.TemporaryDirectory() as tmp, temporary_database("tally_bench") as db_url:
        upgrade(db_url)
        env = {"TALLY_OPERATOR_KEY": OPERATOR, **API_ONLY, "TALLY_DATABASE_URL": db_url, **checks}
        with tally_server(Path(tmp) / "home", workers=args.workers, env=env) as base:
            accounting = Accounting(int(base.rsplit(":", 1)[1]), db_url)
            bodies = [json.dumps(b) for b in sign_all(httpx.get(base + "/v1/config").json(), conversations)]
            batches = [json.dumps({"items": [json.loads(b) for b in bodies[i:i + args.batch_size]]})
                       for i in range(third, len(bodies), args.batch_size)]
            try:
                yield Server(base, accounting, {"single": _cut(bodies[:third], args.rounds),
                                                "batch": _cut(batches, args.rounds)})
            finally:
                accounting.engine.dispose()


def _cut(lines: list[str], parts: int) -> list[list[str]]:
    size = -(-len(lines) // parts)
    return [lines[i * size:(i + 1) * size] for i in range(parts)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=16000, help="distinct conversations (each phase draws on them)")
    parser.add_argument("--seconds", type=int, default=20, help="duration of each submission phase (at least 20)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=4,
                        help="slices of each phase, taken by the configurations in turn")
    parser.add_argument("--client", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--each-check", action="store_true",
                        help="also run each check alone (near-duplicates, personal data, limits)")
    args = parser.parse_args()

    conversations = distinct_conversations(args.count)
    sizes = sorted(len(canonical_bytes(c)) for c in conversations)
    print(f"{len(conversations)} distinct real ShareGPT conversations, median {sizes[len(sizes) // 2]} bytes; "
          f"PostgreSQL, {args.workers} server workers, {args.concurrency} connections, {args.seconds} s a phase, "
          f"client: {args.client}")
    results = interleaved(args, CONFIGURATIONS, conversations)
    # Each check alone beside a "none" of its own, the two interleaved (the database takes 100
    # connections: two servers at a time, not five).
    alone = {name: interleaved(args, {name: checks, "none": CHECKS_OFF}, conversations)
             for name, checks in (ONE_CHECK if args.each_check else {}).items()}
    with tempfile.TemporaryDirectory() as tmp, temporary_database("tally_bench") as db_url:
        upgrade(db_url)
        trips = round_trips(db_url, conversations[:200 + 10 * args.batch_size], args.batch_size, Path(tmp) / "home")

    on, off = results["checks on"], results["checks off"]
    print()
    print(f"{'':34}{'checks on':>14}{'checks off':>14}")
    rows = [("GET /healthz /s", "healthz", "rate"), ("GET /healthz CPU ms each", "healthz", "cpu ms"),
            ("GET /readyz /s", "readyz", "rate"), ("GET /readyz CPU ms each", "readyz", "cpu ms"),
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
    for name, pair in alone.items():
        one, none = pair[name], pair["none"]
        print(f"{name}: " + ", ".join(
            f"{kind} {one[kind]['cpu ms']:.2f} ms ({one[kind]['server ms']:.2f} server + "
            f"{one[kind]['database ms']:.2f} database) against {none[kind]['cpu ms']:.2f} with none beside it, "
            f"{one[kind]['cpu ms'] / none[kind]['cpu ms'] - 1:+.1%}" for kind in ("single", "batch")))
    print(f"database round trips, checks on: {trips['single']:.1f} per single submission (target at most 3), "
          f"{trips['batch']:.1f} per batch of {args.batch_size}")


if __name__ == "__main__":
    main()
