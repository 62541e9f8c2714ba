"""The extension, loaded unpacked in headless Chromium, submits conversations to a live server.

Playwright (tests/clients/extension_e2e.mjs) plays the user; this test starts the server, reads
what the pages showed, and checks it against the API and the database. The server runs on a
random port, which the extension's host permissions (port 8000 only) do not cover: the requests
pass because the server's CORS admits the extension's origin, as a deployment's would.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ledger.content import cid_of
from ledger.conversation import content_hash, normalise
from ledger.db import make_engine, make_sessionmaker
from ledger.models import Contribution, StoredObject
from ledger.personal_data import redact_for_submission
from tests.clients.cases import FIXTURES
from tests.clients.conftest import EXTENSION, LiveServer, extension_id, needed, require_node, run_node
from tests.conftest import ROOT
from tests.images.images import image_bytes
from tests.support.conversations import passage

pytestmark = pytest.mark.node

ARTIFACTS = ROOT / "test-artifacts" / "extension"


@pytest.fixture
def chromium() -> str:
    """Chromium's path; asked for before the server, so that a skip costs no server start."""
    path = os.environ.get("TALLY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        needed("Chromium (tools/install-browser.sh installs it)")
    return path


def build_extension() -> None:
    require_node()
    if not (ROOT / "node_modules" / "playwright-core").is_dir():
        needed("the npm package playwright-core (npm ci)")
    subprocess.run(["node", str(EXTENSION / "build.mjs")], cwd=ROOT, check=True, capture_output=True, timeout=60)


def chatgpt_variant(title: str, question: str) -> dict[str, Any]:
    conversation: dict[str, Any] = json.loads((FIXTURES / "chatgpt_regenerated.json").read_text())
    conversation["title"] = title
    conversation["mapping"]["u2"]["message"]["content"]["parts"] = [question]
    # An answer of its own: variants of one fixture would be near-duplicates, which Tally refuses.
    answer = f"It is about 330 metres tall. {passage(question)}"
    conversation["mapping"]["a2b"]["message"]["content"]["parts"] = [answer]
    return conversation


PHOTO = "file_00000000e2e07230b9ede110f49fccb5"


def with_uploaded_photo(conversation: dict[str, Any]) -> dict[str, Any]:
    """The conversation with a photo uploaded beside its last question, as ChatGPT records an
    upload (tests/clients/fixtures/chatgpt-backend/image-messages.json, "upload")."""
    content = conversation["mapping"]["u2"]["message"]["content"]
    content["content_type"] = "multimodal_text"
    content["parts"] = [{"content_type": "image_asset_pointer", "asset_pointer": f"sediment://{PHOTO}",
                         "size_bytes": 1, "width": 48, "height": 32, "fovea": None, "metadata": None},
                        *content["parts"]]
    return conversation


def test_the_extension_submits_to_a_live_server(chromium: str, live_server: LiveServer, tmp_path: Path) -> None:
    build_extension()
    tag = secrets.token_hex(4)
    pasted = {"messages": [
        {"role": "user", "content": f"\ufeffWhat does an EIP-712 domain bind a signature to? ({tag})\x1c"},
        {"role": "assistant", "content": "To one chain and one verifying contract, by name and version."}]}
    export = [chatgpt_variant("Eiffel Tower, first try", f"How tall is it? ({tag} a)"),
              with_uploaded_photo(chatgpt_variant("Eiffel Tower, second try", f"How tall is it really? ({tag} b)"))]
    # ChatGPT's export as it comes: a ZIP, the upload's file at its root named by its file id.
    photo = image_bytes("PNG", int(tag, 16), size=(48, 32))
    export_file = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(export_file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("chatgpt-export/conversations.json", json.dumps(export))
        archive.writestr(f"chatgpt-export/{PHOTO}-photo.png", photo)
        archive.writestr("chatgpt-export/chat.html", "<html></html>")
    picked_expected = normalise(export[1], images={f"sediment://{PHOTO}": photo})
    assert picked_expected.image_cids == [cid_of(photo)]
    personal = {"conversations": [
        {"from": "human", "value": f"Reach me at bo.lund@web.de or +46 70 123 45 67 ({tag})"},
        {"from": "gpt", "value": "Best not to share those. Is this your token: "
                                 f"ghp_8Kz3mQ1xV7bN4cL9wE2rT6yU0iO5pA3sD{tag[:4]}?"}]}
    redacted, _ = redact_for_submission(personal)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    shown = run_node("extension_e2e.mjs", {
        "chromium": chromium, "extensionDir": str(EXTENSION), "userDataDir": str(tmp_path / "profile"),
        "screenshots": str(ARTIFACTS), "api": live_server.url,
        "pasted": {"conversation": pasted}, "exportFile": str(export_file), "pickIndex": 1,
        "rejected": {"conversation": {"messages": [{"role": "robot", "content": "beep"}]}},
        "personal": {"conversation": personal},
    }, timeout=180)

    assert shown.get("failure") is None, shown["failure"]
    # Chromium logs as failed resource loads a 409, the lookup of a conversation Tally does not
    # hold (404) and the unreachable chatgpt.com; nothing else may go wrong in the pages.
    assert [e for e in shown["pageErrors"] if not re.search(r"status of (404|409)|ERR_INTERNET_DISCONNECTED", e)] == []
    assert shown["extensionId"] == extension_id()
    assert shown["originShown"] == f"chrome-extension://{extension_id()}"
    assert shown["savedApi"] == live_server.url
    operator = live_server.config["operator"]
    assert shown["termsHash"] == live_server.config["termsHash"]
    assert operator in shown["apiStatus"]
    # chatgpt.com is unreachable in this test: the history says so, the rest works.
    assert shown["historyState"] == "unreachable"
    address = shown["keyState"].split()[2].rstrip(":")
    assert shown["keyState"] == f"Local key {address}: unlocked until the browser closes."

    accepted = shown["accepted"]
    canonical = redact_for_submission(pasted)[0]
    assert f"contentHash {content_hash(canonical)}" in accepted["review"][0]["summary"]
    assert accepted["status"] == "1 of 1 accepted; 0 refused."
    [item] = accepted["items"]
    assert item["state"] == "accepted" and item["contentHash"] == content_hash(canonical)
    assert re.fullmatch(rf"Conversation 1: Accepted as #\d+: \d+ points; receipt signed by the operator {operator}",
                        item["text"]), item
    first_id = int(re.search(r"#(\d+)", item["text"]).group(1))  # type: ignore[union-attr]

    duplicate = shown["duplicate"]
    assert duplicate["review"][0]["note"] == f"Shared before, as #{first_id}: Tally will refuse it as a duplicate."
    assert duplicate["status"] == "0 of 1 accepted; 1 refused."
    assert duplicate["items"][0]["text"].startswith("Conversation 1: Already contributed: ")

    assert shown["pickTitles"] == ["Eiffel Tower, first try", "Eiffel Tower, second try"]
    picked = shown["picked"]
    assert [i["state"] for i in picked["review"]] == ["ready"]
    assert "1 image" in picked["review"][0]["summary"]
    assert picked["items"][0]["contentHash"] == content_hash(picked_expected)
    assert picked["items"][0]["text"].startswith("Eiffel Tower, second try: Accepted as #")

    rejected = shown["rejected"]
    assert rejected["shared"].startswith("cannot be shared: unknown-role: ")
    assert "cannot be shared: unknown-role" in rejected["review"] and rejected["shareDisabled"] is True

    personal_shown = shown["personal"]
    [review] = personal_shown["review"]
    assert review["redactions"] == ("Personal data replaced before signing: email in message 0, "
                                    "phone in message 0, secret in message 1.")
    assert review["messages"] == [f"{m['role']}{m['content']}" for m in redacted["messages"]]
    assert "[email]" in review["messages"][0] and "[secret]" in review["messages"][1]
    assert personal_shown["items"][0]["contentHash"] == content_hash(redacted)
    assert personal_shown["items"][0]["state"] == "accepted"
    kept = f"✓ signed by the operator {operator[:6]}…{operator[-4:]}; your consent: one signature for 1"
    assert shown["receiptsKept"] == [kept] * 3

    # The API and the database hold the three contributions, consented to by the local key.
    with httpx.Client(base_url=live_server.url) as client:
        rows_json = [client.get(f"/v1/contributions/{h}").raise_for_status().json()
                     for h in (content_hash(canonical), content_hash(picked_expected), content_hash(redacted))]
    ids = [r["id"] for r in rows_json]
    for row in rows_json:
        assert row["contributor"] == address
        assert row["consent"]["termsHash"] == live_server.config["termsHash"]
    engine = make_engine(live_server.db_url)
    try:
        with make_sessionmaker(engine)() as session:
            rows = session.scalars(select(Contribution).where(Contribution.id.in_(ids)).order_by(Contribution.id)).all()
            stored = [(r.contributor, "0x" + r.content_hash.hex()) for r in rows]
            data = session.scalar(select(StoredObject.data).where(StoredObject.cid == rows[-1].cid))
    finally:
        engine.dispose()
    assert stored == [(address, content_hash(canonical)), (address, content_hash(picked_expected)),
                      (address, content_hash(redacted))]
    # What the server holds of the third is the redacted text: no address, number or token.
    assert data is not None and b"[email]" in data
    assert b"bo.lund" not in data and b"70 123" not in data and b"ghp_" not in data
    assert sorted(p.name for p in ARTIFACTS.glob("*.png")) == [
        "1-options.png", "2-accepted.png", "3-duplicate.png", "4-picked.png", "5-rejected.png", "6-redacted.png"]
