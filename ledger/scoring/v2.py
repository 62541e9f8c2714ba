"""The ``quality-v2`` scorer: points for substance and diversity that farming does not earn.

Two pure functions, and everything in between is an integer: ``features(conversation)`` counts
(never text) what the conversation holds, and ``points(features)`` turns those counts into points
with the constants of ``quality-v2.json``. The features are published with every manifest leaf,
so anyone can recompute the points from them, and anyone holding the conversation can recompute
the features. docs/scoring.md writes the rules out; clients/js/scoring.mjs is the same scorer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from math import isqrt
from types import ModuleType
from typing import Any

from ledger.conversation import Conversation
from ledger.scoring.rules import rules_of
from ledger.scoring.text import Tokenizer, compiled_tables

_compiled: ModuleType | None
try:
    from ledger.scoring import _features as _compiled
except ImportError:  # built by setup.py where a C compiler is; without it, the reference counts
    _compiled = None

VERSION = "quality-v2"
RULES: dict[str, Any] = rules_of(VERSION)
TOKENIZER = Tokenizer.of(RULES["characters"])
if _compiled is not None:
    _compiled.configure(*compiled_tables(RULES["characters"]))
COMPILED = _compiled is not None
"""Whether ``features`` counts in C (ledger/scoring/_features.c): the same features as
``features_in_python``, the reference, at a fraction of its cost (bench/scoring.py --speed)."""
_ROLES = {"user": 0, "assistant": 1}

FEATURES = ("userNew", "assistantNew", "tokens", "repeated", "novel", "novelTypes", "novelSquares",
            "bigramCollisions", "tokenChars", "otherChars")
"""The features, in the order they are published."""

PER_MILLE = 1000


def _shingles(words: list[str], size: int) -> list[tuple[str, ...]]:
    """``tuple(words[i:i + size])`` for every ``i``, in order."""
    full = list(zip(*(words[k:] for k in range(size)), strict=False))
    return full + [tuple(words[i:]) for i in range(len(full), len(words))]


def features(conversation: Conversation) -> dict[str, int]:
    """The counts ``points`` is computed from (docs/scoring.md, "Features"): ``features_in_python``'s,
    counted in C where the extension is built (system and tool messages earn nothing and cost
    nothing)."""
    if _compiled is None:
        return features_in_python(conversation)
    messages = [(_ROLES[m.role], m.content) for m in conversation.messages if m.role in _ROLES]
    free: dict[str, int] = RULES["freeTokens"]
    counts = _compiled.features(messages, free["user"], free["assistant"],
                                RULES["shingles"]["novelty"], RULES["shingles"]["repetition"])
    return dict(zip(FEATURES, counts, strict=True))


def features_in_python(conversation: Conversation) -> dict[str, int]:
    """The reference count of ``features``, written to be read (docs/scoring.md, "Features")."""
    novelty_size: int = RULES["shingles"]["novelty"]
    repetition_size: int = RULES["shingles"]["repetition"]
    free: dict[str, int] = RULES["freeTokens"]
    seen: set[tuple[str, ...]] = set()  # novelty shingles of the whole conversation
    # Repetition is counted within each side: an answer quoting the question (a proofread text,
    # code sent back fixed) is not a copy, an assistant repeating itself or a user pasting the
    # same prompt again is.
    seen_by_role: dict[str, set[tuple[str, ...]]] = {"user": set(), "assistant": set()}
    # Counts, never orders, are read from these (sums, sums of squares, sizes), so each is
    # filled in C (``Counter.update`` over an iterator) in whatever order comes.
    type_counts: Counter[str] = Counter()
    bigram_counts: Counter[tuple[str, str]] = Counter()
    new_tokens = {"user": 0, "assistant": 0}
    tokens = repeated = token_chars = other_chars = 0
    for message in conversation.messages:
        role = message.role
        if role != "user" and role != "assistant":
            continue  # system and tool messages earn nothing and cost nothing
        text = TOKENIZER.tokenize(message.content)
        token_chars += text.token_chars
        other_chars += text.other_chars
        words, joined = text.tokens, text.joined
        count = len(words)
        tokens += count
        # The shingle starting at each token (shorter at the end of the message), built by zip:
        # a slice per token costs three times as much (bench/scoring.py).
        own = seen_by_role[role]
        before = len(own)
        own.update(_shingles(words, repetition_size))
        repeated += count - (len(own) - before)  # a shingle already seen, here or before, repeats
        # The novelty shingles new to the conversation and the token each first starts: a dict
        # built from the end keeps each shingle's first position; the set difference drops
        # those seen in earlier messages.
        shingles = _shingles(words, novelty_size)
        first = dict(zip(reversed(shingles), range(len(shingles) - 1, -1, -1), strict=True))
        fresh = first.keys() - seen
        seen.update(fresh)
        novel = [first[short] for short in fresh]
        type_counts.update(map(words.__getitem__, novel))
        bigram_counts.update([(words[i], words[i + 1]) for i in novel if i + 1 < count and not joined[i + 1]])
        # The first few new tokens of each message are free: a "continue", a "thanks!" or a
        # one-line answer is what trivial-prompt spam is made of.
        new_tokens[role] += max(0, len(fresh) - free[role])
    return {
        "userNew": new_tokens["user"],
        "assistantNew": new_tokens["assistant"],
        "tokens": tokens,
        "repeated": repeated,
        "novel": sum(type_counts.values()),
        "novelTypes": len(type_counts),
        "novelSquares": sum(n * n for n in type_counts.values()),
        "bigramCollisions": sum(n * (n - 1) // 2 for n in bigram_counts.values()),
        "tokenChars": token_chars,
        "otherChars": other_chars,
    }


def _share(numerator: int, denominator: int) -> int:
    """``1000 * numerator / denominator`` rounded down and held to 0..1000; every operand of a
    division is non-negative, so JavaScript's truncating BigInt division gives the same."""
    if numerator <= 0:
        return 0
    if numerator >= denominator:
        return PER_MILLE
    return PER_MILLE * numerator // denominator


def _falling(value: int, full: int, zero: int) -> int:
    """1000 at ``value <= full``, 0 at ``value >= zero``, linear in between (per mille)."""
    return _share(zero - value, zero - full)


def _rising(value: int, zero: int, full: int) -> int:
    """0 at ``value <= zero``, 1000 at ``value >= full``, linear in between (per mille)."""
    return _share(value - zero, full - zero)


def factors(f: Mapping[str, int]) -> dict[str, int]:
    """The length points and each per-mille factor (docs/scoring.md, "Points"), for display and
    for ``points``."""
    weights, length = RULES["weights"], RULES["length"]
    substance = weights["user"] * f["userNew"] + weights["assistant"] * f["assistantNew"]
    offset = length["offset"]
    length_points = min(length["cap"], isqrt(length["scale"] * substance + offset * offset) - offset)

    novel, types, squares = f["novel"], f["novelTypes"], f["novelSquares"]
    vocabulary_rules, order_rules = RULES["vocabulary"], RULES["order"]
    if novel:
        # Distinct tokens grow like novel^0.75 or slower in any language; random strings keep
        # nearly every token new. Compared as types^4 / novel^3, in thousandths.
        spread = PER_MILLE * types ** 4 // novel ** 3
        vocabulary = _falling(spread, vocabulary_rules["full"], vocabulary_rules["zero"])
        # Adjacent pairs that recur, against what the same tokens in random order would give
        # (squares^2 / (2 novel^2) pairs), in thousandths; a prior of priorWeight such pairs at
        # priorRatio stands in for the evidence short texts lack.
        weight = order_rules["priorWeight"]
        ratio = ((PER_MILLE * f["bigramCollisions"] + order_rules["priorRatio"] * weight) * 2 * novel * novel
                 // (squares * squares + 2 * weight * novel * novel))
        order = _rising(ratio, order_rules["zero"], order_rules["full"])
    else:
        vocabulary = order = 0

    tokens, repeated = f["tokens"], f["repeated"]
    repetition_rules = RULES["repetition"]
    # Repeated long shingles per new one, in thousandths: a conversation that says everything
    # twice has at least one repeat per new shingle.
    repeats = PER_MILLE * repeated // (tokens - repeated) if tokens > repeated else 0
    repetition = _falling(repeats, repetition_rules["full"], repetition_rules["zero"]) if tokens else 0

    symbols_rules = RULES["symbols"]
    chars = f["tokenChars"] + f["otherChars"]
    symbol_share = PER_MILLE * f["otherChars"] // chars if chars else PER_MILLE
    symbols = _falling(symbol_share, symbols_rules["full"], symbols_rules["zero"])
    return {"length": length_points, "vocabulary": vocabulary, "order": order, "repetition": repetition,
            "symbols": symbols}


def points(f: Mapping[str, int]) -> int:
    """The points of a conversation with features ``f``: its length points times the weaker of
    the two language factors, times the repetition and symbol factors."""
    x = factors(f)
    return x["length"] * min(x["vocabulary"], x["order"]) * x["repetition"] * x["symbols"] // PER_MILLE ** 3
