"""The README's walkthrough, run as a newcomer types it: the commands come from the README itself.

The fenced block after ``<!-- walkthrough -->`` is read out of README.md and each line runs in a
shell, in order, from a folder laid out like a fresh clone after `make run` (``.venv`` and
``examples`` of this checkout, ``./.tally`` made by the `tally serve` this test starts there, no
``TALLY_*`` variable from the environment). The one liberty taken: the server and its dev chain
listen on free ports instead of 8000 and 8545 (so the test can run beside a `make run`), and the
block's URLs are rewritten to match; ``TALLY_API_URL`` points the client commands there, as a user
on another port would set it.

Done means what the README promises: every step exits 0 and says what the README says it says, a
verified contribution comes within two minutes of the server being ready.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import ROOT, free_port, stop_group

WALKTHROUGH_DEADLINE = 120.0
"""Seconds from a ready server to an audited, verified contribution (what the README promises)."""

EXPECTED = {
    "demo": "demo passed",
    "keys new": '"address"',
    "submit": "verified: every check passed",
    "status": "final",
    "verify bundle": "verified: every check passed",
    "audit": "audit passed",
}


def walkthrough_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- walkthrough -->\s*```sh\n(.*?)```", readme, re.DOTALL)
    assert found, "README.md has no fenced block after <!-- walkthrough -->"
    return [line for line in found.group(1).splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.serial  # its wall time is what it asserts
def test_the_readme_walkthrough_reaches_a_verified_contribution(tmp_path: Path) -> None:
    commands = walkthrough_commands()
    assert [step for step in EXPECTED if not any(f"tally {step}" in c for c in commands)] == []
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in (".venv", "examples"):
        (clone / name).symlink_to(ROOT / name)
    port, chain_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    env.update({"TALLY_PORT": str(port), "TALLY_ANVIL_PORT": str(chain_port),
                "TALLY_API_URL": f"http://127.0.0.1:{port}"})
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([str(clone / ".venv/bin/tally"), "serve"], cwd=clone, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_ready(f"http://127.0.0.1:{port}", server, tmp_path / "serve.log")
        started = time.monotonic()
        for command in commands:
            literal = command.replace("127.0.0.1:8545", f"127.0.0.1:{chain_port}") \
                             .replace("127.0.0.1:8000", f"127.0.0.1:{port}")
            result = subprocess.run(["bash", "-c", literal], cwd=clone, env=env, capture_output=True, text=True,
                                    timeout=WALKTHROUGH_DEADLINE, stdin=subprocess.DEVNULL)
            assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-2000:])
            step = next(s for s in EXPECTED if f"tally {s}" in command)
            assert EXPECTED[step] in result.stdout, (command, result.stdout[-2000:])
            assert "Traceback" not in result.stderr, (command, result.stderr)
        elapsed = time.monotonic() - started
        print(f"README walkthrough: {elapsed:.1f} s after the server was ready")
        assert elapsed < WALKTHROUGH_DEADLINE, f"the walkthrough took {elapsed:.0f} s"
        assert (clone / "proof.json").is_file() and (clone / ".tally" / "tally.db").is_file()
    finally:
        stop_group(server, timeout=20)
        log.close()


def wait_ready(url: str, server: subprocess.Popen[bytes], log: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"tally serve exited: {log.read_text()}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"tally serve was not ready in {timeout:.0f} s: {log.read_text()}")
