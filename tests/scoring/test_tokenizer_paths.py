"""The quality-v2 tokenizer's two paths give the same tokens: ASCII text is tokenized on the ASCII
part of the rules' tables (ledger.scoring.text), every other text on the full tables, and the
features the JS scorer recomputes depend on the two agreeing on every ASCII text."""

from __future__ import annotations

from ledger.scoring.v2 import TOKENIZER
from tests.support.ascii_texts import every_character, random_mash, real_ascii_messages


def both(text: str) -> None:
    assert text.isascii()
    assert TOKENIZER.tokenize(text) == TOKENIZER.tokenize_general(text), repr(text)


def test_every_ascii_character_alone_repeated_and_between_words() -> None:
    for text in every_character():
        both(text)


def test_random_ascii_text_mash_digits_and_punctuation() -> None:
    for text in random_mash(8785):
        both(text)


def test_real_ascii_messages() -> None:
    for text in real_ascii_messages():
        both(text)


def test_non_ascii_text_takes_the_full_tables() -> None:
    # One non-ASCII character anywhere sends the whole text to the general path: "É" lower-cases
    # to "é", a word character the ASCII classes do not hold.
    text = TOKENIZER.tokenize("CAFÉ au lait 2024 Ééé")
    assert text.tokens == ["café", "au", "lait", "0", "éé"]
    assert text.token_chars == 17 and text.other_chars == 0
