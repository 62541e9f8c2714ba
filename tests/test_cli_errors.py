"""Every `tally` command where a newcomer may first type it: outside any Tally data folder, and
with each kind of malformed argument. Each case must end with exactly one `tally: error:` line on
stderr, the exit code of its category (2 usage or input, 3 a service unreachable), no traceback,
and no file created: a command that reads the ledger never creates one.

Port 9 (discard) on 127.0.0.1 stands for a service that does not answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.errors import ExitCode
from tests.support.server import ROOT

EXAMPLE = str(ROOT / "examples" / "chatgpt-conversation.json")
NOBODY = "http://127.0.0.1:9"
ADDRESS = "0x" + "11" * 20
USAGE, UNAVAILABLE = ExitCode.BAD_INPUT, ExitCode.UNAVAILABLE

NO_DATA_FOLDER = [
    (["status"], USAGE, "no Tally data folder"),
    (["status", "--json"], USAGE, "no Tally data folder"),
    (["seal"], USAGE, "no Tally data folder"),
    (["anchor"], USAGE, "no Tally data folder"),
    (["anchor", "--wait"], USAGE, "no Tally data folder"),
    (["report", "accruals"], USAGE, "no Tally data folder"),
    (["audit", "--rpc", NOBODY, "--ipfs", NOBODY], USAGE, "--contract"),
    (["proof", "1", "--api", NOBODY], UNAVAILABLE, "cannot reach the Tally API"),
    (["submit", EXAMPLE, "--key", "missing.json", "--api", NOBODY], USAGE, "missing.json"),
    (["verify", "bundle", "missing.json", "--rpc", NOBODY], USAGE, "missing.json"),
    (["redact", "missing.json"], USAGE, "missing.json"),
    (["verify", "account", ADDRESS, "--api", NOBODY, "--rpc", NOBODY], UNAVAILABLE, "cannot reach"),
    (["keys", "new", "--out", "k.json"], USAGE, "TALLY_KEY_PASSPHRASE"),
    (["deploy", "--rpc", NOBODY, "--key", "missing.key"], USAGE, "missing.key"),
    (["claim", "--key", "missing.key"], USAGE, "missing.key"),
    (["publish", "1", "--key", "missing.json", "--api", NOBODY], USAGE, "missing.json"),
    (["engage", "1", "--like", "--key", "missing.json", "--api", NOBODY], USAGE, "missing.json"),
    (["claim", "--key", "missing.key", "--api", NOBODY], USAGE, "missing.key"),
    (["score", "missing.json"], USAGE, "missing.json"),
    (["doctor"], USAGE, "1 check failed"),
]

MALFORMED = [
    # addresses
    (["audit", "--rpc", NOBODY, "--ipfs", NOBODY, "--contract", "0x..."], "'--contract'"),
    (["audit", "--rpc", NOBODY, "--ipfs", NOBODY, "--contract", "0x" + "1" * 39], "'--contract'"),
    (["verify", "account", "0x...", "--api", NOBODY, "--rpc", NOBODY], "'address'"),
    (["verify", "account", "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "--api", NOBODY, "--rpc", NOBODY],
     "EIP-55"),
    (["deploy", "--rpc", NOBODY, "--key", "k", "--admin", "alice"], "'--admin'"),
    (["deploy", "--rpc", NOBODY, "--key", "k", "--anchorer", "0x"], "'--anchorer'"),
    (["deploy", "--rpc", NOBODY, "--key", "k", "--token", "0x12"], "'--token'"),
    (["claim", "--key", "k", "--account", "bob"], "'--account'"),
    # hashes and ids
    (["proof", "0x1234"], "'contribution'"),
    (["proof", "0"], "'contribution'"),
    (["proof", "12abc"], "'contribution'"),
    (["publish", "0x1234", "--key", "k.json"], "'contribution'"),
    (["engage", "1", "--key", "k.json", "--remix", "0x1234"], "'--remix'"),
    (["engage", "1", "--key", "k.json"], "--like or --remix"),
    (["engage", "1", "--key", "k.json", "--like", "--remix", "0x" + "ab" * 32], "--like or --remix"),
    # URLs
    (["audit", "--rpc", "localhost:8545", "--ipfs", NOBODY, "--contract", ADDRESS], "'--rpc'"),
    (["audit", "--rpc", NOBODY, "--ipfs", "ftp://gateway", "--contract", ADDRESS], "'--ipfs'"),
    (["verify", "bundle", "p.json", "--rpc", "127.0.0.1:8545"], "'--rpc'"),
    (["submit", EXAMPLE, "--key", "k.json", "--api", "http//127.0.0.1:8000"], "'--api'"),
    (["proof", "1", "--api", "http://127.0.0.1:port"], "'--api'"),
    (["deploy", "--rpc", "http://", "--key", "k"], "'--rpc'"),
    (["claim", "--key", "k", "--api", "ftp://tally"], "'--api'"),
    (["claim", "--key", "k", "--rpc", "127.0.0.1:8545"], "'--rpc'"),
    # numbers, options, missing arguments
    (["serve", "--port", "abc"], "'--port'"),
    (["demo", "--contributions", "0"], "'--contributions'"),
    (["anchor", "--timeout", "soon"], "'--timeout'"),
    (["deploy", "--rpc", NOBODY, "--key", "k", "--units-per-point", "1e18"], "'--units-per-point'"),
    (["claim"], "'--key'"),
    (["publish", "1"], "'--key'"),
    (["status", "--verbose"], "--verbose"),
    (["submit"], "'FILE'"),
    (["score"], "'FILE'"),
    (["redact"], "'FILE'"),
    (["verify", "bundle", "p.json"], "'--rpc'"),
    (["no-such-command"], "no-such-command"),
]


def run_tally(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    return subprocess.run([sys.executable, "-m", "tally.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120)


def assert_one_line(result: subprocess.CompletedProcess[str], exit_code: int, fragment: str, cwd: Path) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == exit_code, (result.returncode, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("tally: error: "), result.stderr
    assert fragment.lower() in lines[0].lower(), lines[0]
    assert list(cwd.iterdir()) == [], f"created {[p.name for p in cwd.iterdir()]}"


@pytest.mark.parametrize(("args", "exit_code", "fragment"), NO_DATA_FOLDER,
                         ids=[" ".join(c[0][:2]) for c in NO_DATA_FOLDER])
def test_outside_a_data_folder(tmp_path: Path, args: list[str], exit_code: int, fragment: str) -> None:
    assert_one_line(run_tally(args, tmp_path), exit_code, fragment, tmp_path)


@pytest.mark.parametrize(("args", "fragment"), MALFORMED, ids=[" ".join(c[0]) for c in MALFORMED])
def test_a_malformed_argument_is_a_usage_error_naming_it(tmp_path: Path, args: list[str], fragment: str) -> None:
    assert_one_line(run_tally(args, tmp_path), USAGE, fragment, tmp_path)


def test_no_command_prints_the_help_and_exits_2(tmp_path: Path) -> None:
    result = run_tally([], tmp_path)
    assert result.returncode == USAGE and "Usage" in result.stdout and "Traceback" not in result.stderr
