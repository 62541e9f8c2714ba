"""Tokens of a message as the quality-v2 rules define them (docs/scoring.md, "Tokens").

A token is a maximal run of word characters (letters, marks, digits), or one character of a
script written without spaces (CJK ideographs, kana, Thai...), lower-cased, with every run of
digits written ``0`` (so that "v1", "v2"... are the same token) and a character repeated three
times or more written twice (keyboard mash like "jjjjjj" is one token, whatever its
length). Which code point is which comes
from the character tables of the rules file, never from this Python's Unicode database: the JS
scorer reads the same tables, and a Python with a newer Unicode scores the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class MessageTokens:
    """One message's tokens, in order, and its characters by kind."""

    tokens: list[str]
    joined: list[bool]
    """``joined[i]``: token ``i`` follows token ``i - 1`` across punctuation alone, without white
    space (``self.x``, ``don't``): such a pair is one written word, not two words in a row.
    Always false for the first token."""
    token_chars: int
    """Code points that are word characters."""
    other_chars: int
    """Code points that are neither word characters nor white space: punctuation, symbols, emoji."""


def _ranges(ranges: Sequence[Sequence[int]]) -> str:
    return "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)


def _one_of(ranges: Sequence[Sequence[int]]) -> str:
    """A regular expression matching one code point of the ``[first, last]`` ranges.

    Python's regex engine keeps the code points of a class beyond the BMP as a list it scans for
    every character the class fails on; a look-ahead for "beyond the BMP" keeps that scan to the
    (rare) characters that are, which makes tokenizing five times faster."""
    bmp = [(a, min(b, 0xFFFF)) for a, b in ranges if a <= 0xFFFF]
    astral = [(max(a, 0x10000), b) for a, b in ranges if b > 0xFFFF]
    if not astral:
        return f"[{_ranges(bmp)}]"
    return f"(?:[{_ranges(bmp)}]|(?=[\\U00010000-\\U0010ffff])[{_ranges(astral)}])"


def _lowercase_table(runs: Sequence[Sequence[int]]) -> dict[int, int]:
    table: dict[int, int] = {}
    for first, last, delta, step in runs:
        for cp in range(first, last + 1, step):
            table[cp] = cp + delta
    return table


@dataclass(frozen=True, slots=True)
class Tokenizer:
    token: re.Pattern[str]
    """One token, in a group: ``split`` gives the separators and the tokens in turn."""
    word_chars: re.Pattern[str]
    space_chars: re.Pattern[str]
    digits: re.Pattern[str]
    stretched: re.Pattern[str]
    lower: dict[int, int]
    joins: _Joins

    @classmethod
    def of(cls, characters: dict[str, Any]) -> Tokenizer:
        """The tokenizer of a rules file's ``characters`` tables."""
        word, single = _one_of(characters["word"]), _one_of(characters["single"])
        either = _one_of(sorted([*characters["word"], *characters["single"]]))
        return cls(
            token=re.compile(f"({single}|{word}+)"),
            word_chars=re.compile(f"{either}+"),
            space_chars=re.compile(f"{_one_of(characters['space'])}+"),
            digits=re.compile(f"{_one_of(characters['digit'])}+"),
            stretched=re.compile(f"({either})\\1\\1+"),
            lower=_lowercase_table(characters["lowercase"]),
            joins=_Joins(re.compile(f"{_one_of(characters['space'])}+")),
        )

    def tokenize(self, text: str) -> MessageTokens:
        # Counting by deletion builds one string, where findall builds one per run.
        token_chars = len(text) - len(self.word_chars.sub("", text))
        space_chars = len(text) - len(self.space_chars.sub("", text))
        # Lower case, then digits, then stretched letters ("sooooo", "aaaaaaa": at most two of a
        # character in a row): each keeps every word character a word character, so the tokens
        # fall where they fall in the text as written.
        folded = self.stretched.sub(r"\1\1", self.digits.sub("0", text.translate(self.lower)))
        parts = self.token.split(folded)  # separator, token, separator, ..., token, separator
        tokens = parts[1::2]
        # Token i is joined when the separator before it is not empty and holds no white space;
        # separators repeat (" ", ", ", ".\n"), so each is looked at once (``_Joins``).
        joined = [False, *map(self.joins.__getitem__, parts[2:-1:2])] if tokens else []
        return MessageTokens(tokens, joined, token_chars, len(text) - token_chars - space_chars)


class _Joins(dict[str, bool]):
    """Whether a separator joins the tokens on either side (not empty, no white space), worked
    out on the first look-up of each separator."""

    def __init__(self, space_chars: re.Pattern[str]) -> None:
        super().__init__()
        self.space_chars = space_chars

    def __missing__(self, separator: str) -> bool:
        joins = self[separator] = bool(separator) and self.space_chars.search(separator) is None
        return joins
