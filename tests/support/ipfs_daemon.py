"""Start a real, offline js-ipfs daemon (standard `/api/v0` RPC API) for tests and development.

No Kubo binary can be installed on our machines, so tests run against js-ipfs (npm `ipfs@0.66.1`,
installed in `tools/ipfs/`), whose UnixFS importer matches Kubo's defaults. See docs/ipfs.md and
notes/TOOLCHAIN.md for the two fixes it needs and how it differs from Kubo.

- `IpfsDaemon(repo_dir)`: `init()` a repo with `--profile test`, write an offline loopback-only
  config on free ports, `start()` (waits for `/api/v0/version`), `stop()`, `restart()` on the same
  ports (outage tests), `paused()` (a node that answers nothing), usable as a context manager.
- `ipfs_daemon`: a session-scoped pytest fixture yielding a started `IpfsDaemon`. If the npm
  packages are missing it runs `npm ci --prefix tools/ipfs`; if that is impossible it skips with
  the reason, or fails when the `CI` environment variable is set.
- Development: `.venv/bin/python tests/support/ipfs_daemon.py [--repo .tally/ipfs] [--api-port
  5001]` runs a persistent daemon in the foreground until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = ROOT / "tools" / "ipfs"
POLYFILL = TOOLS_DIR / "promise-with-resolvers.cjs"
JSIPFS = TOOLS_DIR / "node_modules" / "ipfs" / "src" / "cli.js"


class IpfsDaemonError(RuntimeError):
    """The daemon could not be initialised or started (the message carries its log's tail)."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_modules_installed() -> bool:
    return JSIPFS.is_file()


def install_node_modules(timeout: float = 900) -> None:
    """`npm ci --prefix tools/ipfs` (about 3.5 minutes; the lock file pins every package)."""
    npm = shutil.which("npm")
    if npm is None:
        raise IpfsDaemonError("npm is not installed")
    result = subprocess.run(
        [npm, "ci", "--prefix", str(TOOLS_DIR), "--no-audit", "--no-fund"],
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    if result.returncode != 0 or not node_modules_installed():
        raise IpfsDaemonError(f"npm ci --prefix tools/ipfs failed:\n{result.stderr[-2000:]}")


class IpfsDaemon:
    """One js-ipfs daemon with its own repository and ports, all on 127.0.0.1."""

    def __init__(self, repo: str | os.PathLike[str], *, api_port: int | None = None) -> None:
        self.repo = Path(repo)
        self.api_port = api_port or free_port()
        self.gateway_port = free_port()
        self.grpc_port = free_port()
        self.log_path = self.repo.parent / f"{self.repo.name}.daemon.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The RPC endpoint, as `IpfsStore(url)` takes it."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def multiaddr(self) -> str:
        """The RPC endpoint as `ipfshttpclient.Client(addr)` takes it."""
        return f"/ip4/127.0.0.1/tcp/{self.api_port}/http"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # ---- setup

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["IPFS_PATH"] = str(self.repo)
        # Fix 1 of the notes: the dependencies call Promise.withResolvers (Node 22+).
        env["NODE_OPTIONS"] = f"{env.get('NODE_OPTIONS', '')} --require {POLYFILL}".strip()
        env.pop("DEBUG", None)
        return env

    def _jsipfs(self, *args: str) -> list[str]:
        return [shutil.which("node") or "node", str(JSIPFS), *args]

    def init(self) -> None:
        """`jsipfs init --profile test` (once), then our offline config (every time: ports may
        have changed)."""
        if not (self.repo / "config").exists():
            self.repo.mkdir(parents=True, exist_ok=True)
            result = subprocess.run(
                self._jsipfs("init", "--profile", "test"), env=self._env(),
                capture_output=True, text=True, timeout=120, check=False,
            )
            if result.returncode != 0:
                raise IpfsDaemonError(f"jsipfs init failed:\n{result.stderr[-2000:]}")
        self.write_config()

    def write_config(self) -> None:
        """The offline, loopback-only configuration of the notes."""
        path = self.repo / "config"
        config: dict[str, Any] = json.loads(path.read_text())
        addresses = config.setdefault("Addresses", {})
        # Fix 2 of the notes: any swarm address (even loopback) makes the daemon exit.
        addresses["Swarm"] = []
        addresses["Announce"] = []
        addresses["NoAnnounce"] = []
        addresses["Delegates"] = []
        addresses["API"] = f"/ip4/127.0.0.1/tcp/{self.api_port}"
        addresses["Gateway"] = f"/ip4/127.0.0.1/tcp/{self.gateway_port}"
        addresses["RPC"] = f"/ip4/127.0.0.1/tcp/{self.grpc_port}"
        config["Bootstrap"] = []
        discovery = config.setdefault("Discovery", {})
        discovery["MDNS"] = {**discovery.get("MDNS", {}), "Enabled": False}
        discovery["webRTCStar"] = {"Enabled": False}
        config["Routing"] = {"Type": "none"}
        config["Pubsub"] = {**config.get("Pubsub", {}), "Enabled": False}
        path.write_text(json.dumps(config, indent=2))

    # ---- lifecycle

    def start(self, timeout: float = 60) -> None:
        """Start the daemon (preload off: it contacts the public network) and wait until
        `/api/v0/version` answers."""
        if self.running:
            return
        # A lock left by a killed daemon would make the new one refuse the repo.
        shutil.rmtree(self.repo / "repo.lock", ignore_errors=True)
        log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                self._jsipfs("daemon", "--enable-preload=false"),
                env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise IpfsDaemonError(
                    f"js-ipfs exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            if self.ready():
                return
            time.sleep(0.1)
        self.stop()
        raise IpfsDaemonError(f"js-ipfs not ready after {timeout} s:\n{self.log_tail()}")

    def ready(self) -> bool:
        request = urllib.request.Request(f"{self.url}/api/v0/version", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=1) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (a clean shutdown releases the repo lock), SIGKILL if it does not exit."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)

    def restart(self) -> None:
        self.stop()
        self.start()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The daemon stopped (SIGSTOP) until the block ends, then resumed: a node that accepts
        connections and answers nothing, as one lost in a slow lookup or swapping does."""
        process = self._process
        if process is None or process.poll() is not None:
            raise IpfsDaemonError("the daemon is not running")
        os.killpg(process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(process.pid, signal.SIGCONT)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> IpfsDaemon:
        self.init()
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def running_daemon(repo: str | os.PathLike[str] | None = None) -> Iterator[IpfsDaemon]:
    """A started daemon in `repo` (a fresh temporary directory by default), stopped afterwards."""
    with contextlib.ExitStack() as stack:
        if repo is None:
            repo = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tally-ipfs-")))
            repo = repo / "repo"
        yield stack.enter_context(IpfsDaemon(repo))


def _unavailable(reason: str) -> None:
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"the js-ipfs daemon is required in CI: {reason}")
    pytest.skip(f"no js-ipfs daemon: {reason}")


try:
    import pytest
except ImportError:  # the module also runs as a script outside the test environment
    pass
else:

    @pytest.fixture(scope="session")
    def ipfs_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpfsDaemon]:
        """One js-ipfs daemon for the whole test session (start-up costs ~3.5 s)."""
        if not node_modules_installed():
            try:
                install_node_modules()
            except (IpfsDaemonError, OSError, subprocess.TimeoutExpired) as exc:
                _unavailable(f"tools/ipfs/node_modules is missing and npm ci failed: {exc}")
        if shutil.which("node") is None:
            _unavailable("node is not installed")
        daemon = IpfsDaemon(tmp_path_factory.mktemp("ipfs") / "repo")
        try:
            daemon.init()
            daemon.start()
        except IpfsDaemonError as exc:
            daemon.stop()
            _unavailable(str(exc))
        try:
            yield daemon
        finally:
            daemon.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run an offline js-ipfs daemon for development.")
    parser.add_argument("--repo", default=".tally/ipfs", help="repository directory (kept)")
    parser.add_argument("--api-port", type=int, default=5001, help="RPC API port on 127.0.0.1")
    args = parser.parse_args(argv)
    if not node_modules_installed():
        print("installing tools/ipfs (npm ci, ~3.5 min)...", file=sys.stderr)
        install_node_modules()
    daemon = IpfsDaemon(Path(args.repo).resolve(), api_port=args.api_port)
    daemon.init()
    daemon.start()
    print(f"js-ipfs RPC API at {daemon.url} (log: {daemon.log_path}); Ctrl-C stops it")
    try:
        while daemon.running:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
