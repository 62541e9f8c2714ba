"""`tally status` on the embedded default with 100,000 contributions: how long a newcomer waits.

The data folder is the embedded default's (SQLite in TALLY_HOME); it is filled with synthetic rows
as in bench/seal.py (status reads counts and epoch headers, never conversations), 90% of them
sealed into an epoch and the rest pending. Then `tally status` runs as a user runs it, a fresh
process each time, against a baseline taken in the same run: the same interpreter starting and
exiting (`python -c pass`), the least any command costs.

    .venv/bin/python bench/status.py [--count 100000] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seal import ANCHOR, fill  # bench/seal.py: the same synthetic rows

from ledger.content import LocalBlockStore
from ledger.db import make_engine, make_sessionmaker
from ledger.epochs import seal_epoch
from ledger.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
TALLY = Path(sys.executable).parent / "tally"


def timed(command: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp()) / ".tally"
    home.mkdir()
    url = f"sqlite:///{home / 'tally.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    sealed = args.count * 9 // 10
    started = time.perf_counter()
    fill(sessions, 0, sealed)
    with sessions() as session, session.begin():
        seal_epoch(session, LocalBlockStore(home / "blocks"), ANCHOR)
    fill(sessions, sealed, args.count - sealed)
    engine.dispose()
    print(f"filled {args.count} contributions ({sealed} sealed) in {time.perf_counter() - started:.1f} s "
          "(not timed)")

    env = {**os.environ, "TALLY_HOME": str(home)}
    baseline = timed([sys.executable, "-c", "pass"], env, args.runs)
    status = timed([str(TALLY), "status"], env, args.runs)
    print(f"baseline: the interpreter starting and exiting: {baseline * 1000:.0f} ms (median of {args.runs})")
    print(f"`tally status` with {args.count:,} contributions: {status * 1000:.0f} ms (median of {args.runs}) "
          f"= {status / baseline:.1f}x the baseline (target: under 1 s)")


if __name__ == "__main__":
    main()
