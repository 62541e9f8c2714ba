"""`tally audit` refuses what is not a TallyAnchor, and never passes over epochs it did not see.

Everything runs against a real anvil: the contracts that are not TallyAnchor are OpenZeppelin's
compiled artifacts from node_modules and tiny runtimes written out opcode by opcode
(`tests/support/evm.py`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from anchoring.audit import audit
from anchoring.audit_failures import EpochCountMismatch, NoContractError, NotTallyAnchorError
from anchoring.chain import connect
from anchoring.deploy import deploy_tally_anchor
from anchoring.devchain import DEV_FUNDED_KEY, DevChain
from anchoring.identity import IACCESS_CONTROL_ID, ITALLY_ANCHOR_ID
from tests.anchoring_e2e.conftest import Stack, anchor_all, real_conversations, submit_all
from tests.support import evm
from tests.support.anvil import anvil
from tests.support.server import ROOT

NOWHERE = "http://127.0.0.1:9"  # no manifest is fetched when the audit stops before the epochs


def tally_audit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tally.cli", "audit", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevChain]:
    with anvil(tmp_path_factory.mktemp("chain")) as node:
        yield node


@pytest.fixture(scope="module")
def others(chain: DevChain) -> dict[str, str]:
    """Contracts that are not TallyAnchor, by what they are, deployed once."""
    w3, account = connect(chain.url), Account.from_key(DEV_FUNDED_KEY)
    timelock = evm.openzeppelin_init_code("TimelockController", ["uint256", "address[]", "address[]", "address"],
                                          [0, [], [], account.address])  # AccessControl and ERC-165, like ours
    codes = {
        "timelock": timelock,
        "erc6909": evm.openzeppelin_init_code("ERC6909"),  # a token with ERC-165
        "reverting": evm.init_code(evm.reverting()),
        "returning-one": evm.init_code(evm.returning_one()),
        "lookalike": evm.init_code(evm.erc165_lookalike(ITALLY_ANCHOR_ID, latest_epoch=False)),
        "lookalike-with-latest": evm.init_code(evm.erc165_lookalike(ITALLY_ANCHOR_ID, latest_epoch=True)),
    }
    return {name: evm.deploy_code(w3, account, init) for name, init in codes.items()}


def test_interface_ids_are_the_standard_ones() -> None:
    assert IACCESS_CONTROL_ID.hex() == "7965db0b"  # OpenZeppelin's type(IAccessControl).interfaceId


def test_an_address_without_code_fails_naming_address_and_chain(chain: DevChain) -> None:
    address = "0x0000000000000000000000000000000000000001"
    report = audit(chain.url, NOWHERE, address)
    assert isinstance(report.failure, NoContractError) and not report.ok
    cli = tally_audit("--rpc", chain.url, "--ipfs", NOWHERE, "--contract", address)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert f"FAILED: no contract at {address} on chain 31337" in cli.stdout and "passed" not in cli.stdout
    as_json = json.loads(tally_audit("--rpc", chain.url, "--ipfs", NOWHERE, "--contract", address, "--json").stdout)
    assert as_json["ok"] is False and as_json["discrepancy"]["code"] == "no-contract"


@pytest.mark.parametrize(("name", "call", "how"), [
    ("timelock", f"supportsInterface(0x{ITALLY_ANCHOR_ID.hex()}) (ITallyAnchor)", "answered false"),
    ("erc6909", "supportsInterface(0x7965db0b) (IAccessControl)", "answered false"),
    ("reverting", "supportsInterface(0x01ffc9a7) (ERC-165)", "reverted"),
    ("returning-one", "supportsInterface(0xffffffff) (ERC-165's invalid id)", "answered true"),
    ("lookalike", "latestEpoch()", "reverted"),
    ("lookalike-with-latest", "epochs(1)", "reverted"),
])
def test_a_contract_that_is_not_a_tally_anchor_fails_naming_the_call(
        chain: DevChain, others: dict[str, str], name: str, call: str, how: str) -> None:
    report = audit(chain.url, NOWHERE, others[name])
    assert isinstance(report.failure, NotTallyAnchorError), report.failure
    assert report.failure.call == call and how in report.failure.what
    cli = tally_audit("--rpc", chain.url, "--ipfs", NOWHERE, "--contract", others[name])
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert f"does not answer as TallyAnchor does: {call} {how}" in cli.stdout
    assert "passed" not in cli.stdout and "nothing anchored" not in cli.stdout


def test_a_redeploy_with_other_constructor_arguments_passes_with_nothing_anchored(chain: DevChain) -> None:
    w3 = connect(chain.url)
    other = Account.create()
    deployment = deploy_tally_anchor(w3, Account.from_key(DEV_FUNDED_KEY), admin=other.address,
                                     anchorer=other.address, admin_delay=7)
    cli = tally_audit("--rpc", chain.url, "--ipfs", NOWHERE, "--contract", deployment.address)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "nothing anchored yet on this contract" in cli.stdout and "audit passed" not in cli.stdout
    as_json = json.loads(tally_audit("--rpc", chain.url, "--ipfs", NOWHERE, "--contract", deployment.address,
                                     "--json").stdout)
    assert as_json["ok"] is True and (as_json["latestEpoch"], as_json["epochs"]) == (0, 0)


def three_final_epochs(stack: Stack, served: TestClient) -> list[int]:
    """The blocks each of three anchored epochs was logged in."""
    blocks = []
    for part in range(3):
        submit_all(served, real_conversations(3, skip=3 * part), first_key=part)
        stack.seal()
        anchor_all(stack)
        blocks.append(stack.contract.events.EpochAnchored.get_logs(from_block=0)[-1]["blockNumber"])
    return blocks


def test_events_scanned_past_the_anchors_fail_naming_the_numbers(stack: Stack, served: TestClient) -> None:
    blocks = three_final_epochs(stack, served)
    past = stack.w3.eth.block_number + 1
    for from_block, seen in ((past, 0), (blocks[1], 2)):
        report = audit(stack.chain.url, NOWHERE, stack.contract.address, from_block=from_block)
        assert isinstance(report.failure, EpochCountMismatch), report.failure
        assert "reports 3 anchored epochs" in report.failure.what and f"show {seen}" in report.failure.what
    cli = tally_audit("--rpc", stack.chain.url, "--ipfs", NOWHERE, "--contract", stack.contract.address,
                      "--from-block", str(past))
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "FAILED: the contract reports 3 anchored epochs" in cli.stdout and "--from-block" in cli.stdout
    assert "passed" not in cli.stdout and "nothing anchored" not in cli.stdout
