"""The quality scorers: quality-v2 for new contributions, quality-v1 kept for the ones it scored.

Both are deterministic and integer; v2 is capped, grows sublinearly with length and does not pay
for the farming v1 paid for (tests/scoring/test_targets.py measures that on ShareGPT)."""

from __future__ import annotations

import ast
import inspect
import random

import pytest

from ledger.conversation import Conversation, normalise
from ledger.scoring import (
    SCORER_VERSION,
    InvalidFeaturesError,
    UnknownScorerError,
    checked_features,
    features_of,
    points_from_features,
    recorded_features,
    score,
    text,
    v1,
    v2,
)
from tests.scoring.sample import real_conversations


def convo(*pairs: tuple[str, str]) -> Conversation:
    messages = []
    for user, assistant in pairs:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return normalise({"messages": messages})


QUESTION = "How should I structure a PostgreSQL schema for an append-only double-entry ledger?"
ANSWER = " ".join(f"word{i}" for i in range(200))


@pytest.fixture(scope="module")
def real() -> tuple[Conversation, ...]:
    return real_conversations(50)  # about 350, spread over ShareGPT


# --- quality-v1, as it was ---------------------------------------------------------------------


def test_v1_points_follow_its_documented_rules() -> None:
    result = v1.score(convo((QUESTION, ANSWER)))
    # 1 exchange = 10; 14 distinct user words ("append-only" is two) // 10 = 1; 200 distinct assistant words // 40 = 5.
    assert (result.exchanges, result.distinct_user_words, result.distinct_assistant_words) == (1, 14, 200)
    assert result.points == 10 + 1 + 5 and result.version == "quality-v1"


def test_v1_trivial_prompts_repetition_and_cap() -> None:
    assert v1.score(convo(("hi", "Hello! How can I help?"), ("continue", "Sure."))).points == 0
    repeated = v1.score(convo(*[(QUESTION, ANSWER)] * 4))
    assert repeated.repetition == 0.75 and repeated.points == (40 + 1 + 5) * 2 // 8
    pairs = [(f"question {i} " + " ".join(f"u{i}x{j}" for j in range(50)), " ".join(f"a{i}y{j}" for j in range(400)))
             for i in range(40)]
    capped = v1.score(convo(*pairs))
    assert capped.points == 400 and capped.capped


def test_v1_features_recompute_v1_points_from_the_text_and_from_what_v1_stored(real: tuple[Conversation, ...]) -> None:
    for conversation in real:
        stored = v1.score(conversation)
        from_text = features_of("quality-v1", conversation)
        assert points_from_features("quality-v1", from_text) == stored.points
        recovered = recorded_features("quality-v1", stored.as_dict(), len(conversation.messages))
        assert points_from_features("quality-v1", recovered) == stored.points
        if all(m.role in ("user", "assistant") for m in conversation.messages):
            assert recovered == from_text  # with nothing uncounted, the stored breakdown says it all


def test_v1_stored_counts_are_recovered_past_uncounted_system_messages() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Be kind."}]
    for _ in range(3):
        messages += [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": ANSWER}]
    conversation = normalise({"messages": messages})
    stored = v1.score(conversation).as_dict()  # 6 counted messages, 2 unique: repetition 0.6667
    recovered = recorded_features("quality-v1", stored, len(conversation.messages))
    assert recovered == features_of("quality-v1", conversation) == {
        "exchanges": 3, "distinctUserWords": 14, "distinctAssistantWords": 200, "messages": 6, "uniqueMessages": 2}


# --- quality-v2 --------------------------------------------------------------------------------


def test_new_contributions_are_scored_with_v2_and_publish_their_features() -> None:
    result = score(convo((QUESTION, ANSWER)))
    assert SCORER_VERSION == result.version == "quality-v2"
    assert result.as_dict() == {"version": "quality-v2", "points": result.points, "features": result.features}
    assert list(result.features) == list(v2.FEATURES)
    assert points_from_features("quality-v2", result.features) == result.points


def test_v2_pays_the_real_exchange_and_not_what_v1_paid_farmers(real: tuple[Conversation, ...]) -> None:
    rng = random.Random(1)
    exchange = next(c for c in real if len(c.messages) >= 2 and c.messages[0].role == "user"
                    and len(c.messages[1].content.split()) >= 200)
    question, answer = exchange.messages[0].content, " ".join(exchange.messages[1].content.split()[:200])
    honest = score(convo((question, answer))).points

    def word() -> str:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(7))

    gibberish = convo(*[(" ".join(word() for _ in range(20)), " ".join(word() for _ in range(100)))
                        for _ in range(20)])
    sentences = [s for c in real[:40] for m in c.messages if m.role == "assistant"
                 for s in m.content.split(". ") if 40 < len(s) < 150]
    continued = convo(*[(f"please continue {k}", rng.choice(sentences) + ".") for k in range(1, 21)])
    repeated = convo(*[(f"{question} v{k}", f"{answer} v{k}") for k in range(1, 21)])
    # v1 paid each farm more than the honest exchange; v2 pays each at most a tenth of it.
    assert v1.score(gibberish).points > v1.score(convo((question, answer))).points
    assert honest > 20
    for farmed, why in ((gibberish, "vocabulary"), (continued, "length"), (repeated, "repetition")):
        assert score(farmed).points * 10 <= honest
        assert v2.factors(score(farmed).features)[why] < 500, why  # and for the documented reason


def test_v2_points_grow_sublinearly_with_length_up_to_the_cap(real: tuple[Conversation, ...]) -> None:
    # Distinct real conversations one after another: more substance, same kind of text.
    long_ones = [c for c in real if len(c.messages) >= 4][:64]
    previous = 0
    for n in (1, 2, 4, 8, 16, 32, 64):
        merged = Conversation(None, tuple(m for c in long_ones[:n] for m in c.messages))
        length = v2.factors(score(merged).features)["length"]
        assert length >= previous and (n == 1 or length < 2 * previous or length == 400), (n, length, previous)
        previous = length
    assert previous == 400  # the cap
    assert all(score(c).points <= 400 for c in real)


def test_v2_is_deterministic_and_integer_all_the_way(real: tuple[Conversation, ...]) -> None:
    for conversation in real[:100]:
        first, second = score(conversation), score(conversation)
        assert first == second and type(first.points) is int
        assert all(type(value) is int and value >= 0 for value in first.features.values())
    # No float anywhere in the computation: no true division, no float literal, no float() call.
    for module in (v2, text):
        tree = ast.parse(inspect.getsource(module))
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Div)], module.__name__
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, float)]
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in ("float", "round")]


def test_features_must_be_exactly_the_versions_own() -> None:
    good = score(convo((QUESTION, ANSWER))).features
    assert checked_features("quality-v2", good) == good
    for broken, what in (({**good, "tokens": -1}, "tokens must be"), ({**good, "tokens": 1.0}, "tokens must be"),
                         ({k: v for k, v in good.items() if k != "novel"}, "novel is missing"),
                         ({**good, "bonus": 5}, "no feature bonus"), ({**good, "tokens": True}, "tokens must be")):
        with pytest.raises(InvalidFeaturesError, match=what):
            points_from_features("quality-v2", broken)
    with pytest.raises(UnknownScorerError):
        points_from_features("quality-v9", good)


def test_real_conversations_are_told_apart(real: tuple[Conversation, ...]) -> None:
    seen = {score(conversation).points for conversation in real}
    assert len(seen) > 100  # the scorer spreads real conversations over the range
