"""The sketch's stored bytes and band keys are a format: every replica compares its sketches with
the ones other replicas stored, so a change to how they are computed (the ASCII path of
``ledger.near_duplicates._token_hashes``, a faster hash) must give the same bytes or a new
``VERSION``. ``vectors/sketches.json`` pins them on ASCII, Unicode, CJK and mixed text, edge
cases (no token, one token a message) and real ShareGPT conversations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger import near_duplicates
from ledger.conversation import Conversation, Message
from ledger.near_duplicates import signature
from tests.support.ascii_texts import every_character, random_mash, real_ascii_messages

VECTORS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "vectors" / "sketches.json").read_text("utf-8"))


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
    for text in every_character():
        both(text)


def test_random_ascii_text_mash_digits_and_punctuation() -> None:
    for text in random_mash(9162):
        both(text)


def test_real_ascii_messages() -> None:
    for text in real_ascii_messages():
        both(text)
