"""Claims on a real node: TallyRewards over the anchor, epochs anchored by the real anchorer,
`tally claim` from the data folder and through the API, the tokens it pays and what the
accounts endpoint says about it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from anchoring.devchain import DEV_FUNDED_KEY
from anchoring.rewards import DEV_UNITS_PER_POINT, RewardsDeployment, TallyRewards, deploy_rewards, token_balance
from api.app import create_app
from api.services import Services
from ledger import journal
from ledger.consent import ConsentPolicy, OperatorSigner, Terms
from ledger.deployment import ChainInfo, RewardsInfo
from ledger.eip712 import Domain
from ledger.errors import ExitCode
from ledger.intake import Intake, Limits
from tally.wiring import default_terms
from tests.anchoring_e2e.conftest import Stack, anchor_all, real_conversations
from tests.api.conftest import OPERATOR_KEY
from tests.support.server import ROOT, serving_app

# Stack.contribute signs as the accounts of private keys 1, 2, 3, ...
ALICE_KEY = "0x" + (1).to_bytes(32, "big").hex()
ALICE = Account.from_key(ALICE_KEY).address
BOB = Account.from_key((2).to_bytes(32, "big")).address


@dataclass
class Rewarded:
    stack: Stack
    home: Path
    rewards: RewardsDeployment
    client: TestClient
    url: str

    def tally(self, *args: str, api: bool = False) -> subprocess.CompletedProcess[str]:
        """`tally claim ...` where the data folder is (the ledger, deployment.json, rewards.json),
        or, with ``api``, through the API with no data folder at all."""
        home = self.home if not api else self.home / "elsewhere"
        env = {**os.environ, "TALLY_HOME": str(home), "TALLY_LOG_LEVEL": "warning"}
        if not api:
            env |= {"TALLY_RPC_URL": self.stack.chain.url, "TALLY_CHAIN_ID": "31337",
                    "TALLY_CONTRACT_ADDRESS": self.stack.contract.address}
        extra = ["--api", self.url] if api else []
        return subprocess.run([sys.executable, "-m", "tally.cli", *args, *extra], capture_output=True, text=True,
                              cwd=ROOT, env=env, stdin=subprocess.DEVNULL, timeout=120)

    def balance(self, account: str) -> int:
        with self.stack.sessions() as session:
            return journal.balance_of(session, account).balance

    def tokens(self, account: str) -> int:
        return token_balance(self.stack.w3, self.rewards.token, account)


@pytest.fixture
def rewarded(stack: Stack, tmp_path: Path) -> Iterator[Rewarded]:
    """TallyPoints and a funded TallyRewards over the stack's anchor, recorded in the data folder
    (``tmp_path``, which holds the stack's SQLite ledger and blockstore), and the API serving it
    on a real port."""
    deployment = deploy_rewards(stack.w3, stack.account, stack.contract.address)
    deployment.save(tmp_path)
    info = RewardsInfo(deployment.address, deployment.token, deployment.units_per_point)
    domain = Domain(31337, stack.contract.address)
    intake = Intake(sessions=stack.sessions, store=stack.store,
                    consent=ConsentPolicy(domain, Terms(default_terms()), 600),
                    signer=OperatorSigner(domain, OPERATOR_KEY), limits=Limits(4 << 20, 100, 600))
    services = Services.of(intake, ChainInfo(31337, stack.contract.address, stack.chain.url, None, rewards=info),
                           claims=TallyRewards(stack.w3, deployment.address))
    app = create_app(services)
    with serving_app(app) as url:
        yield Rewarded(stack, tmp_path, deployment, TestClient(app), url)


def test_claims_pay_the_anchored_points_once_and_then_only_what_was_earned_since(
        rewarded: Rewarded, tmp_path: Path) -> None:
    stack, client = rewarded.stack, rewarded.client
    config = client.get("/v1/config").json()
    assert config["rewards"] == {"contract": rewarded.rewards.address, "token": rewarded.rewards.token,
                                 "unitsPerPoint": str(DEV_UNITS_PER_POINT)}
    stack.contribute(real_conversations(4))
    stack.seal()
    before = client.get(f"/v1/accounts/{ALICE}").json()
    assert (before["claimed"], before["claimable"]) == ("0", "0")  # sealed, not anchored yet
    anchor_all(stack)
    first = rewarded.balance(ALICE)
    assert first > 0
    assert client.get(f"/v1/accounts/{ALICE}").json()["claimable"] == str(first)

    # Alice claims with her own key from the data folder; she needs ether for the gas first.
    keyfile = tmp_path / "alice.key"
    keyfile.write_text(ALICE_KEY)
    broke = rewarded.tally("claim", "--key", str(keyfile))
    assert broke.returncode == ExitCode.BAD_INPUT and broke.stderr.count("\n") == 1
    assert broke.stderr.startswith(f"tally: error: {ALICE} has no ether to pay the claim's gas")
    funder = Account.from_key(DEV_FUNDED_KEY)
    stack.w3.eth.wait_for_transaction_receipt(stack.w3.eth.send_raw_transaction(funder.sign_transaction({
        "to": ALICE, "value": 10**18, "gas": 21_000, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9,
        "nonce": stack.w3.eth.get_transaction_count(funder.address), "chainId": 31337}).raw_transaction))
    paid = rewarded.tally("claim", "--key", str(keyfile))
    assert paid.returncode == 0, paid.stderr
    assert paid.stdout.startswith(f"claimed {first} points for {ALICE} in epoch 1 (balance {first}): "
                                  f"{first * DEV_UNITS_PER_POINT} units of the token {rewarded.rewards.token}")
    assert rewarded.tokens(ALICE) == first * DEV_UNITS_PER_POINT
    account = client.get(f"/v1/accounts/{ALICE}").json()
    assert (account["balance"], account["claimed"], account["claimable"]) == (str(first), str(first), "0")

    # Claimed already: refused before anything is sent, in one line.
    again = rewarded.tally("claim", "--key", str(keyfile))
    assert again.returncode == ExitCode.BAD_INPUT, again.stderr
    assert again.stderr == (f"tally: error: nothing to claim: {ALICE} has {first} points in epoch 1 and was paid "
                            f"for {first} already\n")

    # A second epoch: the dev key claims for alice through the API, and pays only what she earned since.
    stack.contribute(real_conversations(17, skip=4))
    stack.seal()
    anchor_all(stack)
    second = rewarded.balance(ALICE)
    assert second > first
    assert client.get(f"/v1/accounts/{ALICE}").json()["claimable"] == str(second - first)
    dev_key = tmp_path / "dev.key"
    dev_key.write_text(DEV_FUNDED_KEY)
    ether = stack.w3.eth.get_balance(ALICE)
    for_alice = rewarded.tally("claim", "--key", str(dev_key), "--account", ALICE, "--json", api=True)
    assert for_alice.returncode == 0, for_alice.stderr
    assert '"epoch": 2' in for_alice.stdout and f'"points": "{second - first}"' in for_alice.stdout
    assert rewarded.tokens(ALICE) == second * DEV_UNITS_PER_POINT
    assert stack.w3.eth.get_balance(ALICE) == ether  # the sender paid the gas, not alice
    assert rewarded.tokens(funder.address) == 0
    account = client.get(f"/v1/accounts/{ALICE}").json()
    assert (account["claimed"], account["claimable"]) == (str(second), "0")
    assert TallyRewards(stack.w3, rewarded.rewards.address).claimed(ALICE) == second

    # Bob never claimed: all of his balance is claimable; an account without points has nothing.
    bob = client.get(f"/v1/accounts/{BOB}").json()
    assert (bob["claimed"], bob["claimable"]) == ("0", str(rewarded.balance(BOB)))
    nobody = rewarded.tally("claim", "--key", str(dev_key), "--account", "0x" + "ab" * 20, api=True)
    assert nobody.returncode == ExitCode.BAD_INPUT and nobody.stderr.count("\n") == 1
    assert "has no balance in epoch 2" in nobody.stderr


def test_claims_are_refused_with_one_line_when_the_setup_is_missing(rewarded: Rewarded, tmp_path: Path) -> None:
    dev_key = tmp_path / "dev.key"
    dev_key.write_text(DEV_FUNDED_KEY)
    nothing = rewarded.tally("claim", "--key", str(dev_key), "--account", ALICE)
    assert nothing.returncode == ExitCode.BAD_INPUT
    assert nothing.stderr == "tally: error: nothing is anchored yet: a claim needs an epoch on-chain\n"
    missing = rewarded.tally("claim", "--key", str(tmp_path / "none.key"))
    assert missing.returncode == ExitCode.BAD_INPUT and "no such key file" in missing.stderr
    (rewarded.home / "rewards.json").unlink()
    unconfigured = rewarded.tally("claim", "--key", str(dev_key))
    assert unconfigured.returncode == ExitCode.BAD_INPUT and unconfigured.stderr.count("\n") == 1
    assert "no rewards contract for the anchor" in unconfigured.stderr
    # Without rewards, the accounts endpoint says nothing about claims.
    services = Services.of(rewarded.client.app.state.services.intake,  # type: ignore[attr-defined]
                           ChainInfo(31337, rewarded.stack.contract.address, None, None))
    bare = TestClient(create_app(services))
    assert bare.get("/v1/config").json()["rewards"] is None
    account = bare.get(f"/v1/accounts/{ALICE}").json()
    assert (account["claimed"], account["claimable"]) == (None, None)
