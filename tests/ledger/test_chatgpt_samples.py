"""ChatGPT conversations written by other projects, and adversarial ones, against one table.

``tests/fixtures/chatgpt/outcomes.json`` says what DESIGN.md §2 makes of each: accepted with so
many messages, this model, these first and last roles, or refused with this problem code. The
Python normaliser and the JavaScript client are each held to every line, and for every accepted
conversation the two must write the same canonical bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.conversation import ConversationError, canonical_bytes
from tests.clients.conftest import run_node

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "chatgpt"
TABLE = SAMPLES / "outcomes.json"


@dataclass(frozen=True)
class Case:
    name: str
    conversation: Any
    expected: dict[str, Any]
    """``{"accepted": {...}}`` or ``{"refused": code}``."""
    source: dict[str, Any]
    """Where node finds the conversation: ``{"text": <a JSON file's text>, "path": [keys]}``."""


def conversations_of(document: Any) -> dict[str | int | None, Any]:
    """The conversations of a sample file by their ``item``: an export array, named ones, or one."""
    if isinstance(document, list):
        return dict(enumerate(document))
    if "mapping" in document:
        return {None: document}
    return dict(document)


def load_cases() -> list[Case]:
    cases = []
    table = TABLE.read_text()
    for i, row in enumerate(json.loads(table)["cases"]):
        if "file" in row:
            text = (SAMPLES / row["file"]).read_text()
            item = row.get("item")
            conversation = conversations_of(json.loads(text))[item]
            source = {"text": text, "path": [] if item is None else [item]}
        else:
            conversation = row["conversation"]
            source = {"text": table, "path": ["cases", i, "conversation"]}
        expected = {k: row[k] for k in ("accepted", "refused") if k in row}
        assert len(expected) == 1, row["name"]
        cases.append(Case(row["name"], conversation, expected, source))
    return cases


CASES = load_cases()


def python_answer(conversation: Any) -> dict[str, str]:
    """What the reference answers, in the shape of tests/clients/client_probe.mjs's answers."""
    try:
        return {"canonical": canonical_bytes(conversation).decode()}
    except ConversationError as exc:
        return {"error": exc.code}


def meets(answer: dict[str, str], expected: dict[str, Any]) -> None:
    """Assert that one normaliser's ``answer`` is the table's ``expected`` outcome."""
    if "refused" in expected:
        assert answer.get("error") == expected["refused"], answer
        return
    assert "error" not in answer, f"refused with {answer['error']}"
    canonical = json.loads(answer["canonical"])
    want = expected["accepted"]
    messages = canonical["messages"]
    assert len(messages) == want["messages"]
    assert canonical["model"] == want["model"]
    assert (messages[0]["role"], messages[-1]["role"]) == (want["first"], want["last"])
    assert messages[-1]["content"].startswith(want.get("last_starts_with", ""))
    if "first_content" in want:
        assert messages[0]["content"] == want["first_content"]


def test_every_sample_conversation_has_a_line_in_the_table() -> None:
    listed = {(c["file"], c.get("item")) for c in json.loads(TABLE.read_text())["cases"] if "file" in c}
    samples = {(path.name, item) for path in SAMPLES.glob("*.json") if path != TABLE
               for item in conversations_of(json.loads(path.read_text()))}
    assert samples == listed
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_python_normaliser_gives_the_expected_outcome(case: Case) -> None:
    meets(python_answer(case.conversation), case.expected)


@pytest.fixture(scope="module")
def js_answers() -> dict[str, dict[str, str]]:
    answers = run_node("client_probe.mjs", {"mode": "text", "items": [c.source for c in CASES]})
    return dict(zip([c.name for c in CASES], answers, strict=True))


@pytest.mark.node
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_js_client_gives_the_expected_outcome_in_the_same_bytes(
        case: Case, js_answers: dict[str, dict[str, str]]) -> None:
    js = js_answers[case.name]
    assert "crash" not in js, js["crash"]
    meets(js, case.expected)
    if "accepted" in case.expected:
        assert js["canonical"].encode() == canonical_bytes(case.conversation)
