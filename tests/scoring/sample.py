"""The real conversations the scorer is measured on: ShareGPT, every conversation that normalises
(``step=1``), or every ``step``-th of them for a faster test spread over the whole file."""

from __future__ import annotations

from functools import cache
from typing import Any

from ledger.conversation import Conversation, ConversationError, normalise
from tally.sharegpt import iter_sharegpt


@cache
def real_records(step: int = 1) -> tuple[tuple[dict[str, Any], Conversation], ...]:
    """Every ``step``-th ShareGPT record that normalises, as published and normalised."""
    kept: list[tuple[dict[str, Any], Conversation]] = []
    normalised = 0
    for record in iter_sharegpt():
        try:
            conversation = normalise(record)
        except ConversationError:
            continue
        if normalised % step == 0:
            kept.append((record, conversation))
        normalised += 1
    return tuple(kept)


def real_conversations(step: int = 1) -> tuple[Conversation, ...]:
    return tuple(conversation for _, conversation in real_records(step))


def words(conversation: Conversation) -> int:
    """White-space separated words of the user and assistant messages."""
    return sum(len(m.content.split()) for m in conversation.messages if m.role in ("user", "assistant"))
