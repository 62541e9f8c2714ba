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


def test_score_of_an_export_zip_and_of_the_data_export_scores_the_images_as_the_server_did(tmp_path: Path) -> None:
    """``tally score`` of the export zip scores its conversation with its images (quality-v3) as
    the server scored the submission; ``tally export`` then carries the images (their ``/ipfs/``
    URLs, public mode), ``tally score`` of that file finds every line as exported, and a line
    whose points were altered fails (exit 1)."""
    home = tmp_path / "home"
    env = {"TALLY_HOME": str(home), "TALLY_OPERATOR_KEY": OPERATOR_KEY.to_hex(), **API_ONLY,
           "TALLY_KEY_PASSPHRASE": "correct horse", "TALLY_PRIVACY": "false", "TALLY_USAGE_API_KEY": "consumer-key"}
    keyfile = tmp_path / "me.json"
    assert tally("keys", "new", "--out", str(keyfile), env=env).returncode == 0
    upload, generated = image_bytes("PNG", 41), image_bytes("GIF", 41)
    export = tmp_path / "export.zip"
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("conversations.json", json.dumps([conversation_with_images()]))
        archive.writestr(f"{UPLOAD.split('://')[1]}-lighthouse.png", upload)
        archive.writestr(f"dalle-generations/{GENERATED.split('://')[1]}-0b1c.gif", generated)
    scored = tally("score", str(export), "--json", env=env)
    assert scored.returncode == 0, scored.stderr
    (offline,) = json.loads(scored.stdout)
    assert offline["version"] == "quality-v3" and offline["features"]["images"] == 2
    data_export = tmp_path / "data.ndjson"
    with tally_server(home, env=env) as url:
        done = tally("submit", str(export), "--key", str(keyfile), "--api", url, "--all", "--json", env=env)
        assert done.returncode == 0, done.stderr
        (answer,) = json.loads(done.stdout)
        assert (answer["score"]["version"], answer["points"]) == ("quality-v3", str(offline["points"]))
        assert tally("export", "--out", str(data_export), "--api", url, env=env).returncode == 0
        (line,) = [json.loads(text) for text in data_export.read_text().splitlines()]
        assert [(i["cid"], i["mediaType"], i["size"]) for i in line["images"]] == [
            (cid_of(upload), "image/png", len(upload)), (cid_of(generated), "image/gif", len(generated))]
        with httpx.Client(base_url=url) as client:
            assert [client.get(i["url"], params={"format": "raw"}).content for i in line["images"]] == [
                upload, generated]
    again = tally("score", str(data_export), "--json", env=env)
    assert again.returncode == 0, again.stderr
    (rescored,) = json.loads(again.stdout)
    assert rescored["matches"] and (rescored["version"], rescored["points"]) == ("quality-v3", offline["points"])
    altered = tmp_path / "altered.ndjson"
    altered.write_text(json.dumps({**line, "points": str(int(line["points"]) + 1)}) + "\n")
    refused = tally("score", str(altered), env=env)
    assert refused.returncode == 1
    assert refused.stderr.strip().startswith("tally: error: 1 of 1 contributions of ") and "DIFFERS" in refused.stdout
