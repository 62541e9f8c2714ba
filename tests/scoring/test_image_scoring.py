"""quality-v3 (docs/scoring.md, "Images"): conversations with images earn quality-v2's points for
their text plus each distinct image and each prompt answered with images, up to the caps; every
text-only conversation keeps quality-v2 and its points."""

from __future__ import annotations

import json

from ledger.content import cid_of
from ledger.conversation import normalise
from ledger.scoring import (
    IMAGE_SCORER_VERSION,
    SCORER_VERSION,
    features_of,
    points_from_features,
    rules_hash,
    rules_of,
    score,
    v2,
)
from tests.images.chatgpt import GENERATED, UPLOAD, conversation_with_images
from tests.images.images import image_bytes
from tests.support.conversations import passage

RULES = rules_of("quality-v3")["images"]


def test_the_text_rules_of_v3_are_v2s_by_hash() -> None:
    assert rules_of("quality-v3")["text"] == rules_hash("quality-v2")


def test_a_text_only_conversation_is_scored_as_before() -> None:
    conversation = normalise(conversation_with_images())  # no bytes: [image] text, version 1
    result = score(conversation)
    assert result.version == SCORER_VERSION == "quality-v2"
    assert result.points == v2.points(v2.features(conversation)) and "images" not in result.features


def test_images_and_the_prompts_that_made_them_earn_points() -> None:
    upload, generated = image_bytes("PNG", 60), image_bytes("JPEG", 60)
    conversation = normalise(conversation_with_images(), images={UPLOAD: upload, GENERATED: generated})
    result = score(conversation)
    assert result.version == IMAGE_SCORER_VERSION == "quality-v3"
    assert result.features["images"] == 2
    # The first user message (a photo and a request) is answered by the tool's generated image.
    assert result.features["imagePrompts"] == 1
    text = v2.points({k: v for k, v in result.features.items() if k in v2.FEATURES})
    assert result.points == text + 2 * RULES["perImage"] + RULES["perPrompt"]
    assert points_from_features("quality-v3", json.loads(json.dumps(result.features))) == result.points
    assert features_of("quality-v3", conversation) == result.features


def test_the_caps_hold_and_a_repeated_image_counts_once() -> None:
    cids = [cid_of(image_bytes("WEBP", 70 + i)) for i in range(RULES["maxImages"] + 3)]
    messages: list[dict[str, object]] = []
    for i in range(RULES["maxPrompts"] + 2):
        messages.append({"role": "user", "content": f"Draw picture {i}: {passage(f'img {i}', 12)}"})
        messages.append({"role": "assistant", "content": "Here it is.", "images": cids[i % len(cids):][:1]})
    messages.append({"role": "assistant", "content": "again", "images": [cids[0], cids[0]]})
    result = score(normalise({"messages": messages}))
    assert result.features["imagePrompts"] == RULES["maxPrompts"] + 2
    assert result.features["images"] == RULES["maxPrompts"] + 2
    text = v2.points({k: v for k, v in result.features.items() if k in v2.FEATURES})
    assert result.points == text + RULES["maxImages"] * RULES["perImage"] + RULES["maxPrompts"] * RULES["perPrompt"]
