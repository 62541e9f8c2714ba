"""The contributor page in real headless Chromium against a live server and anvil.

Real conversations are submitted and signed, two epochs sealed and anchored on a deployed
TallyAnchor, and ``verify_page.mjs`` clicks through the page: a contribution verifies with the
hashes computed in the browser and the roots read from the contract over JSON-RPC; a proof with
one flipped byte fails on the "proof" check; a root invented by the API fails on the "header"
check; the balance verifies; the same at 375 px. Screenshots go to ``test-artifacts/page/``.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from eth_keys import keys
from fastapi.testclient import TestClient

from tally.client import sign_submission
from tests.anchoring_e2e.conftest import Stack, anchor_all, real_conversations
from tests.api.conftest import contributor_key
from tests.page.conftest import ARTIFACTS, CHROMIUM, EXPLORER, ROOT

pytestmark = pytest.mark.node

SCRIPT = ROOT / "tests" / "page" / "verify_page.mjs"
CONTRIBUTION_CHECKS = ["format", "leaf", "chain", "epoch", "transaction", "header", "proof", "contract", "arguments"]


def submit(client: TestClient, items: list[tuple[dict[str, Any], keys.PrivateKey]],
           first_nonce: int) -> list[dict[str, Any]]:
    """Sign and submit each conversation with its key, as the extension does."""
    config = client.get("/v1/config").json()
    now = int(time.time())
    bodies = [sign_submission(config, conversation, key, nonce=first_nonce + i, issued_at=now)
              for i, (conversation, key) in enumerate(items)]
    results = client.post("/v1/contributions:batch", json={"items": bodies}).json()["results"]
    assert all(r["status"] == 201 for r in results), results
    return [r["contribution"] for r in results]


def test_contributor_page_verifies_proofs_in_chromium(browser_node: str, stack: Stack, served: TestClient,
                                                     live_url: str) -> None:
    me, others = contributor_key(0), [contributor_key(1), contributor_key(2)]
    conversations = real_conversations(10)
    # Epoch 1: four of mine among six; epoch 2: two of mine among three; then one still pending.
    epoch1 = submit(served, [(c, me if i % 3 else others[0]) for i, c in enumerate(conversations[:6])], 1)
    stack.seal()
    anchor_all(stack)
    submit(served, [(c, me if i < 2 else others[1]) for i, c in enumerate(conversations[6:9])], 100)
    stack.seal()
    anchor_all(stack)
    pending = submit(served, [(conversations[9], me)], 200)[0]

    address = epoch1[1]["contributor"]
    target = epoch1[1]  # sealed in epoch 1, proved against epoch 2: a proof of several hashes
    bundle = served.get(f"/v1/contributions/{target['id']}/proof").json()
    assert bundle["header"]["epoch"] == 2 and len(bundle["proof"]) >= 2
    account = served.get(f"/v1/accounts/{address}").json()

    started = time.monotonic()
    run = subprocess.run(
        [browser_node, str(SCRIPT), json.dumps({
            "baseUrl": live_url, "address": address, "contributionId": target["id"],
            "rpcUrl": stack.chain.url, "artifacts": str(ARTIFACTS), "chromium": str(CHROMIUM),
        })],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    seen = json.loads(run.stdout or "{}")
    assert run.returncode == 0, f"{seen.get('error')}\n{run.stderr[-2000:]}\n{json.dumps(seen, indent=1)[:4000]}"
    browser_seconds = time.monotonic() - started

    # The account as the API has it, rendered.
    assert seen["account"]["balance"] == f"{int(account['balance']):,}"
    assert seen["account"]["pending"] == f"{int(account['pending']):,}" and int(account["pending"]) > 0
    assert seen["account"]["contributionRows"] == 7
    assert seen["account"]["epochRows"] == ["2", "1"]
    assert seen["account"]["statuses"][str(pending["id"])] == {"status": "pending", "verifyEnabled": False}
    assert seen["account"]["statuses"][str(target["id"])] == {"status": "anchored", "verifyEnabled": True}

    # Verified, every check in order, with the bundle's transaction and explorer arguments shown.
    verified = seen["contribution"]
    assert [c["name"] for c in verified["checks"]] == CONTRIBUTION_CHECKS
    assert all(c["ok"] for c in verified["checks"]), verified["checks"]
    assert verified["summary"].startswith(f"✓ Verified: contribution #{target['id']} is in the log of epoch 2")
    assert verified["fields"] == bundle["verify"]["fields"]
    assert verified["transactionHref"] == f"{EXPLORER}/tx/{bundle['transaction']['hash']}"
    assert verified["readContractHref"] == bundle["explorer"]["readContract"]
    assert verified["focused"], "the result panel takes the focus, so keyboard and screen reader users land on it"
    # The roots came from the chain, over JSON-RPC from the browser, not from our API.
    assert {"eth_chainId", "eth_getCode", "eth_call", "eth_getTransactionReceipt"} <= set(seen["rpcMethods"])

    # One flipped byte in one proof element: the proof check fails, and the checks before it passed.
    tampered = seen["tamperedProof"]
    assert tampered["failedCheck"] == "proof"
    assert [c["name"] for c in tampered["checks"]] == CONTRIBUTION_CHECKS[:CONTRIBUTION_CHECKS.index("proof") + 1]
    assert [c["ok"] for c in tampered["checks"]] == [True] * 6 + [False]
    assert "does not lead to the on-chain root" in tampered["checks"][-1]["text"]
    assert tampered["summary"].startswith("✗ Not verified: the proof check failed")
    assert tampered["rpcCalls"] > 0
    # A log root the API invents is caught against the contract's.
    assert seen["tamperedHeader"]["failedCheck"] == "header"

    balance = seen["balance"]
    assert balance["state"] == "verified" and balance["checks"][-1]["ok"]
    # What is anchored: everything but the points credited after the last epoch.
    assert balance["fields"]["balance"] == str(int(account["balance"]) - int(account["pending"]))
    assert f"the balance of {address[:6]}…{address[-4:]} is {int(balance['fields']['balance']):,} points in epoch 2" \
        in balance["summary"]

    # A phone, its wallet connected: verified too, and nothing wider than the screen.
    assert seen["phoneUrl"] == f"{live_url}/?address={address}"
    assert seen["phone"]["state"] == "verified"
    layout = seen["phone"]["layout"]
    assert layout["viewport"] == 375 and layout["scrollWidth"] <= 375, layout
    assert layout["overflowing"] == [] and layout["tableHeaderHidden"], layout
    # The wallet switched accounts: the page follows it (EIP-1193 accountsChanged).
    switched = "0x000000000000000000000000000000000000dEaD"
    assert seen["switchedUrl"] == f"{live_url}/?address={switched}" and seen["switchedShown"] == switched

    assert seen["consoleErrors"] == []  # no CSP violation, no failed module load, no uncaught error
    for path in map(Path, seen["screenshots"]):
        assert path.is_file() and path.stat().st_size > 10_000, path
    assert browser_seconds < 45, f"the browser run took {browser_seconds:.1f} s"
