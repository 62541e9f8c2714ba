"""A newcomer's account on the contributor page, from pending to verified, in real Chromium.

Another contributor's epoch 1 is sealed and anchored; then a newcomer submits two real
conversations and opens the page. The sealing schedule (``/v1/config`` ``sealing``) says when
the next epoch is due; the test seals it once it is due, as the sealing job would, then
anchors it on anvil. ``pending_page.mjs`` reports what the page shows at each step, never
reloading it:

- pending: "Verify balance" is off with a neutral note (not the red failure box) saying it waits
  for the next epoch, sealed "in about N s", counting down; the rows say "Not yet"; the storage
  says where the bytes really are, with no IPFS node configured;
- sealed: the page notices by itself; still "not yet", now naming the epoch;
- final: both verifications pass against the contract, and the page stops refreshing.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.sealing import SealSchedule
from tests.anchoring_e2e.conftest import Stack, anchor_all, real_conversations
from tests.api.conftest import contributor_key
from tests.page.conftest import ARTIFACTS, CHROMIUM, ROOT
from tests.page.test_contributor_page import submit
from tests.support.line_scripts import LineScript, line_script

pytestmark = pytest.mark.node

SCRIPT = ROOT / "tests" / "page" / "pending_page.mjs"
DUE_IN = 12
"""Seconds from the newcomer's submission to the next seal: long enough to see a countdown,
short enough for a test."""

NOT_YET_FETCHES = re.compile(r"Failed to load resource: the server responded with a status of (404|409)")


@contextmanager
def page_script(node: str, arguments: dict[str, Any]) -> Iterator[LineScript]:
    with line_script([node, str(SCRIPT), json.dumps(arguments)], timeout=150) as script:
        yield script


def short(cid: str) -> str:
    return f"{cid[:6]}…{cid[-4:]}"


def test_a_pending_account_is_not_yet_verifiable_then_verifies_once_final(
        browser_node: str, stack: Stack, served: TestClient, live_url: str) -> None:
    conversations = real_conversations(4)
    submit(served, [(c, contributor_key(1)) for c in conversations[:2]], 1)
    stack.seal()
    anchor_all(stack)
    # The schedule: the next seal is due DUE_IN seconds from now (the interval counts from the
    # last seal, epoch 1's).
    last_sealed = served.get("/v1/config").json()["sealing"]["lastSealedAt"]
    interval = math.ceil(time.time() - last_sealed) + DUE_IN
    app = served.app
    app.state.services = replace(app.state.services, sealing=SealSchedule(interval=interval))  # type: ignore[attr-defined]

    mine = submit(served, [(c, contributor_key(4)) for c in conversations[2:]], 1)
    address, target = mine[0]["contributor"], mine[-1]
    config = served.get("/v1/config").json()
    assert config["storage"] == {"ipfsPinning": False}
    sealing = config["sealing"]
    assert sealing["pendingContributions"] == 2 and sealing["nextSealAt"] == last_sealed + interval
    # The newcomer's points are in no epoch: the API has no proof for them yet.
    assert served.get(f"/v1/accounts/{address}/proof").status_code == 404
    assert served.get(f"/v1/contributions/{target['id']}/proof").status_code == 409

    with page_script(browser_node, {"baseUrl": live_url, "address": address, "contributionId": target["id"],
                                    "artifacts": str(ARTIFACTS), "chromium": str(CHROMIUM)}) as browser:
        pending = browser.expect("pending")
        seen = pending["state"]
        # Not yet, and not a failure: the button is off and a neutral note says what it waits for.
        assert seen["result"] is None, seen["result"]
        assert seen["verifyBalanceDisabled"] and seen["balanceWaitingFor"] == "pending"
        assert seen["balanceNote"].startswith("Not verifiable yet: none of these points is in an epoch."), seen
        assert "verifiable once the next epoch is sealed and final on-chain" in seen["balanceNote"]
        # When the next seal is due, from /v1/config, relative and counting down.
        assert re.search(r"Next epoch sealed in about \d+ s\.$", seen["balanceNote"]), seen["balanceNote"]
        first, later = pending["countdown"]
        assert 0 < first <= DUE_IN + 1 and later < first, pending["countdown"]
        assert re.fullmatch(r"Next epoch sealed in about \d+ s\.", seen["epochsNextSeal"] or ""), seen
        row = seen["rows"][str(target["id"])]
        assert row["status"] == "pending"
        assert row["button"]["text"] == "Not yet" and row["button"]["disabled"]
        assert "verifiable once the next epoch is sealed and final" in row["statusCell"]
        # No IPFS node: stored here and served by our gateway, never "pinning to IPFS".
        assert row["storage"] == f"stored locally (served at /ipfs/{short(target['cid'])})"
        assert row["storageHref"] == f"/ipfs/{target['cid']}?format=car"
        assert seen["polling"] == "true"
        # A click the page did not expect (its view out of date): the server's 404 is "not yet".
        stale = seen["staleBalanceClick"]
        assert stale["state"] == "not-yet" and "failed" not in stale["className"], stale
        assert stale["summary"] == f"Not verifiable yet: {address} has no balance in epoch 1.", stale
        assert stale["notYet"].startswith("Not verifiable yet: none of these points is in an epoch."), stale
        assert re.search(r"Next epoch sealed in about \d+ s\.$", stale["notYet"]), stale
        assert pending["state"]["afterStaleClick"]["verifyBalanceDisabled"]

        # Sealed when due, as the sealing job does.
        time.sleep(max(0.0, sealing["nextSealAt"] - time.time()))
        assert stack.seal() == 2
        browser.say("sealed")
        seen = browser.expect("sealed")["state"]
        assert seen["sameDocument"], "the page was reloaded"
        row = seen["rows"][str(target["id"])]
        assert row["status"] == "sealed" and row["button"] == {
            "text": "Not yet", "disabled": True,
            "name": f"Not yet: contribution {target['id']} is in epoch 2, waiting to be anchored on-chain: "
                    "verifiable once it is final"}
        assert seen["verifyBalanceDisabled"] and seen["balanceWaitingFor"] == "sealed"
        assert seen["balanceNote"].startswith("Not verifiable yet: these points are in epoch 2, which is sealed")
        assert seen["epochStates"][0] == "sealed"
        assert seen["epochsNextSeal"].startswith("No contribution is waiting"), seen["epochsNextSeal"]
        # The contribution's proof needs a final epoch: the server's 409 is "not yet" too.
        stale = seen["staleContributionClick"]
        assert stale["state"] == "not-yet" and "failed" not in stale["className"], stale
        assert stale["notYet"] == (f"Contribution #{target['id']} is in epoch 2, waiting to be anchored on-chain: "
                                   "verifiable once it is final."), stale

        anchor_all(stack)
        browser.say("anchored")
        done = browser.expect("done")
        seen = done["state"]
        assert seen["sameDocument"], "the page was reloaded"
        row = seen["rows"][str(target["id"])]
        assert row["status"] == "anchored" and row["button"]["text"] == "Verify" and not row["button"]["disabled"]
        assert seen["balanceNote"] is None and not seen["verifyBalanceDisabled"]
        points = sum(int(c["points"]) for c in mine)
        assert seen["balanceResult"]["state"] == "verified", seen["balanceResult"]
        assert f"is {points:,} points in epoch 2" in seen["balanceResult"]["summary"]
        assert seen["contributionResult"]["state"] == "verified", seen["contributionResult"]
        assert seen["after"]["polling"] == "false"  # nothing pending: no more requests
        # The only failed requests are the two proofs asked for on purpose before they existed.
        assert len(done["consoleErrors"]) == 2 and all(NOT_YET_FETCHES.search(e) for e in done["consoleErrors"]), \
            done["consoleErrors"]
