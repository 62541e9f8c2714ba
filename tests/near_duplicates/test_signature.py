"""The near-duplicate signature on its own: what it calls the same, and what it keeps apart."""

from __future__ import annotations

import random

import pytest

from ledger.conversation import Conversation, Message, normalise
from ledger.near_duplicates import BANDS, BINS, SIGNATURE_BYTES, Signature, signature
from tally.sharegpt import distinct_conversations
from tests.near_duplicates.edits import EDITS

REAL = [normalise(record) for record in distinct_conversations(60)]


def convo(*texts: str) -> Conversation:
    return Conversation(None, tuple(Message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts)))


def test_the_signature_round_trips_and_has_one_key_per_band() -> None:
    sig = signature(REAL[0])
    assert len(sig.values) == BINS and len(sig.to_bytes()) == SIGNATURE_BYTES
    assert Signature.from_bytes(sig.to_bytes()) == sig
    assert len(sig.band_keys()) == BANDS and len(set(sig.band_keys())) == BANDS


def test_case_spacing_punctuation_and_message_order_do_not_matter() -> None:
    plain = convo("How do I reverse a list in Python quickly",
                  "Use slicing with a negative step or the reversed builtin")
    shouty = convo("HOW   do I reverse a list, in Python... quickly?!",
                   "use SLICING with a negative step; or the reversed() builtin.")
    assert signature(plain) == signature(shouty)
    swapped = Conversation(None, (plain.messages[1], plain.messages[0]))
    assert signature(swapped).agreement(signature(plain)) == BINS


def test_cjk_is_tokenised_by_character() -> None:
    # Full-width punctuation, as Chinese is written.
    a = convo("如何在 Python 中反转列表", "可以使用切片或者内置函数 reversed 来反转列表，这两种方法都很常用")  # noqa: RUF001
    b = convo("如何在 Python 中反转列表？", "可以使用切片或者内置函数 reversed 来反转列表，这两种方法都很常用。")  # noqa: RUF001
    other = convo("今天天气怎么样", "今天是晴天，气温大约二十五度，适合出门散步")  # noqa: RUF001
    assert signature(a).is_near_duplicate_of(signature(b))
    assert not signature(a).is_near_duplicate_of(signature(other))


@pytest.mark.parametrize("edit", list(EDITS), ids=list(EDITS))
def test_each_edit_class_is_caught_on_real_conversations(edit: str) -> None:
    rng = random.Random(7)
    pairs = [(c, EDITS[edit](c, rng)) for c in REAL]
    pairs = [(c, copy) for c, copy in pairs if copy is not None and copy.messages != c.messages]
    caught = sum(signature(copy).is_near_duplicate_of(signature(c)) for c, copy in pairs)
    assert pairs and caught >= 0.9 * len(pairs), (caught, len(pairs))


def test_distinct_real_conversations_are_kept_apart() -> None:
    sigs = [signature(c) for c in REAL]
    flagged = [(i, j) for i in range(len(sigs)) for j in range(i) if sigs[i].is_near_duplicate_of(sigs[j])]
    assert flagged == []


def test_a_conversation_without_any_word_has_a_signature_too() -> None:
    assert signature(convo("🙂🙂", "👍")).values == (0,) * BINS
