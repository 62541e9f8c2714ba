"""`tally anchor` against a real node: one pass, `--wait` until final, and its timeout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from anchoring.devchain import DEV_FUNDED_KEY
from ledger.errors import ExitCode
from ledger.lifecycle import EpochState
from ledger.models import Epoch
from tests.anchoring_e2e.conftest import Stack, real_conversations
from tests.support.server import ROOT


def tally_anchor(stack: Stack, db_url: str, home: Path, *args: str,
                 confirmations: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TALLY_HOME": str(home), "TALLY_DATABASE_URL": db_url, "TALLY_RPC_URL": stack.chain.url,
           "TALLY_CHAIN_ID": "31337", "TALLY_CONTRACT_ADDRESS": stack.contract.address,
           "TALLY_ANCHOR_KEY": DEV_FUNDED_KEY, "TALLY_OPERATOR_KEY": "0x" + "42" * 32,
           "TALLY_CONFIRMATIONS": str(confirmations), "TALLY_LOG_LEVEL": "warning"}
    return subprocess.run([sys.executable, "-m", "tally.cli", "anchor", *args], capture_output=True, text=True,
                          cwd=ROOT, env=env, stdin=subprocess.DEVNULL, timeout=120)


def states(stack: Stack) -> list[str]:
    with stack.sessions() as session:
        return [e.state for e in session.query(Epoch).order_by(Epoch.number)]


def test_one_pass_then_wait_until_final_then_a_timeout(stack: Stack, sqlite_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    stack.contribute(real_conversations(10))
    stack.seal()
    once = tally_anchor(stack, sqlite_url, home)
    assert (once.returncode, once.stdout, once.stderr) == (0, "epoch 1 sent\n", "")
    assert states(stack) == [EpochState.SUBMITTED]  # one pass: sent, not yet followed

    waited = tally_anchor(stack, sqlite_url, home, "--wait", "--timeout", "60")
    assert (waited.returncode, waited.stdout, waited.stderr) == (0, "epoch 1 final\n", "")
    assert states(stack) == [EpochState.FINAL]

    stack.contribute(real_conversations(10, skip=10))
    stack.seal()
    late = tally_anchor(stack, sqlite_url, home, "--wait", "--timeout", "2", confirmations=50)
    assert late.returncode == ExitCode.UNAVAILABLE and late.stdout == "epoch 2 sent\n"  # finality is the chain's
    assert late.stderr == "tally: error: not every epoch is final after 2 s\n"
    assert states(stack) == [EpochState.FINAL, EpochState.MINED]
