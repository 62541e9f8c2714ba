"""Starting a real `tally serve` process for integration tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent


# An API replica of a configured deployment, with no jobs: it never talks to a chain node.
API_ONLY = {"TALLY_JOBS": "false", "TALLY_RPC_URL": "http://127.0.0.1:9", "TALLY_CHAIN_ID": "31337",
            "TALLY_CONTRACT_ADDRESS": "0x5FbDB2315678afecb367f032d93F642f64180aa3"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def tally_server(home: Path, *, workers: int = 1, env: dict[str, str] | None = None,
                 timeout: float = 60.0) -> Iterator[str]:
    """Run `tally serve` on a free port until the block ends; yields its base URL."""
    port = free_port()
    environment = {**os.environ, "TALLY_HOME": str(home), "TALLY_LOG_LEVEL": "warning", **(env or {})}
    log = open(home.parent / f"server-{port}.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "tally.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=environment, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"tally serve exited: {(home.parent / f'server-{port}.log').read_text()}")
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("tally serve did not become ready")
            time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
