"""Canonical version 2 (docs/formats.md §2): a ChatGPT conversation's images become CIDs when
their bytes are given, and stay ``[image]`` (version 1, unchanged) when they are not."""

from __future__ import annotations

import json

import pytest

from ledger.content import cid_of
from ledger.conversation import (
    IMAGE_PLACEHOLDER,
    MalformedConversationError,
    canonical_bytes,
    image_cids,
    normalise,
    reference_canonical_bytes,
)
from tests.images.chatgpt import GENERATED, PROMPT, UPLOAD, conversation_with_images
from tests.images.images import image_bytes


def test_without_the_bytes_a_chatgpt_image_stays_the_placeholder_of_version_1() -> None:
    conversation = normalise(conversation_with_images())
    assert conversation.to_canonical()["v"] == 1 and conversation.image_cids == []
    assert conversation.messages[0].content.startswith(IMAGE_PLACEHOLDER + "\n")
    assert normalise(conversation_with_images(), images={}) == conversation


def test_with_the_bytes_each_image_is_its_cid_and_a_dalle_part_its_prompt() -> None:
    upload, generated = image_bytes("JPEG", 20), image_bytes("PNG", 20)
    conversation = normalise(conversation_with_images(), images={UPLOAD: upload, GENERATED: generated})
    canonical = conversation.to_canonical()
    assert canonical["v"] == 2
    user, _, tool, _, _ = canonical["messages"]
    assert user == {"role": "user", "content": "What kind of lighthouse is this? Paint me one like it.",
                    "images": [cid_of(upload)]}
    assert tool == {"role": "tool", "content": PROMPT, "images": [cid_of(generated)]}
    assert all("images" not in m for m in canonical["messages"][1::2])
    data = canonical_bytes(conversation)
    assert data == reference_canonical_bytes(conversation)
    assert image_cids(data) == [cid_of(upload), cid_of(generated)] == image_cids(json.loads(data))
    # The canonical object is itself an accepted input, and normalises to the same bytes.
    assert canonical_bytes(json.loads(data)) == data


def test_only_some_bytes_given() -> None:
    upload = image_bytes("WEBP", 21)
    canonical = normalise(conversation_with_images(), images={UPLOAD: upload}).to_canonical()
    assert canonical["messages"][0]["images"] == [cid_of(upload)]
    assert canonical["messages"][2] == {"role": "tool", "content": IMAGE_PLACEHOLDER}


def test_a_message_with_only_an_image_is_kept() -> None:
    cid = cid_of(image_bytes("PNG", 22))
    conversation = normalise({"messages": [{"role": "user", "content": "  ", "images": [cid]},
                                           {"role": "assistant", "content": "A cat."}]})
    assert conversation.messages[0].content == "" and conversation.messages[0].images == (cid,)


@pytest.mark.parametrize("images", [
    "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",  # not a list
    ["QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"],  # CIDv0
    ["zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA"],  # CIDv1 raw, base58btc
    ["BAFKREIFZJUT3TE2NHYEKKLSS27NH3K72YSCO7Y32KOAO5EEI66WOF36N5E"],  # upper case
    ["bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5f"],  # non-canonical last character
    ["bafyreih3f6lzzmh5lcvnx2o7mg6lcwqklsooxmkdvkh4ltyfawzw2fq7ie"],  # dag-cbor
    [42],
])
def test_an_image_that_is_not_a_cid_is_refused(images: object) -> None:
    with pytest.raises(MalformedConversationError):
        normalise({"messages": [{"role": "user", "content": "hi", "images": images},
                                {"role": "assistant", "content": "hello"}]})
