"""`tally submit` of a ChatGPT export zip whose conversations hold images, against a real
`tally serve`: the image files (``file-<id>-<name>``, ``dalle-generations/``) are found by file id,
the conversations are signed as version 2 (docs/formats.md §2) with their attachments, and the
images are then served by the gateway as their bytes (public mode)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import httpx

from ledger.content import cid_of
from ledger.conversation import canonical_bytes, content_hash, image_cids, normalise
from tests.api.conftest import OPERATOR_KEY
from tests.images.chatgpt import GENERATED, UPLOAD, conversation_with_images
from tests.images.images import image_bytes
from tests.support.server import API_ONLY, tally_server
from tests.test_cli import tally


def test_submit_of_an_export_zip_sends_its_images(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"TALLY_HOME": str(home), "TALLY_OPERATOR_KEY": OPERATOR_KEY.to_hex(), **API_ONLY,
           "TALLY_KEY_PASSPHRASE": "correct horse", "TALLY_PRIVACY": "false"}
    keyfile = tmp_path / "me.json"
    assert tally("keys", "new", "--out", str(keyfile), env=env).returncode == 0
    upload, generated = image_bytes("JPEG", 40), image_bytes("WEBP", 40)
    conversation = conversation_with_images()
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("conversations.json", json.dumps([conversation]))
        archive.writestr(f"{UPLOAD.split('://')[1]}-lighthouse.jpg", upload)
        archive.writestr(f"dalle-generations/{GENERATED.split('://')[1]}-0b1c.webp", generated)
        archive.writestr("user.json", "{}")
    expected = normalise(conversation, images={UPLOAD: upload, GENERATED: generated})
    with tally_server(home, env=env) as url:
        done = tally("submit", str(export), "--key", str(keyfile), "--api", url, "--all", "--json", env=env)
        assert done.returncode == 0, done.stderr
        (answer,) = json.loads(done.stdout)
        assert answer["contentHash"] == content_hash(expected)
        assert image_cids(canonical_bytes(expected)) == [cid_of(upload), cid_of(generated)]
        with httpx.Client(base_url=url) as client:
            for data in (upload, generated):
                served = client.get(f"/ipfs/{cid_of(data)}", params={"format": "raw"})
                assert served.status_code == 200 and served.content == data
    # Without its image files, the same conversation is version 1, as before.
    assert content_hash(conversation) != answer["contentHash"]
    assert normalise(conversation).to_canonical()["v"] == 1
