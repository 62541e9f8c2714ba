"""The JS client's version-2 conversations (docs/formats.md §2) byte for byte against the Python
reference: the same canonical bytes, contentHash and image CIDs for real PNG/JPEG/WebP/GIF bytes,
the same refusals of what is not an image CID, the same attachments, and the same quality-v3 score."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ledger.attachments import encode_attachments
from ledger.content import cid_of
from ledger.conversation import ConversationError, canonical_bytes, content_hash, normalise
from ledger.scoring import rules_of, score
from tests.clients.conftest import run_node
from tests.images.chatgpt import GENERATED, UPLOAD, conversation_with_images
from tests.images.images import image_bytes

pytestmark = pytest.mark.node

BLOBS = [image_bytes("PNG", 30), image_bytes("JPEG", 30), image_bytes("WEBP", 30), image_bytes("GIF", 30),
         image_bytes("PNG", 31, size=(300, 200))]
B64 = [base64.b64encode(data).decode() for data in BLOBS]


def cases() -> list[dict[str, Any]]:
    chatgpt = conversation_with_images()
    plain = {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "Compare these two pictures", "images": [cid_of(BLOBS[0]), cid_of(BLOBS[1])]},
        {"role": "assistant", "content": "The first is brighter.", "images": []},
        {"role": "assistant", "content": "", "images": [cid_of(BLOBS[2]), cid_of(BLOBS[2])]}]}
    return [
        {"conversation": chatgpt},
        {"conversation": chatgpt, "images": {UPLOAD: B64[1], GENERATED: B64[0]}},
        {"conversation": chatgpt, "images": {GENERATED: B64[3]}},
        {"conversation": plain},
        {"conversation": {"messages": [{"role": "user", "content": "x", "images": ["Qm" + "1" * 44]},
                                       {"role": "assistant", "content": "y"}]}},
        {"conversation": {"messages": [{"role": "user", "content": "x", "images": "bafk"},
                                       {"role": "assistant", "content": "y"}]}},
    ]


def reference(case: dict[str, Any]) -> dict[str, Any]:
    images = {k: base64.b64decode(v) for k, v in case.get("images", {}).items()}
    try:
        conversation = normalise(case["conversation"], images=images)
    except ConversationError as exc:
        return {"error": exc.code}
    return {"canonical": canonical_bytes(conversation).decode(), "hash": content_hash(conversation),
            "cids": conversation.image_cids, "score": score(conversation).as_dict()}


def test_js_version_2_bytes_hashes_and_cids_equal_the_reference() -> None:
    items = cases()
    answer = run_node("image_probe.mjs", {"items": items, "blobs": B64})
    assert answer["answers"] == [reference(case) for case in items]
    assert answer["answers"][1]["canonical"].count('"images"') == 2
    assert answer["cids"] == [cid_of(data) for data in BLOBS]
    assert answer["attachments"] == encode_attachments(BLOBS)
    assert answer["rules"] == rules_of("quality-v3")["images"]
    assert {a["score"]["version"] for a in answer["answers"] if "score" in a} == {"quality-v2", "quality-v3"}
