"""The feed page (/feed) in real headless Chromium against a live server in privacy mode, anvil and
a deployed TallyAnchor.

A contribution with two generated images (a PNG and a JPEG) is submitted and published (its
contributor's EIP-712 Publish, signed with eth-account), appears in the feed with its images drawn,
and ``feed_page.mjs`` likes it from the page with two other
addresses and once with its creator's, whose like is refused. The wallet is a stand-in: an
EIP-1193 provider injected as ``window.ethereum`` that signs ``eth_signTypedData_v4`` with ethers
in Node, because a wallet extension cannot be installed here. After a seal and its anchoring the
creator's history holds exactly two engagement credits and ``tally audit`` passes; withdrawing
takes the contribution out of the feed and the API, and after publishing it again, erasing does
too while its proof still verifies against the chain.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from anchoring.audit import audit
from anchoring.verify import verify_contribution
from api.app import Services, create_app
from api.auth import ApiKeys
from ledger.consent import ConsentPolicy, OperatorSigner, Terms
from ledger.content import cid_of
from ledger.conversation import normalise
from ledger.deployment import ChainInfo
from ledger.eip712 import Domain
from ledger.intake import Intake, Limits
from tally.client import sign_submission
from tally.wiring import default_terms
from tests.anchoring_e2e.conftest import Stack, anchor_all, real_conversations
from tests.anchoring_e2e.conftest import stack as stack
from tests.api.conftest import OPERATOR_KEY, contributor_key
from tests.api.test_feed import sign_typed
from tests.images.images import image_bytes
from tests.page.conftest import ARTIFACTS, CHROMIUM, ROOT, require_browser
from tests.support.server import serving_app

pytestmark = pytest.mark.node

SCRIPT = ROOT / "tests" / "page" / "feed_page.mjs"
ADMIN = {"Authorization": "Bearer admin-key"}


@pytest.fixture
def private_live(stack: Stack) -> Iterator[tuple[TestClient, str]]:
    """The app on ``stack`` in privacy mode with an admin key, in process and on a real port."""
    domain = Domain(31337, stack.contract.address)
    intake = Intake(sessions=stack.sessions, store=stack.store,
                    consent=ConsentPolicy(domain, Terms(default_terms()), 600),
                    signer=OperatorSigner(domain, OPERATOR_KEY), limits=Limits(4 << 20, 100, 600),
                    master_key=os.urandom(32))
    app = create_app(Services.of(intake, ChainInfo(31337, stack.contract.address, stack.chain.url, None),
                                 keys=ApiKeys.of(admin="admin-key")))
    with serving_app(app) as url:
        yield TestClient(app), url


def publish(client: TestClient, contribution: dict[str, object], visible: bool, nonce: int) -> dict[str, object]:
    config = client.get("/v1/config").json()
    now = int(time.time())
    message = {"contributor": contribution["contributor"], "contentHash": contribution["contentHash"],
               "visible": visible, "nonce": nonce, "issuedAt": now}
    answer = client.post(f"/v1/contributions/{contribution['id']}:publish", json={
        "visible": visible, "nonce": str(nonce), "issuedAt": now,
        "signature": sign_typed(config, "publish", message, contributor_key(0))})
    assert answer.status_code == 200, answer.json()
    return dict(answer.json())


def test_a_published_contribution_is_liked_from_the_feed_page_and_its_creator_credited(
        stack: Stack, private_live: tuple[TestClient, str]) -> None:
    node = require_browser()
    client, url = private_live
    config = client.get("/v1/config").json()
    canonical = normalise(real_conversations(1)[0]).to_canonical()
    images = [image_bytes("PNG", 1, (64, 48)), image_bytes("JPEG", 2, (48, 64))]
    cids = [cid_of(data) for data in images]
    canonical["messages"][1]["images"] = cids  # an answer with two generated images (§2, version 2)
    conversation = {"model": canonical["model"], "messages": canonical["messages"]}
    body = sign_submission(config, conversation, contributor_key(0), nonce=1, issued_at=int(time.time()),
                           images=images)
    mine = client.post("/v1/contributions", json=body).json()
    assert mine["score"]["version"] == "quality-v3", mine
    assert client.get("/v1/feed").json()["items"] == []
    publish(client, mine, True, 1)
    assert [item["id"] for item in client.get("/v1/feed").json()["items"]] == [mine["id"]]

    keys = [contributor_key(1), contributor_key(2), contributor_key(0)]
    run = subprocess.run([node, str(SCRIPT), json.dumps({
        "baseUrl": url, "contributionId": mine["id"], "walletKeys": ["0x" + k.to_bytes().hex() for k in keys],
        "chromium": str(CHROMIUM), "artifacts": str(ARTIFACTS)})],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    seen = json.loads(run.stdout or "{}")
    assert run.returncode == 0, f"{seen.get('error')}\n{run.stderr[-2000:]}"
    assert seen["consoleErrors"] == [] or all("403" in e for e in seen["consoleErrors"]), seen["consoleErrors"]
    first, second, own = seen["likes"]
    assert (first["before"], first["after"], second["after"], own["after"]) == (0, 1, 2, 2)
    assert first["status"].startswith("Liked:") and second["status"].startswith("Liked:")
    assert own["status"].startswith("Not liked:") and "earns nothing" in own["status"]
    assert first["creator"] == mine["contributor"] and first["proofHref"] == f"/v1/contributions/{mine['id']}/proof"
    card = client.get(f"/v1/feed/{mine['id']}").json()
    assert first["preview"] == card["preview"] != ""
    assert card["conversation"]["messages"][0]["content"].startswith(card["preview"])  # in the clear
    assert seen["walletCalls"].count("eth_signTypedData_v4") == 3
    assert client.get("/v1/feed").json()["items"][0]["likes"] == 2
    # The images: in the feed item, drawn on the page at their sizes, and served in the clear by the
    # feed although privacy mode stores them sealed (the gateway has no plaintext image).
    assert client.get("/v1/feed").json()["items"][0]["images"] == cids
    assert first["images"] == [{"src": f"/v1/feed/{mine['id']}/images/{cid}", "width": w, "height": h}
                               for cid, (w, h) in zip(cids, [(64, 48), (48, 64)], strict=True)]
    for cid, data in zip(cids, images, strict=True):
        served = client.get(f"/v1/feed/{mine['id']}/images/{cid}")
        assert served.status_code == 200 and served.content == data and cid_of(served.content) == cid
        assert served.headers["content-type"] == ("image/png" if data.startswith(b"\x89PNG") else "image/jpeg")
        assert client.get(f"/ipfs/{cid}", headers={"Accept": "application/vnd.ipld.raw"}).status_code == 404
    assert client.get(f"/v1/feed/{mine['id']}/images/{cid_of(b'not one of its images')}").status_code == 404

    stack.seal()
    anchor_all(stack)
    history = client.get(f"/v1/accounts/{mine['contributor']}?limit=500").json()["history"]["items"]
    credits = [entry for entry in history if entry["kind"] == "engagement"]
    assert [entry["amount"] for entry in credits] == ["1", "1"]
    account = client.get(f"/v1/accounts/{mine['contributor']}").json()
    assert int(account["balance"]) == int(mine["points"]) + 2 and account["pending"] == "0"
    report = audit(stack.chain.url, url, stack.contract.address)
    assert report.ok, report.discrepancy

    publish(client, mine, False, 2)
    assert client.get("/v1/feed").json()["items"] == []
    assert client.get(f"/v1/feed/{mine['id']}").status_code == 404
    publish(client, mine, True, 3)
    assert client.post(f"/v1/contributions/{mine['id']}:erase", headers=ADMIN).status_code == 200
    assert client.get("/v1/feed").json()["items"] == []
    assert client.get(f"/v1/feed/{mine['id']}").status_code == 404
    assert client.get(f"/v1/feed/{mine['id']}/images/{cids[0]}").status_code == 404
    proof = client.get(f"/v1/contributions/{mine['id']}/proof").json()
    assert verify_contribution(proof, stack.chain.url)
