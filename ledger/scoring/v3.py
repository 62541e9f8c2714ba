"""The ``quality-v3`` scorer: ``quality-v2`` for the text, and points for the images and the prompts
that made them. Only conversations with images (canonical version 2, docs/formats.md §2) are
scored with it; every text-only conversation keeps ``quality-v2`` and its points.

``quality-v3.json`` names the text rules by their ``rulesHash`` (so v3's own hash covers them)
and holds the image constants; docs/scoring.md, "Images", writes the rules out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.conversation import Conversation
from ledger.scoring import v2
from ledger.scoring.rules import rules_hash, rules_of

VERSION = "quality-v3"
RULES: dict[str, Any] = rules_of(VERSION)
if RULES["text"] != rules_hash(v2.VERSION):
    raise RuntimeError(f"{VERSION} names text rules {RULES['text']}, not those of {v2.VERSION}")

FEATURES = (*v2.FEATURES, "images", "imagePrompts")
"""quality-v2's features, then the images' (in the order they are published)."""


def features(conversation: Conversation) -> dict[str, int]:
    """quality-v2's features, ``images`` (distinct image CIDs) and ``imagePrompts`` (user messages
    with text answered, before the next user message, by a message that carries images)."""
    prompts = 0
    waiting = False  # a user message with text whose answer has not carried an image yet
    for message in conversation.messages:
        if message.role == "user":
            waiting = bool(message.content)
        elif waiting and message.images:
            prompts += 1
            waiting = False
    return {**v2.features(conversation), "images": len(set(conversation.image_cids)), "imagePrompts": prompts}


def points(f: Mapping[str, int]) -> int:
    """quality-v2's points of the text, plus each image and each prompt up to their caps."""
    rules: dict[str, int] = RULES["images"]
    return (v2.points(f) + rules["perImage"] * min(f["images"], rules["maxImages"])
            + rules["perPrompt"] * min(f["imagePrompts"], rules["maxPrompts"]))
