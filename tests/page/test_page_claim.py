"""Claiming from the contributor page: TallyRewards over the anchor on anvil, a balance anchored
by the real anchorer, the page's Claim button sent by a wallet (an injected stand-in provider, as
a wallet extension cannot be installed here; tests/page/claim_page.mjs), and the claim module's
encoding held to ethers.js and the compiled ABI (claim_cases.test.mjs)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from eth_account import Account

from anchoring.devchain import DEV_FUNDED_KEY
from anchoring.rewards import DEV_UNITS_PER_POINT
from tests.anchoring_e2e.conftest import anchor_all, real_conversations, stack  # noqa: F401  (fixture)
from tests.anchoring_e2e.test_claims import ALICE, ALICE_KEY, Rewarded, rewarded  # noqa: F401  (fixture)
from tests.page.conftest import ARTIFACTS, CHROMIUM, ROOT, require_browser, require_node

pytestmark = pytest.mark.node

HERE = Path(__file__).resolve().parent


def test_the_claim_module_encodes_and_decodes_as_ethers_does() -> None:
    require_node()
    done = subprocess.run(["node", "--test", str(HERE / "claim_cases.test.mjs")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout


def test_the_page_claims_the_anchored_balance_with_the_wallet(rewarded: Rewarded) -> None:  # noqa: F811
    node = require_browser()
    chain = rewarded.stack
    chain.contribute(real_conversations(4))
    chain.seal()
    anchor_all(chain)
    points = rewarded.balance(ALICE)
    funder = Account.from_key(DEV_FUNDED_KEY)
    chain.w3.eth.wait_for_transaction_receipt(chain.w3.eth.send_raw_transaction(funder.sign_transaction({
        "to": ALICE, "value": 10**18, "gas": 21_000, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9,
        "nonce": chain.w3.eth.get_transaction_count(funder.address), "chainId": 31337}).raw_transaction))

    done = subprocess.run([node, str(HERE / "claim_page.mjs"), json.dumps({
        "baseUrl": rewarded.url, "address": ALICE, "key": ALICE_KEY, "rpcUrl": chain.chain.url, "chainId": 31337,
        "artifacts": str(ARTIFACTS), "chromium": str(CHROMIUM)})], cwd=ROOT, capture_output=True, text=True,
        timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    assert seen.get("failure") is None, seen["failure"]
    units = points * DEV_UNITS_PER_POINT
    assert seen["before"]["claimable"] == f"{points:,}" and seen["before"]["claimed"] == "0"
    assert seen["before"]["disabled"] is False
    assert seen["before"]["help"].startswith(f"Your wallet sends TallyRewards.claim with this balance's proof "
                                             f"in the latest final epoch: {units} units of the token")
    assert seen["status"]["state"] == "ok", seen["status"]
    assert seen["status"]["text"].startswith(f"Claimed: {points:,} points paid as {units} token units to {ALICE} "
                                             "(epoch 1, transaction 0x")
    # The tokens went to the account; the page and the API agree nothing is left.
    assert rewarded.tokens(ALICE) == units
    assert seen["after"] == {"claimed": f"{points:,}", "claimable": "0", "disabled": True,
                             "help": "Nothing to claim: every point anchored in the latest final epoch is paid out."}
    account = rewarded.client.get(f"/v1/accounts/{ALICE}").json()
    assert (account["claimed"], account["claimable"]) == (str(points), "0")
    assert seen["walletCalls"].count("eth_sendTransaction") == 1
    assert seen["consoleErrors"] == []
