"""The embedded development chain: an anvil node whose state lives in TALLY_HOME.

anvil ships as a binary inside the npm package ``@foundry-rs/anvil-linux-amd64`` (``make run``
installs it). Its state is dumped to ``<home>/anvil-state.json`` every second and on a clean
stop, so the chain, the deployed contract and every anchored epoch survive restarts, even a
SIGKILL (at most the last second is lost, and the anchoring loop resumes from the contract's
own state).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ledger.errors import UnavailableError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEV_CHAIN_ID = 31337
# anvil's first well-known development account (mnemonic "test test ... junk"): public knowledge,
# for the local dev chain only, never for a real network.
DEV_FUNDED_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class DevChainError(UnavailableError, RuntimeError):
    """The embedded dev chain (anvil) cannot be started or reached."""


def find_anvil() -> str:
    """The anvil binary: ``TALLY_ANVIL``, the project's node_modules, or the PATH."""
    candidates = [
        os.environ.get("TALLY_ANVIL"),
        str(PROJECT_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"),
        str(Path.cwd() / "node_modules" / ".bin" / "anvil"),
        shutil.which("anvil"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise DevChainError("anvil not found: run `npm ci` (it ships in @foundry-rs/anvil-linux-amd64) or set TALLY_ANVIL")


def rpc_ready(url: str, timeout: float = 1.0) -> bool:
    try:
        response = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                              timeout=timeout)
        return response.status_code == 200 and "result" in response.json()
    except (httpx.HTTPError, ValueError):
        return False


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        # A port the previous anvil just closed sits in TIME_WAIT; it is free to listen on again.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def _die_with_parent() -> None:
    # Linux: SIGTERM the node when the process that started it dies, even by SIGKILL, so that a
    # crashed `tally serve` never leaves an orphaned chain holding its port. (anvil dumps its
    # state on SIGTERM.) Elsewhere: a no-op.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


@dataclass
class DevChain:
    """A running anvil; ``stop()`` dumps its state and ends it."""

    process: subprocess.Popen[bytes]
    url: str
    state_file: Path

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """End it without a final state dump, as a crash would."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def rpc(self, method: str, params: list[object] | None = None) -> object:
        response = httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                              "params": params or []}, timeout=30)
        body = response.json()
        if "error" in body:
            raise DevChainError(f"{method}: {body['error']}")
        return body["result"]


def start_devchain(
    home: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8545,
    block_time: float | None = None,
    chain_id: int = DEV_CHAIN_ID,
    timeout: float = 20.0,
    extra_args: list[str] | None = None,
) -> DevChain:
    """Start anvil with its state in ``home`` (loaded if present) and wait until it answers."""
    home.mkdir(parents=True, exist_ok=True)
    state_file = home / "anvil-state.json"
    url = f"http://{host}:{port}"
    if not _port_free(host, port):
        raise DevChainError(f"port {port} is taken: is another chain or Tally running? (TALLY_ANVIL_PORT)")
    args = [find_anvil(), "--host", host, "--port", str(port), "--chain-id", str(chain_id),
            "--state", str(state_file), "--state-interval", "1", "--silent"]
    if block_time:
        args += ["--block-time", str(block_time)]
    args += extra_args or []
    log = open(home / "anvil.log", "ab")  # noqa: SIM115 (owned by the child for its lifetime)
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               preexec_fn=_die_with_parent)
    log.close()
    deadline = time.monotonic() + timeout
    while not rpc_ready(url):
        if process.poll() is not None:
            raise DevChainError(f"anvil exited with {process.returncode}; see {home / 'anvil.log'}")
        if time.monotonic() > deadline:
            process.kill()
            raise DevChainError("anvil did not answer in time")
        time.sleep(0.05)
    return DevChain(process, url, state_file)


def state_summary(state_file: Path) -> dict[str, object]:
    """What a saved state holds (block number), for status output."""
    if not state_file.is_file():
        return {"saved": False}
    data = json.loads(state_file.read_text())
    block = data.get("block", {}) if isinstance(data, dict) else {}
    return {"saved": True, "block": block.get("number")}
