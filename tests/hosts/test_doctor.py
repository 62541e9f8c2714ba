"""``tally doctor``: one line per check, a non-zero exit on any failure, no secret printed and
nothing created (tally.doctor)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from anchoring.chain import connect
from anchoring.devchain import DEV_FUNDED_KEY, DevChain, start_devchain
from ledger.errors import ExitCode
from ledger.migrate import upgrade
from tally.doctor import FAIL, OK, SKIP, Check, run_checks
from tally.settings import Settings
from tally.wiring import check_deployment_identity, open_ledger
from tests.support.anvil import deploy_for_tests
from tests.support.ipfs_daemon import IpfsDaemon, ipfs_daemon  # noqa: F401  (the fixture)
from tests.support.server import ROOT, free_port

MASTER = "4d" * 32


def doctor(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tally.cli", "doctor"], env={**os.environ, **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_where_nothing_is_set_up_it_says_so_and_creates_nothing(tmp_path: Path) -> None:
    done = doctor({"TALLY_HOME": str(tmp_path / "home"), "TALLY_ANVIL_PORT": str(free_port())}, tmp_path)
    assert done.returncode == ExitCode.BAD_INPUT
    lines = done.stdout.splitlines()
    assert [line.split()[1] for line in lines] == [
        "configuration:", "database:", "keys:", "chain:", "contract:", "ipfs:", "cache:", "scorer:"]
    assert lines[1].startswith("FAIL  database:") and "tally db upgrade" in lines[1]
    assert done.stderr == "tally: error: 1 check failed\n"
    assert list(tmp_path.iterdir()) == []


def test_a_bad_setting_is_the_first_and_only_check(tmp_path: Path) -> None:
    done = doctor({"TALLY_HOME": str(tmp_path), "TALLY_PINNED_RETENTION": "soon"}, tmp_path)
    assert done.returncode == ExitCode.BAD_INPUT
    assert done.stdout.startswith("FAIL  configuration: invalid setting pinned_retention")


@pytest.fixture
def chain(tmp_path: Path) -> Iterator[DevChain]:
    node = start_devchain(tmp_path / "chain", port=free_port(), block_time=1)
    try:
        yield node
    finally:
        node.stop()


def statuses(checks: list[Check]) -> dict[str, str]:
    return {check.name: check.status for check in checks}


@pytest.mark.slow
def test_a_production_host_passes_and_each_fault_is_named(
        pg_url: str, tmp_path: Path, chain: DevChain, ipfs_daemon: IpfsDaemon) -> None:  # noqa: F811
    upgrade(pg_url)
    contract = deploy_for_tests(connect(chain.url), Account.from_key(DEV_FUNDED_KEY))
    # A password in the URL (PostgreSQL here trusts local connections, so any will do): never printed.
    db_url = pg_url.replace("postgres@", "postgres:hunter2@")
    env = {"TALLY_HOME": str(tmp_path / "home"), "TALLY_DATABASE_URL": db_url, "TALLY_RPC_URL": chain.url,
           "TALLY_CONTRACT_ADDRESS": contract.address, "TALLY_ANCHOR_KEY": DEV_FUNDED_KEY,
           "TALLY_OPERATOR_KEY": "0x" + "42" * 32, "TALLY_MASTER_KEY": MASTER, "TALLY_IPFS_URL": ipfs_daemon.url,
           "TALLY_SHARED_BLOCKS_DIR": str(tmp_path / "shared")}
    done = doctor(env, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == [OK] * 9 and lines[-1] == "every check passed"
    assert lines[-2] == "ok    scorer: quality-v2 features counted in C (ledger/scoring/_features.c)"
    assert "ANCHOR_ROLE" in done.stdout and "hunter2" not in done.stdout + done.stderr
    assert MASTER not in done.stdout and "42" * 32 not in done.stdout

    def checks(**changes: object) -> dict[str, str]:
        values = {k.removeprefix("TALLY_").lower(): v for k, v in env.items()} | changes
        return statuses(list(run_checks(lambda: Settings(**values))))  # type: ignore[arg-type]

    # Another host recorded another master key: this one's keys are not the deployment's.
    first = Settings(**{k.removeprefix("TALLY_").lower(): v for k, v in env.items()}  # type: ignore[arg-type]
                     | {"master_key": "77" * 32})
    check_deployment_identity(first, open_ledger(first), anchoring=True)
    assert checks()["keys"] == FAIL
    assert checks(master_key="77" * 32) == {name: OK for name in checks(master_key="77" * 32)}
    # A wrong chain id, an anchor key without the role, an IPFS node away, a database away.
    assert checks(master_key="77" * 32, chain_id=1)["chain"] == FAIL
    assert checks(master_key="77" * 32, anchor_key="0x" + "43" * 32)["contract"] == FAIL
    away = checks(master_key="77" * 32, ipfs_url=f"http://127.0.0.1:{free_port()}")
    assert away["ipfs"] == FAIL and away["database"] == OK
    down = list(run_checks(lambda: Settings(home=tmp_path / "home", database_url=db_url.replace(
        "127.0.0.1:5432", f"127.0.0.1:{free_port()}"), rpc_url=chain.url, contract_address=contract.address)))
    assert statuses(down)["database"] == FAIL and down[1].exit_code == ExitCode.UNAVAILABLE
    assert statuses(down)["ipfs"] == SKIP
