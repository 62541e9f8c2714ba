"""Starting a real `tally serve` process for integration tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
        stop_group(process)
        log.close()


@contextmanager
def serving_app(app: Any, timeout: float = 10.0) -> Iterator[str]:
    """Serve an ASGI ``app`` (usually the API on a test's stack, in process) on a free port of
    127.0.0.1 in a thread until the block ends; yields its base URL. For browsers, node scripts
    and audits that must reach it over real HTTP."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def stop_group(process: subprocess.Popen[Any], timeout: float = 15.0) -> None:
    """SIGTERM a process started in a session of its own, and its children; SIGKILL them if
    they are not gone within ``timeout`` seconds."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class ServerProcess:
    """A `tally serve` that a test can SIGKILL and start again on the same port, so clients keep
    one URL across crashes (the fault tests; `tally_server` above is the block-scoped form)."""

    def __init__(self, home: Path, env: dict[str, str], *, args: tuple[str, ...] = ("--no-jobs",)) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "TALLY_HOME": str(home), "TALLY_LOG_LEVEL": "warning", **env}
        self.args = args
        self.log_path = home.parent / f"server-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        home_log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tally.cli", "serve", "--port", str(self.port), *self.args],
                env=self.env, cwd=ROOT, stdout=home_log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        finally:
            home_log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"tally serve exited: {self.log()[-3000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"tally serve did not become ready: {self.log()[-3000:]}")
            time.sleep(0.2)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash of the machine's process would."""
        if self.alive():
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
