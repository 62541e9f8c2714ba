"""ASCII texts for the tests that hold a fast ASCII path to the general one it stands in for
(the quality-v2 tokenizer's, the near-duplicate sketch's): every ASCII character alone, repeated
and between words; random mash of digits, punctuation and case; real ShareGPT messages."""

from __future__ import annotations

import random
from collections.abc import Iterator

from tests.scoring.sample import real_conversations

ASCII = "".join(map(chr, range(128)))


def every_character() -> Iterator[str]:
    for c in ASCII:
        for n in (1, 2, 3, 7):
            yield c * n
            yield f"Word{c * n}word 12{c * n}34"


def random_mash(seed: int, count: int = 3000) -> Iterator[str]:
    rng = random.Random(seed)
    alphabet = ASCII + "aAzZ09 \n.'_-" * 8
    for _ in range(count):
        yield "".join(rng.choice(alphabet) * rng.choice((1, 1, 2, 3, 5)) for _ in range(rng.randint(0, 80)))


def real_ascii_messages() -> list[str]:
    messages = [m.content for c in real_conversations(step=50) for m in c.messages if m.content.isascii()]
    assert len(messages) > 500
    return messages
