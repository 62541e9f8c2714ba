"""The real conversations the scorer is measured on: ShareGPT, every conversation that normalises
(``step=1``), or every ``step``-th of them for a faster test spread over the whole file."""

from __future__ import annotations

from functools import cache

from ledger.conversation import Conversation, ConversationError, normalise
from tally.sharegpt import iter_sharegpt


@cache
def real_conversations(step: int = 1) -> tuple[Conversation, ...]:
    kept: list[Conversation] = []
    normalised = 0
    for record in iter_sharegpt():
        try:
            conversation = normalise(record)
        except ConversationError:
            continue
        if normalised % step == 0:
            kept.append(conversation)
        normalised += 1
    return tuple(kept)


def words(conversation: Conversation) -> int:
    """White-space separated words of the user and assistant messages."""
    return sum(len(m.content.split()) for m in conversation.messages if m.role in ("user", "assistant"))
