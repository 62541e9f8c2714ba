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

import array
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
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


def _run_of(ranges: Sequence[Sequence[int]]) -> str:
    """A regular expression matching a maximal run of code points of the ranges: ``_one_of(...)+``,
    written so that the engine takes a run of BMP characters in one step of its own (a repeated
    class) rather than one alternation per character, which halves the cost on non-ASCII text."""
    bmp = [(a, min(b, 0xFFFF)) for a, b in ranges if a <= 0xFFFF]
    astral = [(max(a, 0x10000), b) for a, b in ranges if b > 0xFFFF]
    if not astral:
        return f"[{_ranges(bmp)}]+"
    return f"(?:[{_ranges(bmp)}]+|(?=[\\U00010000-\\U0010ffff])[{_ranges(astral)}])+"


def _ascii_of(ranges: Sequence[Sequence[int]]) -> str:
    """The ASCII characters of the ranges, in order."""
    return "".join(chr(cp) for first, last in ranges for cp in range(first, min(last, 0x7F) + 1))


def _ascii_class(characters: str) -> str:
    return "[" + "".join(f"\\x{ord(c):02x}" for c in characters) + "]" if characters else "(?!)"


def _lowercase_table(runs: Sequence[Sequence[int]]) -> dict[int, int]:
    table: dict[int, int] = {}
    for first, last, delta, step in runs:
        for cp in range(first, last + 1, step):
            table[cp] = cp + delta
    return table


@dataclass(frozen=True, slots=True)
class _AsciiTokenizer:
    """The same tables restricted to ASCII, for text that is all ASCII (most of every language
    written in Latin letters, and code): a character of such text is in a class exactly when it
    is in the class's ASCII part, so these small classes give the same tokens and counts as the
    full ones, and the character counts come from ``bytes.translate`` deleting a class's
    characters, at C speed (bench/ingest_stages.py measures both paths)."""

    token: re.Pattern[str]
    word_bytes: bytes
    space_bytes: bytes
    digits: re.Pattern[str]
    stretched: re.Pattern[str]

    @classmethod
    def of(cls, characters: dict[str, Any], lower: dict[int, int]) -> _AsciiTokenizer | None:
        """None unless the table lower-cases ASCII as ``str.lower`` does (A-Z only, so that
        lower-cased ASCII text stays ASCII)."""
        word, single = _ascii_of(characters["word"]), _ascii_of(characters["single"])
        either = "".join(sorted(set(word + single)))
        if {cp: to for cp, to in lower.items() if cp < 0x80} != {cp: cp + 32 for cp in range(ord("A"), ord("Z") + 1)}:
            return None
        # No single-character tokens in ASCII (the rules' are CJK, kana, Thai...): no alternation
        # that never matches, tried at every character: the split takes 0.70x the time without it
        # (ShareGPT's ASCII messages, the two patterns in alternating blocks).
        one_token = f"{_ascii_class(single)}|{_ascii_class(word)}+" if single else f"{_ascii_class(word)}+"
        return cls(
            token=re.compile(f"({one_token})"),
            word_bytes=either.encode("ascii"),
            space_bytes=_ascii_of(characters["space"]).encode("ascii"),
            digits=re.compile(f"{_ascii_class(_ascii_of(characters['digit']))}+"),
            stretched=re.compile(f"({_ascii_class(either)})\\1\\1+"),
        )


CompiledTables = tuple[bytes, bytes, list[tuple[int, int, int]], list[tuple[int, int]]]
"""The character tables as ledger/scoring/_features.c's ``configure`` takes them."""

_CLASS_BITS = {"word": 1, "space": 2, "digit": 4, "single": 8}


def compiled_tables(characters: dict[str, Any]) -> CompiledTables:
    """A rules file's ``characters`` tables for the compiled counter: each BMP code point's class
    bits (1 word, 2 white space, 4 digit, 8 a single-character token) and lower-case delta (as
    native 32-bit integers), then the code points beyond the BMP as disjoint [first, last, bits]
    segments and [code point, lower case] pairs, each sorted."""
    bmp = bytearray(0x10000)
    astral: dict[int, list[tuple[int, int]]] = {}  # each class's ranges beyond the BMP
    for name, bit in _CLASS_BITS.items():
        for first, last in characters[name]:
            for cp in range(first, min(last, 0xFFFF) + 1):
                bmp[cp] |= bit
            if last > 0xFFFF:
                astral.setdefault(bit, []).append((max(first, 0x10000), last))
    # Between two consecutive edges of any class's ranges, every code point is in the same classes.
    edges = sorted({first for ranges in astral.values() for first, _ in ranges}
                   | {last + 1 for ranges in astral.values() for _, last in ranges})
    segments: list[tuple[int, int, int]] = []
    for start, end in pairwise(edges):
        bits = sum(bit for bit, ranges in astral.items() if any(first <= start <= last for first, last in ranges))
        if bits:
            segments.append((start, end - 1, bits))
    lower = _lowercase_table(characters["lowercase"])
    deltas = array.array("i", bytes(4 * 0x10000))
    for cp, to in lower.items():
        if cp <= 0xFFFF:
            deltas[cp] = to - cp
    return (bytes(bmp), deltas.tobytes(), segments, sorted((cp, to) for cp, to in lower.items() if cp > 0xFFFF))


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
    ascii: _AsciiTokenizer | None

    @classmethod
    def of(cls, characters: dict[str, Any]) -> Tokenizer:
        """The tokenizer of a rules file's ``characters`` tables."""
        single = _one_of(characters["single"])
        either = sorted([*characters["word"], *characters["single"]])
        lower = _lowercase_table(characters["lowercase"])
        return cls(
            token=re.compile(f"({single}|{_run_of(characters['word'])})"),
            word_chars=re.compile(_run_of(either)),
            space_chars=re.compile(_run_of(characters["space"])),
            digits=re.compile(_run_of(characters["digit"])),
            stretched=re.compile(f"({_one_of(either)})\\1\\1+"),
            lower=lower,
            joins=_Joins(re.compile(_run_of(characters["space"]))),
            ascii=_AsciiTokenizer.of(characters, lower),
        )

    def tokenize(self, text: str) -> MessageTokens:
        if self.ascii is not None and text.isascii():
            return self._tokenize_ascii(self.ascii, text)
        return self.tokenize_general(text)

    def tokenize_general(self, text: str) -> MessageTokens:
        """``tokenize`` on the full classes, whatever the text (ASCII text takes the ASCII path)."""
        # Counting by deletion builds one string, where findall builds one per run.
        token_chars = len(text) - len(self.word_chars.sub("", text))
        space_chars = len(text) - len(self.space_chars.sub("", text))
        # Lower case, then digits, then stretched letters ("sooooo", "aaaaaaa": at most two of a
        # character in a row): each keeps every word character a word character, so the tokens
        # fall where they fall in the text as written.
        folded = self.stretched.sub(r"\1\1", self.digits.sub("0", text.translate(self.lower)))
        return self._tokens(self.token.split(folded), len(text), token_chars, space_chars)

    def _tokenize_ascii(self, fast: _AsciiTokenizer, text: str) -> MessageTokens:
        """``tokenize`` of ASCII text, the same steps on the ASCII classes (``_AsciiTokenizer``)."""
        data = text.encode("ascii")
        token_chars = len(data) - len(data.translate(None, fast.word_bytes))
        space_chars = len(data) - len(data.translate(None, fast.space_bytes))
        folded = fast.stretched.sub(r"\1\1", fast.digits.sub("0", text.lower()))
        return self._tokens(fast.token.split(folded), len(text), token_chars, space_chars)

    def _tokens(self, parts: list[str], length: int, token_chars: int, space_chars: int) -> MessageTokens:
        # ``parts``: separator, token, separator, ..., token, separator.
        tokens = parts[1::2]
        # Token i is joined when the separator before it is not empty and holds no white space;
        # separators repeat (" ", ", ", ".\n"), so each is looked at once (``_Joins``).
        joined = [False, *map(self.joins.__getitem__, parts[2:-1:2])] if tokens else []
        return MessageTokens(tokens, joined, token_chars, length - token_chars - space_chars)


class _Joins(dict[str, bool]):
    """Whether a separator joins the tokens on either side (not empty, no white space), worked
    out on the first look-up of each separator."""

    def __init__(self, space_chars: re.Pattern[str]) -> None:
        super().__init__()
        self.space_chars = space_chars

    def __missing__(self, separator: str) -> bool:
        joins = self[separator] = bool(separator) and self.space_chars.search(separator) is None
        return joins
