"""The near-duplicate sketch on its own: what it calls the same, and what it keeps apart (each
edit class refused, the later part of a split ShareGPT conversation accepted)."""

from __future__ import annotations

import random

import pytest

from ledger.conversation import Conversation, Message, normalise
from ledger.near_duplicates import BANDS, BINS, MIN_COMMON, SKETCH_BYTES, VERSION, Signature, signature
from tally.sharegpt import distinct_conversations, iter_sharegpt
from tests.near_duplicates.edits import EDITS

REAL = [normalise(record) for record in distinct_conversations(60)]


def convo(*texts: str) -> Conversation:
    return Conversation(None, tuple(Message("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(texts)))


def test_the_sketch_round_trips_has_one_key_per_band_and_is_versioned() -> None:
    sig = signature(REAL[0])
    assert len(sig.assistant) == len(sig.other) == BINS and len(sig.to_bytes()) == SKETCH_BYTES
    assert Signature.from_bytes(sig.to_bytes()) == sig
    assert len(sig.band_keys()) == BANDS and len(set(sig.band_keys())) == BANDS
    # A sketch of other parameters (version 1 was 256 bytes of 64 bins) is never compared.
    assert Signature.from_bytes(bytes([VERSION + 1]) + sig.to_bytes()[1:]) is None
    assert Signature.from_bytes(bytes(256)) is None


def test_case_spacing_punctuation_and_message_order_do_not_matter() -> None:
    plain = convo("How do I reverse a list in Python quickly",
                  "Use slicing with a negative step or the reversed builtin")
    shouty = convo("HOW   do I reverse a list, in Python... quickly?!",
                   "use SLICING with a negative step; or the reversed() builtin.")
    assert signature(plain) == signature(shouty)
    assert signature(plain).is_near_duplicate_of(signature(shouty))
    swapped = Conversation(None, (plain.messages[1], plain.messages[0]))
    assert signature(swapped).similarity(signature(plain)) == (1.0, 1.0)


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


def split_parts(count: int) -> list[tuple[Conversation, Conversation]]:
    """(an earlier part, the next part) of split ShareGPT conversations (``abc_0``, ``abc_1``)."""
    parts: dict[str, Conversation] = {}
    pairs = []
    for record in iter_sharegpt():
        stem, _, number = str(record.get("id", "")).rpartition("_")
        if not number.isdigit():
            continue
        try:
            parts[f"{stem}_{number}"] = normalise(record)
        except ValueError:
            continue
        earlier = parts.get(f"{stem}_{int(number) - 1}")
        if earlier is not None:
            pairs.append((earlier, parts[f"{stem}_{number}"]))
            if len(pairs) == count:
                break
    return pairs


def test_the_next_part_of_a_split_conversation_is_accepted() -> None:
    # It repeats the earlier part's words here and there (the pasted text, the names), and
    # answers anew: the whole is unlike, and most of its assistant text is its own.
    pairs = split_parts(100)
    refused = [i for i, (earlier, later) in enumerate(pairs)
               if signature(later).is_near_duplicate_of(signature(earlier))]
    assert len(pairs) == 100 and len(refused) <= 5, refused


def test_a_copy_with_no_new_answer_is_refused_though_a_long_prompt_changed() -> None:
    answer = "The capital of France is Paris, a city on the Seine with about two million people in it."
    original = convo("Tell me about the capital of France and how many people live there", answer)
    reworded = convo("Please could you tell me which city is the capital of France, and its population?", answer)
    new_answer = convo("Tell me about the capital of France and how many people live there",
                       "France's seat of government is Paris; the city proper counts roughly two million residents.")
    assert signature(reworded).similarity(signature(original))[1] == 1.0
    assert not signature(new_answer).is_near_duplicate_of(signature(original))


def test_a_short_greeting_is_never_a_copy_and_has_no_band_keys() -> None:
    hello = convo("hi", "Hello! How can I help you today?")
    assert signature(hello).count < MIN_COMMON and signature(hello).band_keys() == []
    assert not signature(hello).is_near_duplicate_of(signature(hello))


def test_distinct_real_conversations_are_kept_apart() -> None:
    sigs = [signature(c) for c in REAL]
    flagged = [(i, j) for i in range(len(sigs)) for j in range(i) if sigs[i].is_near_duplicate_of(sigs[j])]
    assert flagged == []


def test_a_conversation_without_any_word_has_a_sketch_too() -> None:
    empty = signature(convo("🙂🙂", "👍"))
    assert empty.count == 0 and not empty.assistant.any() and empty.band_keys() == []
    assert Signature.from_bytes(empty.to_bytes()) == empty
