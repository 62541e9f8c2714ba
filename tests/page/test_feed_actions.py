"""The feed page's contributor actions (/feed) in real headless Chromium against a live server in
privacy mode, anvil and a deployed TallyAnchor (the fixtures of test_feed_page).

A contributor with two contributions connects its wallet, sees both under "Your unpublished
contributions" and publishes one from there; it appears in the feed. Another address, on a
phone-sized screen, remixes it from its card with a contribution of its own picked from the list;
the creator's own remix and like are refused and said in words on the card. After a seal and
its anchoring the creator's history holds exactly one engagement credit, the remix's. The creator
then withdraws it from its card: it leaves the page, GET /v1/feed and GET /v1/feed/{id}, and is
back among the unpublished. Before that, its wallet switches to the other address, disconnects and
comes back, and the page follows each change (EIP-1193 accountsChanged). The wallet is the
stand-in EIP-1193 provider (tests/js/wallet_stand_in.mjs), since a wallet extension cannot be
installed in the test browser.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pytest
from eth_keys.datatypes import PrivateKey
from fastapi.testclient import TestClient

from ledger.conversation import normalise
from tally.client import sign_submission
from tests.anchoring_e2e.conftest import Stack, anchor_all, real_conversations
from tests.anchoring_e2e.conftest import stack as stack
from tests.api.conftest import contributor_key
from tests.page.conftest import ARTIFACTS, CHROMIUM, ROOT, require_browser
from tests.page.test_feed_page import private_live as private_live

pytestmark = pytest.mark.node

SCRIPT = ROOT / "tests" / "page" / "feed_actions.mjs"


def _run(node: str, url: str, phase: str, **ids: object) -> dict[str, Any]:
    keys = {"creatorKey": contributor_key(0), "fanKey": contributor_key(1)}
    run = subprocess.run([node, str(SCRIPT), json.dumps({
        "baseUrl": url, "phase": phase, "chromium": str(CHROMIUM), "artifacts": str(ARTIFACTS), **ids,
        **{name: "0x" + key.to_bytes().hex() for name, key in keys.items()}})],
        capture_output=True, text=True, cwd=ROOT, timeout=180)
    seen: dict[str, Any] = json.loads(run.stdout or "{}")
    assert run.returncode == 0, f"{seen.get('error')}\n{run.stderr[-2000:]}"
    # Only the refusals the test provokes (403 one's own, 422 someone else's remix) may show in the console.
    assert all("403" in error or "422" in error for error in seen["consoleErrors"]), seen["consoleErrors"]
    return seen


def _submit(client: TestClient, conversation: dict[str, Any], key: PrivateKey, nonce: int) -> dict[str, Any]:
    config = client.get("/v1/config").json()
    canonical = normalise(conversation).to_canonical()
    body = sign_submission(config, {"model": canonical["model"], "messages": canonical["messages"]}, key,
                           nonce=nonce, issued_at=int(time.time()))
    answer = client.post("/v1/contributions", json=body)
    assert answer.status_code == 201, answer.json()
    return dict(answer.json())


def test_a_contributor_publishes_is_remixed_and_withdraws_from_the_feed_page(
        stack: Stack, private_live: tuple[TestClient, str]) -> None:
    node = require_browser()
    client, url = private_live
    first, second, theirs = real_conversations(3)
    mine, spare = _submit(client, first, contributor_key(0), 1), _submit(client, second, contributor_key(0), 2)
    fans = _submit(client, theirs, contributor_key(1), 1)
    ids = {"mine": mine["id"], "spareContentHash": spare["contentHash"], "fanContentHash": fans["contentHash"]}

    seen = _run(node, url, "engage", **ids)
    assert (seen["feedBefore"], seen["withdrawBeforeConnect"]) == (0, 0)
    assert seen["account"] == f"Connected: {mine['contributor']}"
    assert seen["unpublishedBefore"] == [spare["id"], mine["id"]]  # newest first
    published = seen["published"]
    assert published["notice"] == f"Contribution {mine['id']} is in the feed."
    assert published["unpublishedAfter"] == [spare["id"]] and published["withdrawOnCard"] == 1
    assert published["creator"] == mine["contributor"]
    assert [item["id"] for item in client.get("/v1/feed").json()["items"]] == [mine["id"]]

    remix = seen["remix"]
    assert remix["choices"] == [fans["contentHash"]], "the remixer picks among its own contributions"
    assert remix["withdrawOnOthersCard"] == 0
    assert remix["malformed"].startswith("Not remixed: choose one of your contributions, or paste its contentHash")
    assert remix["notTheirs"].startswith("Not remixed:") and "actor's own" in remix["notTheirs"]
    assert (remix["before"], remix["after"], remix["formHidden"]) == (0, 1, True)
    assert remix["status"] == f"Remixed: {mine['contributor'][:6]}…{mine['contributor'][-4:]} earned 5 points."
    assert remix["overflowWithForm"] <= 0, "the remix form fits a phone's width"

    own = seen["own"]
    assert own["remix"].startswith("Not remixed:") and "earns nothing" in own["remix"]
    assert own["like"].startswith("Not liked:") and "earns nothing" in own["like"]
    assert (own["remixes"], own["likes"], own["overflow"]) == (1, 0, 0)
    # Publish, the refused and the counted remix, the creator's refused remix and like: five
    # signatures, each the wallet's (the malformed contentHash is refused before signing).
    assert seen["walletCalls"].count("eth_signTypedData_v4") == 5
    (item,) = client.get("/v1/feed").json()["items"]
    assert (item["likes"], item["remixes"]) == (0, 1)

    stack.seal()
    anchor_all(stack)
    history = client.get(f"/v1/accounts/{mine['contributor']}?limit=500").json()["history"]["items"]
    assert [entry["amount"] for entry in history if entry["kind"] == "engagement"] == ["5"]
    account = client.get(f"/v1/accounts/{mine['contributor']}").json()
    assert int(account["balance"]) == int(mine["points"]) + int(spare["points"]) + 5
    fan = client.get(f"/v1/accounts/{fans['contributor']}").json()
    assert int(fan["balance"]) == int(fans["points"]), "remixing credits the creator, never the remixer"

    last = _run(node, url, "withdraw", **ids)
    # The wallet switched to the fan's account: its list, and no Withdraw on the creator's card.
    assert last["switched"] == {"account": f"Connected: {fans['contributor']}", "unpublished": [fans["id"]],
                                "withdrawOnCard": 0}
    assert last["disconnected"] == {"mineHidden": True, "accountHidden": True, "withdrawOnCard": 0}
    assert last["back"] == {"account": f"Connected: {mine['contributor']}", "unpublished": [spare["id"]],
                            "withdrawOnCard": 1}
    withdrawn = last["withdrawn"]
    assert withdrawn["notice"] == f"Contribution {mine['id']} was withdrawn: it is no longer in the feed."
    assert withdrawn["unpublished"] == [spare["id"], mine["id"]]
    assert withdrawn["cardsAfterReload"] == []
    assert client.get("/v1/feed").json()["items"] == []
    assert client.get(f"/v1/feed/{mine['id']}").status_code == 404
    listed = client.get(f"/v1/accounts/{mine['contributor']}/contributions").json()["items"]
    assert {c["id"]: c["published"] for c in listed} == {spare["id"]: False, mine["id"]: False}
