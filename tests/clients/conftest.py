"""Running the JavaScript client and the extension from pytest: node, a live server, Chromium."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import OPERATOR_KEY
from tests.conftest import ROOT
from tests.support.server import API_ONLY, tally_server

HERE = Path(__file__).resolve().parent
EXTENSION = ROOT / "extension"


def needed(what: str) -> None:
    """Skip a test that lacks ``what`` here; in CI a missing tool is a failure, not a skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI")
    pytest.skip(f"{what} is missing")


def require_node() -> None:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ethers").is_dir():
        needed("node with the npm packages of package.json (npm ci)")


def run_node(script: str, request: object, *, timeout: float = 60.0) -> Any:
    """Run ``tests/clients/<script>`` with ``request`` as JSON on stdin; its stdout, parsed.

    ``json.dumps`` escapes non-ASCII, so lone surrogates reach node as ``\\ud800`` escapes, exactly
    as a JSON body would carry them.
    """
    require_node()
    done = subprocess.run(["node", str(HERE / script)], input=json.dumps(request), capture_output=True,
                          text=True, encoding="utf-8", timeout=timeout, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise AssertionError(f"node {script} exited with {done.returncode}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout)


def extension_id(manifest: Path = EXTENSION / "manifest.json") -> str:
    """Chrome's id of an extension with a ``key``: SHA-256 of the key, 32 hex digits as a-p."""
    key = base64.b64decode(json.loads(manifest.read_text())["key"])
    return "".join(chr(ord("a") + int(d, 16)) for d in hashlib.sha256(key).hexdigest()[:32])


@dataclass(frozen=True)
class LiveServer:
    url: str
    home: Path
    config: dict[str, Any]

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.home / 'tally.db'}"


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real `tally serve` for the client and extension tests, admitting the extension by CORS."""
    home = tmp_path_factory.mktemp("clients") / "home"
    # Public mode: the tests compare the stored object with the canonical bytes.
    env = {**API_ONLY, "TALLY_OPERATOR_KEY": OPERATOR_KEY.to_hex(), "TALLY_PRIVACY": "false",
           "TALLY_CORS_ORIGINS": json.dumps([f"chrome-extension://{extension_id()}"]),
           # The JS client's test submits 150 real conversations from one wallet, more than a day's
           # points for one contributor; the limits themselves are tested in tests/api/test_quotas.py.
           "TALLY_LIMIT_POINTS_PER_DAY": "0"}
    with tally_server(home, env=env) as url:
        yield LiveServer(url, home, httpx.get(url + "/v1/config").raise_for_status().json())
