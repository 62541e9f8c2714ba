"""Conversations with images (docs/formats.md §2 version 2): attachments checked, stored as their
own objects under the same privacy rule as the conversation, served through /ipfs/{cid}, and
erased with the contribution; an image is contributed once; every refusal writes nothing."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ledger.attachments import encode_attachments
from ledger.content import cid_of
from ledger.conversation import canonical_bytes, image_cids, normalise
from ledger.models import ContributionImage, StoredObject
from ledger.privacy import ContentErasedError, read_image
from tests.api.conftest import Api, build_api, contributor_key, sample_conversation
from tests.images.images import image_bytes

MASTER = bytes(range(32))


def with_images(tag: str, *images: bytes) -> dict[str, Any]:
    """A sample conversation whose answer carries ``images`` (as their CIDs)."""
    conversation = sample_conversation(tag)
    conversation["messages"][1]["images"] = [cid_of(data) for data in images]
    return conversation


def image_rows(api: Api) -> int:
    with api.intake.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ContributionImage)) or 0)


def test_a_conversation_with_png_jpeg_and_webp_is_version_2_and_its_images_are_served(api: Api) -> None:
    images = [image_bytes("PNG"), image_bytes("JPEG"), image_bytes("WEBP")]
    conversation = with_images("three images", *images)
    body = api.signed(conversation, contributor_key(1), images=images)
    response = api.client.post("/v1/contributions", json=body)
    assert response.status_code == 201, response.text
    canonical = canonical_bytes(conversation)
    assert canonical.startswith(b'{"messages":[') and b'"v":2' in canonical
    assert response.json()["contentHash"] == "0x" + hashlib.sha256(canonical).hexdigest()
    assert image_cids(canonical) == [cid_of(data) for data in images]
    with api.intake.sessions() as session:
        rows = session.scalars(select(ContributionImage).order_by(ContributionImage.position)).all()
        assert [(r.cid, r.media_type, r.size) for r in rows] == [
            (cid_of(images[0]), "image/png", len(images[0])), (cid_of(images[1]), "image/jpeg", len(images[1])),
            (cid_of(images[2]), "image/webp", len(images[2]))]
        assert all(r.stored_cid == r.cid and r.wrapped_key is None for r in rows)
        kinds = session.scalars(select(StoredObject.kind).where(StoredObject.cid.in_([r.cid for r in rows]))).all()
        assert sorted(kinds) == ["image"] * 3
    assert read_image(api.intake.store, rows[1], None) == images[1]
    for data in images:
        served = api.client.get(f"/ipfs/{cid_of(data)}", headers={"Accept": "application/vnd.ipld.raw"})
        assert served.status_code == 200 and served.content == data


def test_an_image_already_contributed_is_refused_naming_it_and_writes_nothing(api: Api) -> None:
    """quality-v3 pays for each image: the same image beside new text is not paid again."""
    image = image_bytes("GIF")
    first = api.client.post("/v1/contributions", json=api.signed(with_images("first with gif", image),
                                                                  contributor_key(0), images=[image]))
    assert first.status_code == 201, first.text
    before = api.counts()
    again = api.client.post("/v1/contributions", json=api.signed(with_images("second with gif", image),
                                                                  contributor_key(1), images=[image]))
    assert again.status_code == 409, again.text
    problem = again.json()
    assert (problem["type"], problem["image"], problem["existing"]) == (
        "/problems/duplicate-image", cid_of(image), first.json()["id"])
    assert api.counts() == before and image_rows(api) == 1
    # In one batch, the second item carrying a new image is refused alone; an image shown twice in
    # one conversation is one image.
    fresh = image_bytes("PNG", 3)
    twice = with_images("the same png twice", fresh)
    twice["messages"][0]["images"] = [cid_of(fresh)]
    items = [api.signed(twice, contributor_key(2), nonce=1, images=[fresh]),
             api.signed(with_images("the png again", fresh), contributor_key(2), nonce=2, images=[fresh]),
             api.signed(sample_conversation("no image at all"), contributor_key(2), nonce=3)]
    results = api.client.post("/v1/contributions:batch", json={"items": items}).json()["results"]
    assert [r["status"] for r in results] == [201, 409, 201]
    assert (results[1]["problem"]["type"], results[1]["problem"]["existing"]) == ("/problems/duplicate-image", None)


def test_an_erased_contributions_image_may_be_contributed_again(db_url: str, tmp_path: Path) -> None:
    api = build_api(db_url, tmp_path, master_key=MASTER)
    with api.client:
        image = image_bytes("JPEG", 4)
        first = api.client.post("/v1/contributions", json=api.signed(with_images("to be erased", image),
                                                                      contributor_key(3), images=[image]))
        assert first.status_code == 201, first.text
        admin = api.client_with(admin_api_key="admin-secret")
        erased = admin.post(f"/v1/contributions/{first.json()['id']}:erase",
                            headers={"Authorization": "Bearer admin-secret"})
        assert erased.status_code == 200, erased.text
        again = api.client.post("/v1/contributions", json=api.signed(with_images("shared again", image),
                                                                      contributor_key(3), nonce=2, images=[image]))
        assert again.status_code == 201, again.text


def test_racing_submissions_of_one_image_on_postgresql_cannot_both_pass(pg_url: str, tmp_path: Path) -> None:
    api = build_api(pg_url, tmp_path)
    image = image_bytes("WEBP", 5)
    bodies = [api.signed(with_images(f"raced image {n}", image), contributor_key(10 + n), nonce=n, images=[image])
              for n in range(6)]
    assert api.submit_racing(bodies) == [201] + [409] * (len(bodies) - 1)
    assert image_rows(api) == 1


def test_a_text_only_conversation_keeps_its_version_1_bytes(api: Api) -> None:
    conversation = sample_conversation("text only")
    assert b'"v":1' in canonical_bytes(conversation)
    assert canonical_bytes(conversation) == canonical_bytes({**conversation, "messages": [
        {**m, "images": []} for m in conversation["messages"]]})


def _refused(api: Api, body: dict[str, Any], status: int, problem: str) -> None:
    before = (api.counts(), image_rows(api))
    response = api.client.post("/v1/contributions", json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == f"/problems/{problem}"
    assert (api.counts(), image_rows(api)) == before


def test_each_attachment_problem_is_refused_and_writes_nothing(api: Api) -> None:
    png, jpeg = image_bytes("PNG", 1), image_bytes("JPEG", 1)
    key = contributor_key(3)
    conversation = with_images("refusals", png)
    # No attachment for the image the conversation names.
    _refused(api, api.signed(conversation, key), 422, "missing-attachment")
    # Bytes that are not the named CID's.
    wrong = {cid_of(png): base64.b64encode(jpeg).decode()}
    _refused(api, api.signed(conversation, key, attachments=wrong), 422, "attachment-mismatch")
    # An attachment the conversation does not name.
    extra = {**encode_attachments([png]), **encode_attachments([jpeg])}
    _refused(api, api.signed(conversation, key, attachments=extra), 422, "attachment-mismatch")
    # Not an image of the four types, even with the right CID.
    text = b"%PDF-1.7 this is not an image"
    _refused(api, api.signed(with_images("refusals pdf", text), key, images=[text]), 415, "unsupported-media")
    bmp = image_bytes("BMP")
    _refused(api, api.signed(with_images("refusals bmp", bmp), key, images=[bmp]), 415, "unsupported-media")
    # Not base64.
    _refused(api, api.signed(conversation, key, attachments={cid_of(png): "not base64!"}), 422, "invalid-request")
    # A CID that is not a CIDv1 in base32.
    bad = sample_conversation("refusals bad cid")
    bad["messages"][1]["images"] = ["QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"]
    body = api.signed(sample_conversation("refusals bad cid"), key)
    _refused(api, {**body, "conversation": bad}, 422, "malformed-conversation")
    config = api.config["limits"]
    assert config["maxImageBytes"] == api.intake.limits.max_image_bytes
    assert config["maxContributionImageBytes"] == api.intake.limits.max_contribution_image_bytes


def test_images_over_the_published_limits_are_refused(db_url: str, tmp_path: Path) -> None:
    api = build_api(db_url, tmp_path)
    api.services.intake.limits = type(api.intake.limits)(max_image_bytes=1500, max_contribution_image_bytes=2000)
    with api.client:
        assert api.config["limits"]["maxImageBytes"] == 1500
        big = image_bytes("PNG", 2, size=(40, 40))
        assert len(big) > 1500
        key = contributor_key(4)
        _refused(api, api.signed(with_images("too large", big), key, images=[big]), 413, "attachment-too-large")
        small = [image_bytes("WEBP", 3), image_bytes("WEBP", 4), image_bytes("WEBP", 5), image_bytes("WEBP", 6),
                 image_bytes("WEBP", 7)]
        assert all(len(data) <= 1500 for data in small) and sum(map(len, small)) > 2000
        _refused(api, api.signed(with_images("too many", *small), key, images=small), 413, "attachment-too-large")


def test_a_signed_batch_carries_the_images_of_its_conversations(api: Api) -> None:
    from tally.client import sign_batch

    png, webp = image_bytes("PNG", 8), image_bytes("WEBP", 8)
    conversations: list[object] = [with_images("batch png", png), sample_conversation("batch text"),
                                   with_images("batch webp", webp)]
    body = sign_batch(api.config, conversations, contributor_key(5), nonce=9, issued_at=int(api.clock[0]),
                      images=[png, webp])
    answer = api.client.post("/v1/contributions:batch", json=body).json()
    assert answer["accepted"] == 3, answer
    assert image_rows(api) == 2
    # A batch whose one attachment no conversation names is refused whole.
    stray = sign_batch(api.config, [sample_conversation("stray")], contributor_key(5), nonce=10,
                       issued_at=int(api.clock[0]), images=[png])
    before = api.counts()
    response = api.client.post("/v1/contributions:batch", json=stray)
    assert response.status_code == 422 and response.json()["type"] == "/problems/attachment-mismatch"
    assert api.counts() == before
    # An item missing its image is refused alone.
    jpeg = image_bytes("JPEG", 9)
    partial = sign_batch(api.config, [with_images("batch missing", jpeg), sample_conversation("batch fine")],
                         contributor_key(5), nonce=11, issued_at=int(api.clock[0]))
    results = api.client.post("/v1/contributions:batch", json=partial).json()["results"]
    assert [r["status"] for r in results] == [422, 201]
    assert results[0]["problem"]["type"] == "/problems/missing-attachment"


def test_the_items_form_carries_attachments_per_item(api: Api) -> None:
    gif = image_bytes("GIF", 10)
    items = [api.signed(with_images("item gif", gif), contributor_key(6), nonce=1, images=[gif]),
             api.signed(with_images("item missing", gif), contributor_key(6), nonce=2)]
    results = api.client.post("/v1/contributions:batch", json={"items": items}).json()["results"]
    assert [r["status"] for r in results] == [201, 422]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_in_privacy_mode_images_are_sealed_and_erased_with_the_contribution(
        db_url: str, tmp_path: Path, fmt: str) -> None:
    api = build_api(db_url, tmp_path, master_key=MASTER)
    with api.client:
        image = image_bytes(fmt, 11)
        conversation = with_images(f"private {fmt}", image)
        response = api.client.post("/v1/contributions", json=api.signed(conversation, contributor_key(7),
                                                                         images=[image]))
        assert response.status_code == 201, response.text
        with api.intake.sessions() as session:
            (row,) = session.scalars(select(ContributionImage)).all()
        assert row.cid == cid_of(image) and row.stored_cid != row.cid and row.wrapped_key is not None
        stored = api.intake.store.get(row.stored_cid)
        assert image not in stored  # the store holds only the envelope
        assert read_image(api.intake.store, row, MASTER) == image
        # The image's own CID is not served: only its envelope is stored.
        assert api.client.get(f"/ipfs/{cid_of(image)}?format=raw").status_code == 404
        admin = api.client_with(admin_api_key="admin-secret")
        erased = admin.post(f"/v1/contributions/{response.json()['id']}:erase",
                            headers={"Authorization": "Bearer admin-secret"})
        assert erased.status_code == 200, erased.text
        with api.intake.sessions() as session:
            (row,) = session.scalars(select(ContributionImage)).all()
        assert row.wrapped_key is None
        with pytest.raises(ContentErasedError):
            read_image(api.intake.store, row, MASTER)
        assert normalise(conversation).image_cids == [cid_of(image)]


def test_only_a_body_with_attachments_may_pass_max_body_bytes(db_url: str, tmp_path: Path) -> None:
    api = build_api(db_url, tmp_path, max_body_bytes=4096)
    with api.client:
        image = image_bytes("PNG", 12, size=(48, 40))
        assert len(image) > 4096
        body = api.signed(with_images("over the body limit", image), contributor_key(8), images=[image])
        response = api.client.post("/v1/contributions", json=body)
        assert response.status_code == 201, response.text
        padded = api.signed(sample_conversation("padded") | {"model": "m" * 100}, contributor_key(8), nonce=2)
        padded["padding"] = "x" * 5000
        before = api.counts()
        refused = api.client.post("/v1/contributions", json=padded)
        assert refused.status_code == 413 and refused.json()["type"] == "/problems/body-too-large"
        assert api.counts() == before
