"""Real ShareGPT conversations by language and kind, to check that the scorer does not pay for
the language a conversation is in: exchanges written mostly in one script (Han, Hangul, Kana,
Cyrillic) or in Spanish, code-heavy English conversations, and the rest (English prose).

A group's conversation keeps the exchanges of one ShareGPT conversation that are in that
language; scripts are told by Unicode blocks, Spanish by its commonest words (no English)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from ledger.conversation import Conversation, Message

LETTER = re.compile(r"[^\W\d_]")
SCRIPTS = {
    "Chinese": re.compile(r"[\u4e00-\u9fff]"),
    "Korean": re.compile(r"[\uac00-\ud7af]"),
    "Japanese": re.compile(r"[\u3040-\u30ff]"),
    "Russian": re.compile(r"[\u0400-\u04ff]"),
}
SPANISH = re.compile(r"\b(que|los|las|para|por|una|como|del|está|también|puede|es|el|la|de|en|y)\b", re.I)
ENGLISH = re.compile(r"\b(the|and|of|to|is|in|that|for|with|you)\b", re.I)
FENCE = re.compile(r"```.*?```", re.S)

Exchange = tuple[Message, Message]


def _exchanges(conversation: Conversation) -> list[Exchange]:
    pairs: list[Exchange] = []
    question: Message | None = None
    for message in conversation.messages:
        if message.role == "user":
            question = message
        elif message.role == "assistant" and question is not None:
            pairs.append((question, message))
            question = None
    return pairs


def _in_script(pattern: re.Pattern[str]) -> Callable[[Exchange], bool]:
    def test(pair: Exchange) -> bool:
        text = pair[0].content + pair[1].content
        return (len(pattern.findall(text)) >= 0.6 * max(1, len(LETTER.findall(text)))
                and len(pattern.findall(pair[1].content)) >= 100)
    return test


def _spanish(pair: Exchange) -> bool:
    words = pair[1].content.split()
    return (len(words) >= 60 and len(SPANISH.findall(pair[1].content)) >= 0.15 * len(words)
            and len(ENGLISH.findall(pair[1].content)) < 0.02 * len(words))


def _code_heavy(conversation: Conversation) -> bool:
    text = "\n".join(m.content for m in conversation.messages)
    return len(text) >= 2000 and sum(map(len, FENCE.findall(text))) >= 0.5 * len(text)


def groups(conversations: Iterable[Conversation]) -> dict[str, list[Conversation]]:
    """Conversations in each language (their exchanges in it), code-heavy ones, and English prose."""
    tests = {**{name: _in_script(p) for name, p in SCRIPTS.items()}, "Spanish": _spanish}
    out: dict[str, list[Conversation]] = {name: [] for name in [*tests, "code-heavy English", "English prose"]}
    for conversation in conversations:
        pairs = _exchanges(conversation)
        placed = False
        for name, test in tests.items():
            kept = [m for pair in pairs if test(pair) for m in pair]
            if kept:
                out[name].append(Conversation(conversation.model, tuple(kept)))
                placed = True
        if placed:
            continue
        text = " ".join(m.content for m in conversation.messages)
        if not text.isascii():
            continue
        out["code-heavy English" if _code_heavy(conversation) else "English prose"].append(conversation)
    return out
