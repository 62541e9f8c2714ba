"""Generators of farmed conversations, one per class the scorer must resist (docs/scoring.md).

Each class has several variants and lengths, drawn from a seeded ``random.Random``, so the same
seed gives the same cases on every machine (the JS cross-test scores exactly these). Real text,
where a class needs it (word salad, the repeated or padded exchange, the duplicated conversation),
comes from ShareGPT conversations given by the caller. A case is a plain ``{"messages": [...]}``
document, as a client would submit it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.conversation import Conversation

Message = dict[str, str]
Document = dict[str, Any]

WORD = re.compile(r"\w+")
SENTENCE = re.compile(r"[^.!?\n]{20,200}[.!?]")

ALPHABETS = {
    "latin": "abcdefghijklmnopqrstuvwxyz",
    "latin-mixed-case": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "cyrillic": "".join(chr(c) for c in range(0x0430, 0x0450)),
    "greek": "".join(chr(c) for c in range(0x03B1, 0x03CA)),
    "han": "".join(chr(c) for c in range(0x4E00, 0x9FA5)),
    "hangul": "".join(chr(c) for c in range(0xAC00, 0xD7A3)),
    "mixed": "abcdefghijklmnopqrstuvwxyz" + "".join(chr(c) for c in [*range(0x0430, 0x0450), *range(0x4E00, 0x4F00)]),
}
KEYBOARD_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890", "йцукенгшщзхъ", "фывапролджэ"]
EMOJI = [chr(c) for c in [*range(0x1F600, 0x1F650), *range(0x1F300, 0x1F340), *range(0x1F680, 0x1F6A0)]] + [
    "❤️", "👍🏽", "🔥", "✨", "🎉"]
TRIVIAL_PROMPTS = ["continue", "go on", "more", "please continue", "next", "keep going", "ok", "1", "2", "3",
                   "👍", "🙂🙂", "...", "?", "yes", "more please"]
SHORT_REPLIES = ["Sure, here is more.", "Okay.", "Of course! Let me continue.", "Certainly.", "Here you go:"]
LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
         "et dolore magna aliqua.")
FILLER_WORDS = ["the", "data", "ok", "lol"]
FILLER_SYMBOLS = [".....", "-=-=-=", "*****", "#" * 40, "|---|---|"]
SWAP_WORDS = ["good", "great", "nice", "the", "very"]


@dataclass(frozen=True, slots=True)
class Case:
    family: str
    variant: str
    document: Document


def exchanges(conversation: Conversation) -> list[tuple[str, str]]:
    """The (user, assistant) pairs of a conversation: a user message and the answer after it."""
    pairs: list[tuple[str, str]] = []
    question: str | None = None
    for message in conversation.messages:
        if message.role == "user":
            question = message.content
        elif message.role == "assistant" and question is not None:
            pairs.append((question, message.content))
            question = None
    return pairs


def plain(pairs: Sequence[tuple[str, str]]) -> Document:
    messages: list[Message] = []
    for user, assistant in pairs:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return {"messages": messages}


class Source:
    """Real text to farm with: whole conversations, their words and their answers' sentences."""

    def __init__(self, real: Sequence[Conversation]) -> None:
        self.conversations = [c for c in real if exchanges(c)]
        some = self.conversations[:400]
        self.words = [w for c in some for m in c.messages for w in WORD.findall(m.content)]
        self.vocabulary = sorted(set(self.words))
        self.sentences = [s.strip() for c in some for m in c.messages if m.role == "assistant"
                          for s in SENTENCE.findall(m.content)]

    def exchange(self, rng: random.Random) -> tuple[str, str]:
        return rng.choice(exchanges(rng.choice(self.conversations)))


Generator = Callable[[Source, random.Random, int], tuple[str, Document]]


def gibberish(source: Source, rng: random.Random, i: int) -> tuple[str, Document]:
    """Random letter strings in any alphabet: words of 7 letters, or of 1 to 12."""
    name = sorted(ALPHABETS)[i % len(ALPHABETS)]
    alphabet, fixed = ALPHABETS[name], i % 2 == 0

    def word() -> str:
        return "".join(rng.choice(alphabet) for _ in range(7 if fixed else rng.randint(1, 12)))

    separator = "" if name == "han" and i % 4 == 1 else " "
    pairs = [(separator.join(word() for _ in range(rng.randint(3, 40))),
              separator.join(word() for _ in range(rng.randint(10, 400))))
             for _ in range(rng.choice([1, 2, 5, 10, 20, 30]))]
    return f"{name}/{'7' if fixed else '1-12'}-letters", plain(pairs)


def word_salad(source: Source, rng: random.Random, i: int) -> tuple[str, Document]:
    """Real ShareGPT words in random order: drawn uniformly from the vocabulary, drawn with their
    frequencies, or a real conversation with each message's words (or tokens) shuffled."""
    variant = ["uniform", "frequency", "shuffled-tokens", "shuffled-words"][i % 4]
    if variant in ("uniform", "frequency"):
        pool = source.vocabulary if variant == "uniform" else source.words

        def pick(n: int) -> str:
            return " ".join(rng.choice(pool) for _ in range(n))

        n = rng.choice([1, 2, 5, 10, 20])
        return variant, plain([(pick(rng.randint(3, 40)), pick(rng.randint(10, 400))) for _ in range(n)])
    messages: list[Message] = []
    for message in rng.choice(source.conversations).messages:
        words = WORD.findall(message.content) if variant == "shuffled-tokens" else message.content.split()
        rng.shuffle(words)
        messages.append({"role": message.role, "content": " ".join(words)})
    return variant, {"messages": messages}


def trivial_prompts(source: Source, rng: random.Random, i: int) -> tuple[str, Document]:
    """"continue", "go on", numbers or emoji as every prompt, each answered in a sentence."""
    variant = ["please-continue-n", "trivial-words", "numbers", "emoji"][i % 4]

    def prompt(k: int) -> str:
        if variant == "please-continue-n":
            return f"please continue {k}"
        if variant == "trivial-words":
            return rng.choice(TRIVIAL_PROMPTS)
        if variant == "numbers":
            return str(k)
        return rng.choice(["👍", "🙏", "😀😀", "➡️", "⏩"])

    def reply(k: int) -> str:
        kind = rng.randint(0, 2)
        if kind == 0:
            return rng.choice(source.sentences)
        if kind == 1:
            return rng.choice(SHORT_REPLIES)
        return f"Part {k}: {rng.choice(source.sentences)}"

    n = rng.choice([5, 10, 20, 40])
    return variant, plain([(prompt(k), reply(k)) for k in range(1, n + 1)])


def _vary(text: str, rng: random.Random, kind: str, k: int) -> str:
    if kind == "counter":
        return f"{text} v{k}"
    if kind == "swapped-word":
        words = text.split(" ")
        if len(words) > 1:
            words[rng.randrange(len(words))] = rng.choice(SWAP_WORDS)
        return " ".join(words)
    if kind == "punctuation":
        varied = text.replace(".", "!" if k % 2 else ".").replace(",", "" if k % 2 else ",")
        return varied + ("!!" if k % 3 == 0 else "")
    if kind == "case":
        return text.upper() if k % 3 == 0 else text.lower() if k % 3 == 1 else text.title()
    return _vary(_vary(text, rng, "counter", k), rng, "case", k)


def repeated_exchange(source: Source, rng: random.Random, i: int) -> tuple[str, Document]:
    """One real exchange, 5 to 30 times, each copy with a small change."""
    kind = ["counter", "swapped-word", "punctuation", "case", "counter+case"][i % 5]
    user, assistant = source.exchange(rng)
    n = rng.choice([5, 10, 20, 30])
    return kind, plain([(_vary(user, rng, kind, k), _vary(assistant, rng, kind, k)) for k in range(1, n + 1)])


def padding(source: Source, rng: random.Random, i: int) -> tuple[str, Document]:
    """One real exchange and, two to eight times its length again, a repeated block or filler."""
    kind = ["repeated-block", "lorem-ipsum", "repeated-sentence", "repeated-word", "symbols",
            "user-block"][i % 6]
    user, assistant = source.exchange(rng)
    size = max(len(user) + len(assistant), 400) * rng.choice([2, 4, 8])

    def fill(unit: str, separator: str) -> str:
        parts, length = [], 0
        while length < size:
            parts.append(unit)
            length += len(unit) + len(separator)
        return separator.join(parts)

    if kind == "repeated-block":
        assistant += "\n\n" + fill(assistant[:rng.randint(100, 600)], "\n")
    elif kind == "lorem-ipsum":
        assistant += "\n\n" + fill(LOREM, " ")
    elif kind == "repeated-sentence":
        assistant += "\n" + fill(rng.choice(source.sentences), " ")
    elif kind == "repeated-word":
        assistant += " " + fill(rng.choice(FILLER_WORDS), " ")
    elif kind == "symbols":
        assistant += "\n" + fill(rng.choice(FILLER_SYMBOLS), "")
    else:
        user += "\n\n" + fill(user[:300] if len(user) > 50 else LOREM, "\n")
    return kind, plain([(user, assistant)])


def duplicated_messages(source: Source, rng: random.Random, i: int) -> tuple[str, Document]:
    """A real conversation with its messages duplicated: each in place, each exchange, or all of it."""
    kind = ["each-message-twice", "conversation-twice", "conversation-thrice", "each-exchange-twice"][i % 4]
    conversation = rng.choice(source.conversations)
    messages = [{"role": m.role, "content": m.content} for m in conversation.messages]
    if kind == "each-message-twice":
        out = [m for m in messages for _ in (0, 1)]
    elif kind == "conversation-twice":
        out = messages * 2
    elif kind == "conversation-thrice":
        out = messages * 3
    else:
        out = plain([pair for pair in exchanges(conversation) for _ in (0, 1)])["messages"]
    return kind, {"messages": out}


def mash_and_emoji(source: Source, rng: random.Random, i: int) -> tuple[str, Document]:
    """Keyboard mash (runs along a keyboard row, held-down keys) and emoji floods."""
    kind = ["keyboard-rows", "held-keys", "emoji", "emoji-and-words"][i % 4]

    def message() -> str:
        if kind == "keyboard-rows":
            runs = []
            for _ in range(rng.randint(3, 120)):
                row = rng.choice(KEYBOARD_ROWS)
                start = rng.randrange(len(row) - 2)
                runs.append(row[start:start + rng.randint(2, len(row) - start)])
            return " ".join(runs) if rng.random() < 0.5 else "".join(runs)
        if kind == "held-keys":
            return " ".join(rng.choice("asdfjklhg") * rng.randint(3, 30) for _ in range(rng.randint(3, 60)))
        if kind == "emoji":
            return "".join(rng.choice(EMOJI) for _ in range(rng.randint(5, 500)))
        return " ".join(rng.choice(EMOJI) * rng.randint(1, 5) if rng.random() < 0.7
                        else rng.choice(["lol", "wow", "omg", "haha", "yes", "cool"])
                        for _ in range(rng.randint(5, 200)))

    return kind, plain([(message(), message()) for _ in range(rng.choice([1, 3, 10, 20]))])


FAMILIES: dict[str, Generator] = {
    "gibberish": gibberish,
    "word salad": word_salad,
    "trivial prompts": trivial_prompts,
    "repeated exchange": repeated_exchange,
    "padding": padding,
    "duplicated messages": duplicated_messages,
    "mash and emoji": mash_and_emoji,
}


def generate(real: Sequence[Conversation], per_family: int = 80, seed: int = 7) -> list[Case]:
    """``per_family`` cases of every family, variants in turn, from ``seed``."""
    source = Source(real)
    cases: list[Case] = []
    for family, generator in FAMILIES.items():
        rng = random.Random(f"{seed}:{family}")
        for i in range(per_family):
            variant, document = generator(source, rng, i)
            cases.append(Case(family, variant, document))
    return cases
