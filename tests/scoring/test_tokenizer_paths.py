"""The quality-v2 tokenizer's two paths give the same tokens: ASCII text is tokenized on the ASCII
part of the rules' tables (ledger.scoring.text), every other text on the full tables, and the
features the JS scorer recomputes depend on the two agreeing on every ASCII text."""

from __future__ import annotations

import random

from ledger.scoring.v2 import TOKENIZER
from tests.scoring.sample import real_conversations

ASCII = "".join(map(chr, range(128)))


def both(text: str) -> None:
    assert text.isascii()
    assert TOKENIZER.tokenize(text) == TOKENIZER.tokenize_general(text), repr(text)


def test_every_ascii_character_alone_repeated_and_between_words() -> None:
    for c in ASCII:
        for n in (1, 2, 3, 7):
            both(c * n)
            both(f"Word{c * n}word 12{c * n}34")


def test_random_ascii_text_mash_digits_and_punctuation() -> None:
    rng = random.Random(8785)
    alphabet = ASCII + "aAeE01 \n.'_-" * 8
    for _ in range(3000):
        both("".join(rng.choice(alphabet) * rng.choice((1, 1, 2, 3, 5)) for _ in range(rng.randint(0, 80))))


def test_real_ascii_messages() -> None:
    messages = [m.content for c in real_conversations(step=50) for m in c.messages if m.content.isascii()]
    assert len(messages) > 500
    for text in messages:
        both(text)


def test_non_ascii_text_takes_the_full_tables() -> None:
    # One non-ASCII character anywhere sends the whole text to the general path: "É" lower-cases
    # to "é", a word character the ASCII classes do not hold.
    text = TOKENIZER.tokenize("CAFÉ au lait 2024 Ééé")
    assert text.tokens == ["café", "au", "lait", "0", "éé"]
    assert text.token_chars == 17 and text.other_chars == 0
