"""The ``quality-v1`` scorer, which scored contributions before ``quality-v2``.

No new contribution is scored with it: contributions it scored keep its points and its version,
and it stays so that their points recompute, from the features their manifest leaves publish
(``points``) and from the conversation itself (``features``). Its constants are those of
``quality-v1.json``; docs/scoring.md writes the rules out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ledger.conversation import Conversation
from ledger.scoring.rules import rules_of

VERSION = "quality-v1"
RULES: dict[str, Any] = rules_of(VERSION)

FEATURES = ("exchanges", "distinctUserWords", "distinctAssistantWords", "messages", "uniqueMessages")
"""What the points are computed from, in the order they are published."""

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Score:
    """The points of one conversation and the figures they were computed from, as v1 stored them
    in the ``score`` column of its contributions."""

    version: str
    points: int
    exchanges: int
    trivial_exchanges: int
    user_words: int
    assistant_words: int
    distinct_user_words: int
    distinct_assistant_words: int
    repetition: float
    capped: bool

    def as_dict(self) -> dict[str, Any]:
        """The stored form: the API's camelCase field names."""
        return {_camel(k): v for k, v in asdict(self).items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True, slots=True)
class _Counts:
    exchanges: int
    trivial: int
    user_words: int
    assistant_words: int
    distinct_user: int
    distinct_assistant: int
    counted: int
    duplicates: int


def _count(conversation: Conversation) -> _Counts:
    exchanges = trivial = 0
    user_words: set[str] = set()
    assistant_words: set[str] = set()
    user_count = assistant_count = 0
    seen_texts: set[str] = set()
    counted = duplicates = 0
    pending_user_words: int | None = None
    for message in conversation.messages:
        if message.role not in ("user", "assistant"):
            continue
        words = _WORD.findall(message.content.lower())
        counted += 1
        # Two messages are the same when their words are, whatever the spacing or case.
        key = " ".join(words)
        if key in seen_texts:
            duplicates += 1
        seen_texts.add(key)
        if message.role == "user":
            user_words.update(words)
            user_count += len(words)
            pending_user_words = len(words)
        else:
            assistant_words.update(words)
            assistant_count += len(words)
            if pending_user_words is not None:
                # An exchange is a user message answered by the assistant; a greeting or a
                # one-word nudge ("continue") is an exchange, but not one worth paying for.
                if pending_user_words < RULES["trivialUserWords"]:
                    trivial += 1
                else:
                    exchanges += 1
                pending_user_words = None
    return _Counts(exchanges, trivial, user_count, assistant_count, len(user_words), len(assistant_words),
                   counted, duplicates)


def _raw(f: Mapping[str, int]) -> int:
    base = RULES["pointsPerExchange"] * min(f["exchanges"], RULES["maxCountedExchanges"])
    substance = min(f["distinctUserWords"] // RULES["userWordsPerPoint"], RULES["maxUserSubstance"]) + min(
        f["distinctAssistantWords"] // RULES["assistantWordsPerPoint"], RULES["maxAssistantSubstance"])
    # Repeated messages (copy-pasted prompts, looping answers) scale the whole score down by the
    # share of messages that are new; integer arithmetic keeps every platform bit-identical.
    messages = f["messages"]
    raw: int = (base + substance) * f["uniqueMessages"] // messages if messages else 0
    return raw


def points(f: Mapping[str, int]) -> int:
    """The v1 points of a conversation with features ``f``."""
    cap: int = RULES["cap"]
    return min(_raw(f), cap)


def features(conversation: Conversation) -> dict[str, int]:
    """The counts v1's points are computed from."""
    c = _count(conversation)
    return {"exchanges": c.exchanges, "distinctUserWords": c.distinct_user, "distinctAssistantWords":
            c.distinct_assistant, "messages": c.counted, "uniqueMessages": c.counted - c.duplicates}


def score(conversation: Conversation) -> Score:
    """Score a canonical conversation with the v1 rules of docs/scoring.md."""
    c = _count(conversation)
    f = features(conversation)
    raw = _raw(f)
    return Score(
        version=VERSION,
        points=min(raw, RULES["cap"]),
        exchanges=c.exchanges,
        trivial_exchanges=c.trivial,
        user_words=c.user_words,
        assistant_words=c.assistant_words,
        distinct_user_words=c.distinct_user,
        distinct_assistant_words=c.distinct_assistant,
        repetition=round(c.duplicates / c.counted, 4) if c.counted else 0.0,
        capped=raw > RULES["cap"],
    )


def recorded_features(breakdown: Mapping[str, Any], message_count: int) -> dict[str, int]:
    """The features of a contribution v1 scored, from what it stored: its ``score`` breakdown and
    the number of messages of its conversation.

    v1 stored the share of duplicate messages rounded to 4 places (``repetition``), not the two
    counts it was computed from. They are recovered exactly: the user and assistant messages are
    at most all the messages (system messages were not counted), and among the counts that give
    that share, the first that gives the stored points is taken, trying every message counted
    first. A breakdown no count explains (which v1 never wrote) gets the all-messages reading,
    and the audit reports the leaf.
    """
    known = {"exchanges": int(breakdown["exchanges"]), "distinctUserWords": int(breakdown["distinctUserWords"]),
             "distinctAssistantWords": int(breakdown["distinctAssistantWords"])}
    share, stored = breakdown["repetition"], int(breakdown["points"])
    for messages in range(message_count, 0, -1):
        estimate = round(share * messages)
        for duplicates in (estimate, estimate - 1, estimate + 1):
            if 0 <= duplicates < messages and round(duplicates / messages, 4) == share:
                candidate = {**known, "messages": messages, "uniqueMessages": messages - duplicates}
                if points(candidate) == stored:
                    return candidate
    duplicates = min(max(round(share * message_count), 0), max(message_count - 1, 0))
    return {**known, "messages": message_count, "uniqueMessages": message_count - duplicates}
