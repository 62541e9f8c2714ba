"""`tally deploy` and `tally serve` on the embedded defaults, as a person runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from anchoring.chain import connect
from anchoring.devchain import DEV_FUNDED_KEY
from anchoring.rewards import DEV_SUPPLY, TallyRewards
from anchoring.verify import verify_contribution
from ledger.errors import ExitCode
from tally.client import submit_conversation
from tests.api.conftest import contributor_key, sample_conversation
from tests.support.anvil import anvil
from tests.support.server import ROOT, free_port, tally_server
from tests.support.worker import wait_for


def tally(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tally.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env})


def test_deploy_records_the_contract_and_refuses_bad_input(tmp_path: Path) -> None:
    keyfile = tmp_path / "deployer.key"
    keyfile.write_text(DEV_FUNDED_KEY)
    env = {"TALLY_HOME": str(tmp_path / "home")}
    with anvil(tmp_path / "chain") as chain:
        bad = tally("deploy", "--rpc", chain.url, "--key", str(keyfile), "--admin", "0x123", env=env)
        assert bad.returncode == ExitCode.BAD_INPUT
        assert bad.stderr.startswith("tally: error: Invalid value for '--admin'") and bad.stderr.count("\n") == 1
        assert not (tmp_path / "home" / "deployment.json").exists()
        done = tally("deploy", "--rpc", chain.url, "--key", str(keyfile), env=env)
        assert done.returncode == 0, done.stderr
        record = json.loads((tmp_path / "home" / "deployment.json").read_text())
        assert record["chainId"] == 31337 and connect(chain.url).eth.get_code(record["address"])
        assert DEV_FUNDED_KEY[2:] not in done.stdout + done.stderr
        # TallyPoints and TallyRewards over the new anchor, with the whole supply in the pool.
        rewards = json.loads((tmp_path / "home" / "rewards.json").read_text())
        assert json.loads(done.stdout)["rewards"]["address"] == rewards["address"]
        assert (rewards["anchor"], rewards["unitsPerPoint"], rewards["tokenDeployed"]) == (
            record["address"], str(10**18), True)
        contract = TallyRewards(connect(chain.url), rewards["address"])
        assert contract.code_matches_artifact() and contract.token() == rewards["token"]
        assert contract.pool() == int(rewards["funded"]) == DEV_SUPPLY
        bare = tally("deploy", "--rpc", chain.url, "--key", str(keyfile), "--no-rewards", env=env)
        assert bare.returncode == 0, bare.stderr
        assert "rewards" not in json.loads(bare.stdout) and not (tmp_path / "home" / "rewards.json").exists()
    unreachable = tally("deploy", "--rpc", "http://127.0.0.1:9", "--key", str(keyfile), env=env)
    assert unreachable.returncode == ExitCode.UNAVAILABLE and "cannot reach" in unreachable.stderr


def test_serve_on_embedded_defaults_starts_a_chain_deploys_once_and_reuses_it(tmp_path: Path) -> None:
    home = tmp_path / ".tally"
    env = {"TALLY_ANVIL_PORT": str(free_port()), "TALLY_SEAL_INTERVAL": "1"}
    with tally_server(home, env=env) as url:
        first = httpx.get(url + "/v1/config").json()
        assert connect(first["rpcUrl"]).eth.get_code(first["contract"])
        # The dev chain also gets a funded TallyRewards over the anchor, published with its token.
        assert TallyRewards(connect(first["rpcUrl"]), first["rewards"]["contract"]).anchor() == first["contract"]
        # The jobs inside `tally serve` seal and anchor what comes in.
        submitted = submit_conversation(url, sample_conversation("serve"), contributor_key(5), nonce=1,
                                        issued_at=int(time.time()))
        wait_for(lambda: [e["state"] for e in httpx.get(url + "/v1/epochs").json()["items"]] == ["final"], 60,
                 "the served contribution's epoch to be final")
        proof = httpx.get(f"{url}/v1/contributions/{submitted['id']}/proof").json()
        assert verify_contribution(proof, first["rpcUrl"])
    with tally_server(home, env=env) as url:
        second = httpx.get(url + "/v1/config").json()
    assert second["contract"] == first["contract"] and second["operator"] == first["operator"]
    assert second["rewards"] == first["rewards"]
    assert (home / "chain" / "anvil-state.json").is_file() and (home / "deployment.json").is_file()


def test_a_killed_serve_leaves_no_orphaned_dev_chain(tmp_path: Path) -> None:
    import signal

    from anchoring.devchain import rpc_ready

    port = free_port()
    env = {**os.environ, "TALLY_HOME": str(tmp_path / ".tally"), "TALLY_ANVIL_PORT": str(port),
           "TALLY_PORT": str(free_port()), "TALLY_LOG_LEVEL": "warning"}
    process = subprocess.Popen([sys.executable, "-m", "tally.cli", "serve"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    chain_url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: rpc_ready(chain_url) and (tmp_path / ".tally" / "deployment.json").exists(), 60,
                 "the dev chain and the deployment")
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # a crash: no clean shutdown runs
        process.wait()
    wait_for(lambda: not rpc_ready(chain_url), 15, "the dev chain to stop with its parent")
