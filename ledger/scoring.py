"""Quality scoring: how many points a canonical conversation earns at acceptance.

The scorer is deterministic (same conversation, same points, on any machine) and versioned: the
version goes into every contribution row and every epoch manifest, so a published number can be
recomputed with the scorer that produced it. The rules are written down in docs/scoring.md;
changing any constant here is a new version.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from ledger.conversation import Conversation

SCORER_VERSION = "quality-v1"

POINTS_PER_EXCHANGE = 10
MAX_COUNTED_EXCHANGES = 20
USER_WORDS_PER_POINT = 10
ASSISTANT_WORDS_PER_POINT = 40
MAX_USER_SUBSTANCE = 150
MAX_ASSISTANT_SUBSTANCE = 150
TRIVIAL_USER_WORDS = 3
CAP = 400

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Score:
    """The points of one conversation and the figures they were computed from."""

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
        """The published form: the API's camelCase field names."""
        return {_camel(k): v for k, v in asdict(self).items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def score(conversation: Conversation) -> Score:
    """Score a canonical conversation with the rules of docs/scoring.md."""
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
                if pending_user_words < TRIVIAL_USER_WORDS:
                    trivial += 1
                else:
                    exchanges += 1
                pending_user_words = None
    distinct_user = len(user_words)
    distinct_assistant = len(assistant_words)
    base = POINTS_PER_EXCHANGE * min(exchanges, MAX_COUNTED_EXCHANGES)
    substance = min(distinct_user // USER_WORDS_PER_POINT, MAX_USER_SUBSTANCE) + min(
        distinct_assistant // ASSISTANT_WORDS_PER_POINT, MAX_ASSISTANT_SUBSTANCE
    )
    # Repeated messages (copy-pasted prompts, looping answers) scale the whole score down by the
    # share of messages that are new; integer arithmetic keeps every platform bit-identical.
    unique = counted - duplicates
    raw = (base + substance) * unique // counted if counted else 0
    points = min(raw, CAP)
    return Score(
        version=SCORER_VERSION,
        points=points,
        exchanges=exchanges,
        trivial_exchanges=trivial,
        user_words=user_count,
        assistant_words=assistant_count,
        distinct_user_words=distinct_user,
        distinct_assistant_words=distinct_assistant,
        repetition=round(duplicates / counted, 4) if counted else 0.0,
        capped=raw > CAP,
    )
