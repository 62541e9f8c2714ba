"""The extension as a contributor uses it: their ChatGPT history, a selection signed once with
their wallet, each contribution followed to the chain and verified there.

Playwright (tests/clients/extension_history_e2e.mjs) plays the user in headless Chromium with the
unpacked extension; Tally's real API (with CORS for the extension's origin) and anvil with the
deployed anchor contract run behind it. chatgpt.com and the wallet are the two stand-ins, as
neither can exist here: the first is answered from recorded shapes (tests/clients/chatgpt_backend.py),
the second is an EIP-1193 provider the script injects into the /connect page.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from api.app import ChainInfo, Services, create_app
from ledger.consent import ConsentPolicy, OperatorSigner, Terms
from ledger.conversation import content_hash, normalise
from ledger.eip712 import Domain
from ledger.intake import Intake, Limits
from ledger.models import Contribution
from ledger.personal_data import redact_for_submission
from ledger.scoring import score
from tally.sharegpt import distinct_conversations
from tally.wiring import default_terms
from tests.anchoring_e2e.conftest import Stack, anchor_all, stack  # noqa: F401  (fixture)
from tests.api.conftest import OPERATOR_KEY
from tests.clients.chatgpt_backend import history
from tests.clients.conftest import EXTENSION, extension_id, needed
from tests.clients.test_extension import build_extension, chromium  # noqa: F401  (fixture)
from tests.conftest import ROOT
from tests.support.line_scripts import LineScript, line_script
from tests.support.server import free_port, serving_app

pytestmark = pytest.mark.node

SCRIPT = Path(__file__).resolve().parent / "extension_history_e2e.mjs"
ARTIFACTS = ROOT / "test-artifacts" / "extension-history"
WALLET = Account.from_key("0x" + "5e" * 32)

# Personal data a user pasted into two of their conversations: the preview must show it
# replaced, and Tally must store the placeholders only.
PERSONAL = {3: " Mail me at jo.berg@posteo.de when it is done.", 12: " My number is +44 20 7946 0958."}


@contextmanager
def serving(stack: Stack) -> Iterator[tuple[str, TestClient]]:  # noqa: F811  (the fixture imported above)
    """The real API on `stack` on a real port, admitting the extension's origin by CORS."""
    domain = Domain(31337, stack.contract.address)
    intake = Intake(sessions=stack.sessions, store=stack.store,
                    consent=ConsentPolicy(domain, Terms(default_terms()), 600),
                    signer=OperatorSigner(domain, OPERATOR_KEY), limits=Limits(4 << 20, 100, 600))
    services = Services.of(intake, ChainInfo(31337, stack.contract.address, stack.chain.url, None))
    app = create_app(services, cors_origins=[f"chrome-extension://{extension_id()}"])
    with serving_app(app) as url:
        yield url, TestClient(app)


@contextmanager
def script(arguments: dict[str, Any], folder: Path) -> Iterator[LineScript]:
    request = folder / "script-input.json"  # a history is too long for a command line
    request.write_text(json.dumps(arguments))
    with line_script(["node", str(SCRIPT), str(request)], timeout=400) as running:
        yield running


def test_history_selection_signed_once_then_verified_on_chain(
        chromium: str, stack: Stack, tmp_path: Path) -> None:  # noqa: F811
    if not (ROOT / "node_modules" / "playwright-core").is_dir():
        needed("the npm package playwright-core (npm ci)")
    build_extension()
    records = [normalise(r).to_canonical() for r in distinct_conversations(32)]
    chat, extra = records[:30], records[30:]
    for index, words in PERSONAL.items():
        chat[index]["messages"][0]["content"] += words
    tagged = secrets.token_hex(3)
    chat[25]["messages"][0]["content"] = f"Tally{tagged} " + chat[25]["messages"][0]["content"]
    backend = history(chat, time.time())
    empty = json.loads((ROOT / "tests/fixtures/chatgpt/convoviz_tests_conftest_fixtures.json").read_text())
    export = [backend_conversation(extra[0], "From the export, one"),
              backend_conversation(extra[1], "From the export, two"), empty["empty_conversation_data"]]
    export_file = tmp_path / "conversations.json"
    export_file.write_text(json.dumps(export))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dead_api = f"http://127.0.0.1:{free_port()}"

    with serving(stack) as (api, client), script({
            "chromium": chromium, "extensionDir": str(EXTENSION), "userDataDir": str(tmp_path / "profile"),
            "screenshots": str(ARTIFACTS), "api": api, "deadApi": dead_api,
            "chainId": 31337, "history": backend, "walletKey": WALLET.key.hex(),
            "exportFile": str(export_file), "exportCount": len(export)}, tmp_path) as user:
        shared = user.expect("shared")["output"]
        stack.seal()
        anchor_all(stack)
        user.say("anchored")
        done = user.expect("done")

    # The states a user meets before the history shows.
    assert "Tally is unreachable" in shared["unreachable"] and "cannot reach the Tally API" in shared["unreachable"]
    assert shared["loggedOut"].startswith("You are not logged in to ChatGPT")
    assert shared["expired"].startswith("Your ChatGPT session has expired")
    assert shared["rateLimited"].startswith("rate-limited by ChatGPT: retrying in 1 s")
    assert done["seen429"] == 1
    # Token 1 stopped working mid-way; the page fetched the session again and went on with token 2.
    assert done["authorizations"] == ["Bearer stand-in-access-token-1", "Bearer stand-in-access-token-2"]

    # 30 conversations over two pages, each with the scorer's estimate.
    items = backend["items"]
    page1, page2 = shared["page1"], shared["page2"]
    assert page1["status"] == "30 conversations in your ChatGPT history." and page1["label"] == "Page 1 of 2"
    assert [r["key"] for r in page1["rows"]] == [i["id"] for i in items[:20]]
    assert page2["label"] == "Page 2 of 2" and [r["key"] for r in page2["rows"]] == [i["id"] for i in items[20:]]
    bodies = backend["conversations"]
    expected_points = {key: score(normalise(redact_for_submission(body)[0])).points for key, body in bodies.items()}
    for row in page1["rows"] + page2["rows"]:
        assert int(row["points"]) == expected_points[row["key"]], row
        assert row["shared"] == ""
    assert shared["selectedCount"] == "10 selected"
    assert shared["search"]["status"] == f"1 of 30 conversations match “{items[25]['title']}”."
    assert [r["key"] for r in shared["search"]["rows"]] == [items[25]["id"]]

    # The review: exactly the redacted canonical conversations, one signature for all ten.
    selected = [i["id"] for i in items[:7] + items[20:23]]
    review = shared["review1"]
    assert review["title"] == "Share 10 conversations"
    assert [i["key"] for i in review["items"]] == selected
    for item in review["items"]:
        canonical, findings = redact_for_submission(bodies[item["key"]])
        assert f"contentHash {content_hash(canonical)}" in item["summary"]
        assert item["shared"] == [m["role"] + m["content"] for m in canonical["messages"]]
        if findings:
            assert item["redactions"].startswith("Personal data replaced before signing: email"), item
            assert "jo.berg@posteo.de" not in json.dumps(item) and "[email]" in json.dumps(item)
        else:
            assert item["redactions"] == "No personal data found."
    # The /connect page said what is signed, in words, before the wallet was asked.
    connect = shared["connect1"]
    assert connect["url"].startswith(f"{api}/connect#request=")
    titles = {i["id"]: i["title"] for i in items}
    named = ", ".join(f"“{titles[key]}”" for key in selected[:5])
    assert connect["summary"] == (f"The Tally extension asks you to consent to share 10 conversations with {api}, "
                                  f"in one signature: {named} and 5 more.")
    fields = dict(connect["fields"])
    assert fields["What"] == "Consent to share these conversations with Tally"
    assert fields["How many conversations"] == "10"
    assert fields["Your address (the points go to it)"] == WALLET.address
    assert done["walletCalls"].count("eth_signTypedData_v4") == 2

    first = shared["shared1"]
    assert first["status"] == "10 of 10 accepted; 0 refused.", first
    accepted = {r["contentHash"] for r in first["items"] if r["state"] == "accepted"}
    assert len(accepted) == 10
    assert shared["selectedAfter"] == ""  # what was shared leaves the selection
    marks = {r["key"]: r["shared"] for r in shared["marks"]}
    for key in selected[:7]:  # the history shows page 1 again (clearing the search went back to it)
        assert marks[key].startswith("shared (#"), marks
    # The second selection: a conversation shared before is refused in words, the others pass.
    second = shared["shared2"]
    assert second["status"] == "2 of 3 accepted; 1 refused.", second
    refused = [r for r in second["items"] if r["state"] == "refused"]
    assert len(refused) == 1 and refused[0]["text"].split(": ", 1)[1].startswith("Already contributed"), refused
    assert any(i.get("note", "") and "Shared before" in i["note"] for i in shared["review2"]["items"])

    # The export file with the encrypted local key: the empty conversation is left out.
    assert shared["shortPassphrase"] == "choose a passphrase of at least 10 characters"
    assert [i["state"] for i in shared["review3"]["items"]] == ["ready", "ready", "unshareable"]
    assert shared["shared3"]["status"] == "2 of 2 accepted; 0 refused."
    local, session = shared["storage"]["local"], shared["storage"]["session"]
    key = session["unlockedKey"]
    assert "localKey" not in local and key.removeprefix("0x") not in json.dumps(local)
    keystore_address = "0x" + json.loads(local["keystore"])["address"]
    assert shared["keyState"].lower().startswith(f"local key {keystore_address.lower()}")

    # After a seal and an anchor: every contribution final, its receipt and proof checked.
    operator = client.get("/v1/config").json()["operator"]
    mine = done["mine"]
    assert len(mine) == 14
    for row in mine:
        assert row["status"] == "final" and row["verify"] == "ok", row
        count = 2 if row["id"] > 12 else 10 if row["id"] <= 10 else 3  # the batch it was signed in
        assert row["receipt"] == (f"✓ signed by the operator 0x{operator[2:6]}…{operator[-4:]}; "
                                  f"your consent: one signature for {count}"), row
        assert row["verifyText"] == "✓ Verified on chain 31337: in epoch 1, anchored at 0x5FbD…0aa3", row
    assert done["wrongPassphrase"] == "wrong passphrase"
    # The exported keystore is the encrypted file kept (a standard Web3 Secret Storage v3 JSON);
    # imported back with its passphrase it is the same key.
    exported = json.loads(done["keystore"]["json"])
    assert done["keystore"]["json"] == local["keystore"] and exported["version"] == 3
    # ethers writes "Crypto", as geth does; the standard reads both spellings.
    assert (exported.get("crypto") or exported["Crypto"])["kdf"] == "scrypt"
    assert key.removeprefix("0x") not in done["keystore"]["json"]
    assert done["keystore"]["file"] == f"tally-keystore-{exported['address']}.json"
    assert done["keystore"]["importWrong"].startswith("this keystore does not open with that passphrase")
    unlocked = f"local key {keystore_address.lower()}: unlocked until the browser closes."
    assert done["keystore"]["state"].lower() == unlocked

    # What Tally holds: the wallet's twelve and the local key's two, each consented by a batch
    # signature, with the personal data replaced.
    with stack.sessions() as session_:
        rows = session_.query(Contribution).all()
    contributors = sorted(r.contributor.lower() for r in rows)
    assert contributors.count(WALLET.address.lower()) == 12 and contributors.count(keystore_address.lower()) == 2
    for row in rows:
        body = client.get(f"/v1/contributions/{row.id}").json()
        assert body["consent"].get("batch"), body["consent"]

    # Nothing went anywhere but chatgpt.com (read only), the Tally API configured at the time and
    # the chain's RPC.
    assert set(done["hosts"]) <= {"https://chatgpt.com", api, dead_api, stack.chain.url.rstrip("/")}, done["hosts"]
    assert done["chatgptMethods"] == ["GET"]
    assert done["pageErrors"] == []


def backend_conversation(record: dict[str, Any], title: str) -> dict[str, Any]:
    from tests.clients.chatgpt_backend import conversation

    return conversation(f"export-{secrets.token_hex(4)}", title, record["messages"], time.time() - 86_400)
