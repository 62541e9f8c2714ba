"""The quality scorer: deterministic, integer, capped, and hard to farm."""

from __future__ import annotations

from ledger.conversation import normalise
from ledger.scoring import CAP, SCORER_VERSION, score
from tally.sharegpt import iter_sharegpt


def convo(*pairs: tuple[str, str]) -> object:
    messages = []
    for user, assistant in pairs:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return normalise({"messages": messages})


QUESTION = "How should I structure a PostgreSQL schema for an append-only double-entry ledger?"
ANSWER = " ".join(f"word{i}" for i in range(200))


def test_points_follow_the_documented_rules() -> None:
    result = score(convo((QUESTION, ANSWER)))
    # 1 exchange = 10; 14 distinct user words ("append-only" is two) // 10 = 1; 200 distinct assistant words // 40 = 5.
    assert (result.exchanges, result.distinct_user_words, result.distinct_assistant_words) == (1, 14, 200)
    assert result.points == 10 + 1 + 5
    assert result.version == SCORER_VERSION


def test_trivial_prompts_earn_no_exchange_points() -> None:
    result = score(convo(("hi", "Hello! How can I help?"), ("continue", "Sure.")))
    assert result.exchanges == 0 and result.trivial_exchanges == 2
    assert result.points == 0


def test_repetition_scales_the_score_down() -> None:
    once = score(convo((QUESTION, ANSWER)))
    repeated = score(convo(*[(QUESTION, ANSWER)] * 4))
    assert repeated.repetition == 0.75
    assert repeated.points < once.points * 2


def test_points_are_capped() -> None:
    pairs = [(f"question {i} " + " ".join(f"u{i}x{j}" for j in range(50)),
              " ".join(f"a{i}y{j}" for j in range(400))) for i in range(40)]
    result = score(convo(*pairs))
    assert result.points == CAP and result.capped


def test_real_conversations_score_deterministically_within_bounds() -> None:
    from ledger.conversation import ConversationError

    seen = []
    for record in iter_sharegpt(limit=200):
        try:
            conversation = normalise(record)
        except ConversationError:
            continue
        first, second = score(conversation), score(conversation)
        assert first == second
        assert 0 <= first.points <= CAP
        seen.append(first.points)
    assert len(set(seen)) > 20  # the scorer actually tells conversations apart
