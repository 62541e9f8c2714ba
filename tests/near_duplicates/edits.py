"""Labelled near-duplicates: each edit class turns a real conversation into a copy a farmer might
submit again. Seeded, so the labelled set is the same on every run."""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from ledger.conversation import Conversation, Message

Edit = Callable[[Conversation, random.Random], Conversation | None]


def _with(conversation: Conversation, messages: list[Message]) -> Conversation | None:
    roles = {m.role for m in messages}
    if "user" not in roles or "assistant" not in roles:
        return None
    return Conversation(conversation.model, tuple(messages))


def _map_text(conversation: Conversation, change: Callable[[str], str]) -> Conversation | None:
    return _with(conversation, [Message(m.role, change(m.content)) for m in conversation.messages])


def case(c: Conversation, rng: random.Random) -> Conversation | None:
    return _map_text(c, lambda t: t.upper() if rng.random() < 0.5 else t.lower())


def white_space(c: Conversation, rng: random.Random) -> Conversation | None:
    return _map_text(c, lambda t: re.sub(r" ", lambda _m: "  " if rng.random() < 0.3 else " ", t))


def punctuation(c: Conversation, rng: random.Random) -> Conversation | None:
    def change(text: str) -> str:
        text = re.sub(r"[.,;:!?]", lambda m: "" if rng.random() < 0.5 else m.group(0), text)
        return text + "."
    return _map_text(c, change)


def sentence_added(c: Conversation, rng: random.Random) -> Conversation | None:
    messages = list(c.messages)
    i = rng.randrange(len(messages))
    messages[i] = Message(messages[i].role, messages[i].content + " Thanks, that is really helpful to know.")
    return _with(c, messages)


def sentence_removed(c: Conversation, rng: random.Random) -> Conversation | None:
    messages = list(c.messages)
    longest = max(range(len(messages)), key=lambda i: len(messages[i].content))
    sentences = re.split(r"(?<=[.!?])\s+", messages[longest].content)
    if len(sentences) < 3:
        return None
    del sentences[rng.randrange(len(sentences))]
    messages[longest] = Message(messages[longest].role, " ".join(sentences))
    return _with(c, messages)


def message_dropped(c: Conversation, rng: random.Random) -> Conversation | None:
    if len(c.messages) < 4:
        return None
    messages = list(c.messages)
    del messages[rng.randrange(len(messages))]
    return _with(c, messages)


def messages_swapped(c: Conversation, rng: random.Random) -> Conversation | None:
    if len(c.messages) < 3:
        return None
    messages = list(c.messages)
    i = rng.randrange(len(messages) - 1)
    messages[i], messages[i + 1] = messages[i + 1], messages[i]
    return _with(c, messages)


def words_substituted(c: Conversation, rng: random.Random) -> Conversation | None:
    vocabulary = ["apple", "river", "quickly", "seven", "blue", "engine", "market", "silent", "paper", "window"]

    def change(text: str) -> str:
        words = text.split(" ")
        for i in rng.sample(range(len(words)), k=len(words) // 10):
            words[i] = rng.choice(vocabulary)
        return " ".join(words)
    return _map_text(c, change)


EDITS: dict[str, Edit] = {
    "case": case, "white space": white_space, "punctuation": punctuation, "one sentence added": sentence_added,
    "one sentence removed": sentence_removed, "one message dropped": message_dropped,
    "two messages swapped": messages_swapped, "10% of words substituted": words_substituted,
}
