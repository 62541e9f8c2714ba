"""`tally audit` refuses what is not a TallyAnchor, and never passes over epochs it did not see.

Everything runs against a real anvil: the contracts that are not TallyAnchor are OpenZeppelin's
compiled artifacts from node_modules and tiny runtimes written out opcode by opcode
(`tests/support/evm.py`); the API that disagrees with the chain is our own, after a reorg deeper
than its confirmations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from anchoring.api_view import ApiView, compare_final_epochs
from anchoring.audit import audit
from anchoring.audit_failures import ApiDisagreement, EpochCountMismatch, NoContractError, NotTallyAnchorError
from anchoring.chain import connect
from anchoring.deploy import deploy_tally_anchor
from anchoring.devchain import DEV_FUNDED_KEY, DevChain
from anchoring.identity import IACCESS_CONTROL_ID, ITALLY_ANCHOR_ID
from tests.anchoring_e2e.conftest import Stack, anchor_all, real_conversations, submit_all
from tests.anchoring_e2e.test_finality_break import break_finality
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
    ("lookalike-with-latest", "headerHash(1)", "reverted"),
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


def test_without_contract_the_deployment_record_is_audited_and_named(chain: DevChain, tmp_path: Path) -> None:
    deployment = deploy_tally_anchor(connect(chain.url), Account.from_key(DEV_FUNDED_KEY), admin_delay=60)
    record = deployment.save(tmp_path / "home")
    cli = tally_audit("--rpc", chain.url, "--ipfs", NOWHERE, env={"TALLY_HOME": str(tmp_path / "home")})
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert cli.stdout.startswith(f"chain 31337, contract {deployment.address} (from the deployment record {record})")
    as_json = json.loads(tally_audit("--rpc", chain.url, "--ipfs", NOWHERE, "--json",
                                     env={"TALLY_HOME": str(tmp_path / "home")}).stdout)
    assert as_json["contract"] == deployment.address and as_json["contractFrom"] == str(record)

    # A record of another chain is no address to audit on this one: a usage error.
    other = json.loads(record.read_text()) | {"chainId": 1}
    record.write_text(json.dumps(other))
    cli = tally_audit("--rpc", chain.url, "--ipfs", NOWHERE, env={"TALLY_HOME": str(tmp_path / "home")})
    assert cli.returncode == 2 and cli.stderr.startswith("tally: error: the deployment record") \
        and "pass --contract" in cli.stderr and len(cli.stderr.splitlines()) == 1


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
    for from_block, scanned in ((past, f"the scan starts at block {past}, past the chain's latest"),
                                (blocks[1], f"the EpochAnchored events of blocks {blocks[1]} to {past - 1} show 2")):
        report = audit(stack.chain.url, NOWHERE, stack.contract.address, from_block=from_block)
        assert isinstance(report.failure, EpochCountMismatch), report.failure
        assert report.failure.what == (f"the contract reports 3 anchored epochs (latestEpoch() at block {past - 1}), "
                                       f"but {scanned}; scan from an earlier block (--from-block)")
    cli = tally_audit("--rpc", stack.chain.url, "--ipfs", NOWHERE, "--contract", stack.contract.address,
                      "--from-block", str(past))
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "FAILED: the contract reports 3 anchored epochs" in cli.stdout and "--from-block" in cli.stdout
    assert "passed" not in cli.stdout and "nothing anchored" not in cli.stdout


def test_the_api_s_final_epochs_agree_with_the_chain(stack: Stack, served: TestClient, gateway: str) -> None:
    three_final_epochs(stack, served)
    report = audit(stack.chain.url, gateway, stack.contract.address, api_url=gateway)
    assert report.ok, report.failure
    assert report.api is not None and (report.api.final_epochs, report.api.newest_final) == (3, 3)
    cli = tally_audit("--rpc", stack.chain.url, "--ipfs", gateway, "--contract", stack.contract.address,
                      "--api", gateway)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert f"the API at {gateway} reports 3 final epochs" in cli.stdout and "audit passed" in cli.stdout


def test_an_api_calling_final_what_a_reorg_took_fails(
        stack: Stack, served: TestClient, gateway: str, caplog: pytest.LogCaptureFixture) -> None:
    break_finality(stack, served, caplog)  # the chain holds epoch 1; the ledger still says 1 to 3 are final
    report = audit(stack.chain.url, gateway, stack.contract.address, api_url=gateway)
    assert isinstance(report.failure, ApiDisagreement), report.failure
    assert report.epochs == 1  # what the chain holds audits fine
    cli = tally_audit("--rpc", stack.chain.url, "--ipfs", gateway, "--contract", stack.contract.address,
                      "--api", gateway, "--json")
    assert cli.returncode == 1, cli.stdout + cli.stderr
    failure = json.loads(cli.stdout)["discrepancy"]
    assert failure["code"] == "api-disagrees"
    assert failure["what"] == f"the API at {gateway} reports 3 final epochs (the newest epoch 3); the chain holds 1"


def test_an_unreachable_api_is_a_service_error(stack: Stack) -> None:
    cli = tally_audit("--rpc", stack.chain.url, "--ipfs", NOWHERE, "--contract", stack.contract.address,
                      "--api", NOWHERE)
    assert cli.returncode == 3, cli.stdout + cli.stderr
    assert cli.stderr == f"tally: error: cannot reach the Tally API at {NOWHERE}: ConnectError\n"


def view(**changes: Any) -> ApiView:
    return ApiView(**{"url": "http://api", "chain_id": 31337, "contract": "0xAbC" + "0" * 37, "final_epochs": 3,
                      "newest_final": 3, **changes})


@pytest.mark.parametrize(("api", "chain_epochs", "failure"), [
    (view(), 3, None),
    (view(), 5, None),  # the API may lag behind the chain
    (view(final_epochs=0, newest_final=None), 0, None),
    (view(contract="0xabc" + "0" * 37), 3, None),  # the same address in another case
    (view(), 2, "reports 3 final epochs (the newest epoch 3); the chain holds 2"),
    (view(final_epochs=1, newest_final=4), 3, "reports 1 final epoch (the newest epoch 4); the chain holds 3"),
    (view(final_epochs=2, newest_final=2), 0, "the chain holds 0"),
    (view(contract="0x" + "1" * 40), 3, "anchors on 0x1111111111111111111111111111111111111111 on chain 31337"),
    (view(chain_id=1), 3, "on chain 1, not on the audited"),
])
def test_the_comparison_with_the_api(api: ApiView, chain_epochs: int, failure: str | None) -> None:
    if failure is None:
        compare_final_epochs(api, 31337, "0xAbC" + "0" * 37, chain_epochs)
        return
    with pytest.raises(ApiDisagreement) as caught:
        compare_final_epochs(api, 31337, "0xAbC" + "0" * 37, chain_epochs)
    assert failure in caught.value.what and caught.value.what.startswith("the API at http://api ")
