"""A contribution's images for its readers (docs/formats.md §8): ``GET /v1/contributions/{id}``
lists them (CID, media type, size, the object pinned, where the bytes are served in the clear) and
the data export carries them: a URL under ``/ipfs/`` in public mode, where the bytes are public,
their bytes in privacy mode, where IPFS holds only envelopes (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from ledger.content import cid_of
from ledger.conversation import normalise
from ledger.scoring import score
from tests.api.conftest import Api, build_api, contributor_key, sample_conversation
from tests.api.test_feed import publish_body
from tests.api.test_images import with_images
from tests.images.images import image_bytes

CONSUMER = {"Authorization": "Bearer consumer-key"}
ADMIN = {"Authorization": "Bearer admin-key"}
IMAGES = [image_bytes("PNG"), image_bytes("JPEG"), image_bytes("PNG", seed=3)]


def submitted(api: Api, client: TestClient) -> dict[str, Any]:
    """The contribution of a conversation whose answer carries two images and whose second
    answer adds a third and repeats the first."""
    conversation = with_images("images for readers", IMAGES[0], IMAGES[1])
    conversation["messages"] += [{"role": "user", "content": "And one more, with the first again, please."},
                                 {"role": "assistant", "content": "Here they are.",
                                  "images": [cid_of(IMAGES[2]), cid_of(IMAGES[0])]}]
    answer = client.post("/v1/contributions", json=api.signed(conversation, contributor_key(0), images=IMAGES))
    assert answer.status_code == 201, answer.json()
    return dict(answer.json())


def listed(client: TestClient, contribution: dict[str, Any]) -> list[dict[str, Any]]:
    answer = client.get(f"/v1/contributions/{contribution['id']}")
    assert answer.status_code == 200
    return list(answer.json()["images"])


def exported(client: TestClient) -> list[dict[str, Any]]:
    answer = client.get("/v1/export", headers=CONSUMER)
    assert answer.status_code == 200
    return [json.loads(line) for line in answer.text.splitlines()]


def test_in_public_mode_the_images_are_listed_and_exported_with_their_ipfs_url(db_url: str, tmp_path: Path) -> None:
    api = build_api(db_url, tmp_path)
    client = api.client_with(admin_api_key="admin-key", usage_api_key="consumer-key")
    contribution = submitted(api, client)
    images = listed(client, contribution)
    assert images == [{"cid": cid_of(data), "mediaType": media, "size": len(data), "stored": cid_of(data),
                       "url": f"/ipfs/{cid_of(data)}"}
                      for data, media in zip(IMAGES, ("image/png", "image/jpeg", "image/png"), strict=True)]
    for image, data in zip(images, IMAGES, strict=True):
        served = client.get(image["url"], headers={"Accept": "application/vnd.ipld.raw"})
        assert served.status_code == 200 and served.content == data
    [line] = exported(client)
    assert line["images"] == [{"cid": i["cid"], "mediaType": i["mediaType"], "size": i["size"], "url": i["url"]}
                              for i in images]
    # The export's conversation names the same images per message; scored again, it gives the server's points.
    messages = line["conversation"]["messages"]
    assert [m.get("images", []) for m in messages] == [[], [cid_of(IMAGES[0]), cid_of(IMAGES[1])], [],
                                                       [cid_of(IMAGES[2]), cid_of(IMAGES[0])]]
    again = score(normalise(line["conversation"]))
    assert (again.version, str(again.points)) == (line["scorer"], line["points"]) == ("quality-v3",
                                                                                     contribution["points"])
    text = client.post("/v1/contributions", json=api.signed(sample_conversation("text alone"), contributor_key(1)))
    assert client.get(f"/v1/contributions/{text.json()['id']}").json()["images"] == []


def test_in_privacy_mode_the_export_carries_the_bytes_and_the_listing_no_url_until_published(
        db_url: str, tmp_path: Path) -> None:
    api = build_api(db_url, tmp_path, master_key=os.urandom(32))
    client = api.client_with(admin_api_key="admin-key", usage_api_key="consumer-key")
    contribution = submitted(api, client)
    images = listed(client, contribution)
    assert [(i["cid"], i["size"], i["url"]) for i in images] == [(cid_of(d), len(d), None) for d in IMAGES]
    for image, data in zip(images, IMAGES, strict=True):
        assert image["stored"] != image["cid"]  # IPFS holds the envelope, never the image
        envelope = client.get(f"/ipfs/{image['stored']}", headers={"Accept": "application/vnd.ipld.raw"})
        assert envelope.status_code == 200 and data not in envelope.content
        assert client.get(f"/ipfs/{image['cid']}", headers={"Accept": "application/vnd.ipld.raw"}).status_code == 404
    [line] = exported(client)
    assert [(i["cid"], i["mediaType"], i["size"], base64.b64decode(i["data"])) for i in line["images"]] == [
        (i["cid"], i["mediaType"], i["size"], data) for i, data in zip(images, IMAGES, strict=True)]
    assert all("url" not in i for i in line["images"])

    published = client.post(f"/v1/contributions/{contribution['id']}:publish",
                            json=publish_body(api, contribution, contributor_key(0)))
    assert published.status_code == 200
    urls = [i["url"] for i in listed(client, contribution)]
    assert urls == [f"/v1/feed/{contribution['id']}/images/{cid_of(d)}" for d in IMAGES]
    assert [client.get(url).content for url in urls] == IMAGES

    assert client.post(f"/v1/contributions/{contribution['id']}:erase", headers=ADMIN).status_code == 200
    assert [i["url"] for i in listed(client, contribution)] == [None] * 3
    assert exported(client) == []
