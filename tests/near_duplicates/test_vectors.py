"""The sketch's stored bytes and band keys are a format: every replica compares its sketches with
the ones other replicas stored, so a change to how they are computed (the ASCII path of
``ledger.near_duplicates._token_hashes``, a faster hash) must give the same bytes or a new
``VERSION``. ``vectors/sketches.json`` pins them on ASCII, Unicode, CJK and mixed text, edge
cases (no token, one token a message) and real ShareGPT conversations."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from ledger import near_duplicates
from ledger.conversation import Conversation, Message
from ledger.near_duplicates import signature
from tests.scoring.sample import real_conversations

VECTORS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "vectors" / "sketches.json").read_text("utf-8"))
ASCII = "".join(map(chr, range(128)))


def conversation_of(vector: dict[str, Any]) -> Conversation:
    return Conversation(None, tuple(Message(m["role"], m["content"]) for m in vector["messages"]))


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_the_sketch_and_its_band_keys_are_the_pinned_ones(vector: dict[str, Any]) -> None:
    sketch = signature(conversation_of(vector))
    assert sketch.to_bytes().hex() == vector["sketch"]
    assert sketch.band_keys() == vector["bandKeys"]


def both(text: str) -> None:
    """The ASCII path's tokens are the regular expression's."""
    assert text.isascii()
    assert near_duplicates.ascii_tokens(text) == [t.encode() for t in near_duplicates.tokens(text)], repr(text)


def test_every_ascii_character_alone_repeated_and_between_words() -> None:
    for c in ASCII:
        for n in (1, 2, 3, 7):
            both(c * n)
            both(f"Word{c * n}word 12{c * n}34")


def test_random_ascii_text_mash_digits_and_punctuation() -> None:
    rng = random.Random(9162)
    alphabet = ASCII + "aAzZ09 \n.'_-" * 8
    for _ in range(3000):
        both("".join(rng.choice(alphabet) * rng.choice((1, 1, 2, 3, 5)) for _ in range(rng.randint(0, 80))))


def test_real_ascii_messages() -> None:
    messages = [m.content for c in real_conversations(step=50) for m in c.messages if m.content.isascii()]
    assert len(messages) > 500
    for text in messages:
        both(text)
