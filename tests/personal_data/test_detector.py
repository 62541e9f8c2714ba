"""The personal-data detector in Python (ledger.personal_data) and in JavaScript
(clients/js/personal-data.mjs): the same findings, spans and redacted text on every case of
corpus.json, on real ShareGPT text with generated values in it, and on random text; the same
tables; redaction that leaves nothing to find and stays canonical; linear time on crafted input.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from bench.personal_data import labelled_set, real_messages
from ledger import personal_data as pd
from ledger.conversation import ConversationError, content_hash, normalise
from tally.sharegpt import iter_sharegpt
from tests.clients.conftest import run_node

CORPUS = json.loads((Path(__file__).parent / "corpus.json").read_text(encoding="utf-8"))
TEXTS: list[dict[str, Any]] = CORPUS["texts"]
CONVERSATIONS: list[dict[str, Any]] = CORPUS["conversations"]


def js(mode: str, items: list[Any] | None = None, timeout: float = 120.0) -> Any:
    return run_node("personal_data_probe.mjs", {"mode": mode, "items": items}, timeout=timeout)


def python_answer(text: str) -> dict[str, Any]:
    redacted, spans = pd.redact_text(text)
    return {"redacted": redacted, "spans": [[s.kind, s.start, s.end] for s in spans]}


def expected_answer(case: dict[str, Any]) -> dict[str, Any]:
    """The case's expectation as spans: each value located after the one before, in code points."""
    spans, at = [], 0
    for kind, value in case["found"]:
        start = case["text"].index(value, at)
        spans.append([kind, start, start + len(value)])
        at = start + len(value)
    return {"redacted": case["redacted"], "spans": spans}


# --- the shared corpus ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def js_texts() -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = js("texts", [case["text"] for case in TEXTS])
    assert len(answers) == len(TEXTS)
    return answers


@pytest.mark.node
@pytest.mark.parametrize("index", range(len(TEXTS)), ids=[case["name"] for case in TEXTS])
def test_each_text_case_in_python_and_in_javascript(index: int, js_texts: list[dict[str, Any]]) -> None:
    case = TEXTS[index]
    expected = expected_answer(case)
    assert python_answer(case["text"]) == expected, "Python"
    assert js_texts[index] == expected, "JavaScript"


@pytest.fixture(scope="module")
def js_conversations() -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = js("conversations", [case["conversation"] for case in CONVERSATIONS])
    return answers


@pytest.mark.node
@pytest.mark.parametrize("index", range(len(CONVERSATIONS)), ids=[case["name"] for case in CONVERSATIONS])
def test_each_conversation_case_in_python_and_in_javascript(index: int, js_conversations: list[dict[str, Any]]
                                                            ) -> None:
    case = CONVERSATIONS[index]
    submitted, findings = pd.redact_for_submission(case["conversation"])
    assert submitted == case["submitted"]
    assert pd.public_findings(findings) == case["findings"]
    answer = js_conversations[index]
    assert answer["submitted"] == case["submitted"] and answer["findings"] == case["findings"]
    assert answer["spans"] == [[f.kind, f.message, f.start, f.end] for f in findings]
    # The redacted form is canonical already: the server computes this very contentHash from it.
    assert normalise(submitted).to_canonical() == submitted
    assert answer["contentHash"] == content_hash(submitted)


def test_the_corpus_covers_every_kind_found_and_refused() -> None:
    found = {kind for case in TEXTS for kind, _ in case["found"]}
    assert found == set(pd.KINDS)
    assert sum(not case["found"] for case in TEXTS) >= 50  # the adversarial cases: nothing to find


@pytest.mark.node
def test_the_javascript_module_holds_the_python_tables() -> None:
    tables = js("tables")
    assert tables["patterns"] == {name: {"source": p.pattern, "ignoreCase": bool(p.flags & pd.re.IGNORECASE)}
                                  for name, p in pd.PATTERNS.items()}
    assert tables["ibanLengths"] == pd.IBAN_LENGTHS
    assert tables["reservedDomains"] == list(pd.RESERVED_DOMAINS)
    assert tables["reservedTlds"] == list(pd.RESERVED_TLDS)
    assert tables["fileExtensions"] == sorted(pd.FILE_EXTENSIONS)
    assert tables["testCards"] == sorted(pd.PUBLISHED_TEST_CARDS)
    assert tables["nonPublicIpv4"] == [list(r) for r in pd.NON_PUBLIC_IPV4]
    assert tables["wellKnownIpv4"] == sorted(pd.WELL_KNOWN_IPV4)
    assert sorted(map(tuple, tables["wellKnownIpv6"])) == sorted(pd.WELL_KNOWN_IPV6)
    assert tables["placeholders"] == pd.PLACEHOLDERS
    assert tables["kinds"] == list(pd.KINDS)
    assert tables["tokenPrefixes"] == list(pd.TOKEN_PREFIXES)
    assert tables["ethereumKeyWords"] == list(pd.ETHEREUM_KEY_WORDS)


# --- beyond the corpus: real text, random text ------------------------------------------------------


@pytest.fixture(scope="module")
def messages() -> list[str]:
    return real_messages(iter_sharegpt(400))


@pytest.mark.node
def test_real_text_with_generated_values_in_it_gets_the_same_answer(messages: list[str]) -> None:
    texts = messages + [sample.text for sample in labelled_set(messages, 150, seed=11)]
    answers = js("texts", texts)
    differ = [i for i, text in enumerate(texts) if answers[i] != python_answer(text)]
    assert differ == [], f"{len(differ)} texts differ, the first: {texts[differ[0]][:300]!r}" if differ else ""
    assert sum(bool(a["spans"]) for a in answers) > 900


def random_texts(count: int, seed: int) -> list[str]:
    """Text built from the pieces the patterns look at: digits, separators, letters, @ . : and
    hex, the keywords, non-ASCII digits and letters, astral characters."""
    rng = random.Random(seed)
    pieces = [*"0123456789", *" .-/()+:@_\n\t", *"abcdefxyzABCDEFKXZ", "00", "+44 ", "(0)", "0x", "sk-", "ghp_",
              "eyJ", "AKIA", "xox", "AIza", "private key ", "PRIVATE_KEY=", "wallet(", "accounts: [", "::",
              "-----BEGIN PRIVATE KEY-----", "-----END PRIVATE KEY-----", ".com", "@gmail", "DE89", "\u00e9",
              "\u212a", "\u017f", "\uff11", "\u0661", "\U0001F600", "\u00a0", "\u200b", "x" * 40]
    return ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 120))) for _ in range(count)]


@pytest.mark.node
def test_random_text_gets_the_same_answer() -> None:
    texts = random_texts(4000, seed=3)
    answers = js("texts", texts)
    differ = [text for text, answer in zip(texts, answers, strict=True) if answer != python_answer(text)]
    assert differ == []
    assert sum(bool(a["spans"]) for a in answers) > 100  # the pieces do make findings


def test_redaction_leaves_nothing_to_find_and_stays_canonical(messages: list[str]) -> None:
    samples = labelled_set(messages, 100, seed=5)
    for sample in samples:
        conversation = {"messages": [{"role": "user", "content": sample.text}, {"role": "assistant", "content": "ok"}]}
        try:
            submitted, _ = pd.redact_for_submission(conversation)
        except ConversationError:
            continue
        again = normalise(submitted)
        assert again.to_canonical() == submitted, sample.text[:200]
        assert pd.findings_in(again) == [], sample.text[:200]
    for text in random_texts(2000, seed=9):
        redacted, _ = pd.redact_text(text)
        assert pd.find_personal_data(redacted) == [], text


# --- crafted input ---------------------------------------------------------------------------------

def crafted(n: int) -> dict[str, str]:
    """Texts made to make a pattern backtrack, about ``n`` characters each."""
    return {
        "letters": "a" * n, "digits": "1" * n, "digits and spaces": "1 " * (n // 2),
        "zeros": "0" * n, "pairs": "01 " * (n // 3), "plus groups": "+1 2" * (n // 4),
        "parentheses": "(0" * (n // 2), "at signs": "a@" * (n // 2), "labels": "a@" + "a." * (n // 2),
        "local part then labels": "a" * 60 + "@" + "b-" * (n // 2), "dots": "1." * (n // 2),
        "colons": ":" * n, "hex and colons": "a:" * (n // 2), "hex": "ab" * (n // 2),
        "keys": "private key " * (n // 12), "key then hex": "private key: " + "a" * n,
        "token body": "sk-" + "aB1" * (n // 3), "jwt body": "eyJ" + "a" * n + "." + "b" * n,
        "pem begins": "-----BEGIN PRIVATE KEY-----" * (n // 27),
        "pem body": "-----BEGIN PRIVATE KEY-----\n" + "A" * n,
        "iban groups": "DE89 " * (n // 5), "card groups": "4666 " * (n // 5), "dashes": "-" * n,
        "aws": "aws_secret_access_key=" * (n // 22), "astral": "\U0001F600" * (n // 2),
        "many addresses": "a@b.co " * (n // 7), "many numbers": "+44 20 7946 1234 " * (n // 17),
        "many of each": ("bo@web.de 93.184.216.34 4666176031372159 " * (n // 41)),
}


SMALL, LARGE = 50_000, 200_000
GROWTH_LIMIT = 11.0
"""Four times the text may take at most eleven times as long: linear work takes four, a pattern
that backtracks quadratically sixteen. A ratio within one run (the best of five timings of each
size), not a time, so a loaded machine does not fail it."""
NOISE_FLOOR = 0.05
"""Below 50 ms for the large text, the ratio is mostly noise: such a text passes as it is."""


def too_slow(small: list[float], large: list[float]) -> dict[str, float]:
    return {name: b / a for name, a, b in zip(crafted(1), small, large, strict=True)
            if b > NOISE_FLOOR and b / max(a, 1e-6) > GROWTH_LIMIT}


def python_seconds(texts: dict[str, str]) -> list[float]:
    seconds = []
    for text in texts.values():
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            pd.find_personal_data(text)
            best = min(best, time.perf_counter() - started)
        seconds.append(best)
    return seconds


@pytest.mark.node
@pytest.mark.serial  # a ratio of timings: other tests running beside it skew one size more than the other
def test_crafted_input_takes_linear_time_in_both() -> None:
    """No pattern backtracks badly: each crafted text four times longer takes about four times
    as long, in Python and in JavaScript (real text runs at over 10 MB/s)."""
    small, large = crafted(SMALL), crafted(LARGE)
    assert too_slow(python_seconds(small), python_seconds(large)) == {}, "Python"
    js_small = [ms / 1000 for ms in js("timed", list(small.values()))]
    js_large = [ms / 1000 for ms in js("timed", list(large.values()))]
    assert too_slow(js_small, js_large) == {}, "JavaScript"
