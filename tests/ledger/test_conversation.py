"""Normalisation to the canonical conversation of DESIGN.md §2."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from ledger.conversation import (
    ConversationError,
    IncompleteConversationError,
    MalformedConversationError,
    UnknownFormatError,
    UnknownRoleError,
    canonical_bytes,
    content_hash,
    normalise,
)
from tally.sharegpt import iter_sharegpt

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# Written by hand from DESIGN.md §2 and RFC 8785 (keys sorted, "\n" escaped, é as UTF-8), not by
# the code under test; the hash is `sha256sum` of exactly these bytes.
REGENERATED_CANONICAL = (
    '{"messages":[{"content":"[image]\\nWhat is in this picture?\\nI took it at a caf\u00e9 in Paris.",'
    '"role":"user"},{"content":"It is the Eiffel Tower, seen from the Champ de Mars.","role":"assistant"},'
    '{"content":"How tall is it? Compute it in Python.","role":"user"},'
    '{"content":"print(300 + 30)","role":"assistant"},{"content":"330","role":"tool"},'
    '{"content":"It is about 330 metres tall,\\nantenna included.","role":"assistant"}],'
    '"model":"gpt-4o","v":1}'
).encode()
REGENERATED_HASH = "0xd2bbd4280b1a223e07a7634a124a6cd9da06927cde7ea81395b60af999b7121a"


def test_chatgpt_export_keeps_only_the_active_branch() -> None:
    conversation = json.loads((FIXTURES / "chatgpt_regenerated.json").read_text())
    assert canonical_bytes(conversation) == REGENERATED_CANONICAL
    assert content_hash(conversation) == REGENERATED_HASH
    assert hashlib.sha256(REGENERATED_CANONICAL).hexdigest() == REGENERATED_HASH[2:]


def test_switching_the_current_node_changes_the_branch_and_the_hash() -> None:
    conversation = json.loads((FIXTURES / "chatgpt_regenerated.json").read_text())
    conversation["current_node"] = "a1"
    canonical = normalise(conversation)
    assert [m.content for m in canonical.messages] == [
        "[image]\nWhat is in this picture?\nI took it at a caf\u00e9 in Paris.",
        "A tall tower.",
    ]
    assert content_hash(conversation) != REGENERATED_HASH


def test_the_three_formats_of_one_conversation_hash_the_same() -> None:
    plain = {"messages": [{"role": "user", "content": "Hi there, explain JCS"},
                          {"role": "assistant", "content": "JCS is RFC 8785."}]}
    sharegpt = {"id": "x_0", "conversations": [{"from": "human", "value": "Hi there, explain JCS"},
                                              {"from": "gpt", "value": "JCS is RFC 8785."}]}
    chatgpt = {"current_node": "b", "mapping": {
        "a": {"message": {"author": {"role": "user"}, "content": {"parts": ["Hi there, explain JCS"]}},
              "parent": None, "children": ["b"]},
        "b": {"message": {"author": {"role": "assistant"}, "content": {"parts": ["JCS is RFC 8785."]}},
              "parent": "a", "children": []},
    }}
    assert content_hash(plain) == content_hash(sharegpt) == content_hash(chatgpt)
    assert canonical_bytes(plain) == (
        b'{"messages":[{"content":"Hi there, explain JCS","role":"user"},'
        b'{"content":"JCS is RFC 8785.","role":"assistant"}],"model":null,"v":1}'
    )


def test_text_is_nfc_with_unix_newlines_and_stripped_and_empty_messages_drop() -> None:
    canonical = normalise({"model": " gpt-4 ", "messages": [
        {"role": "system", "content": "   "},
        {"role": "Human", "content": "  e\u0301\r\nline\rend  "},
        {"role": "bard", "content": "ok"},
    ]})
    assert canonical.model == "gpt-4"
    assert [(m.role, m.content) for m in canonical.messages] == [
        ("user", "\u00e9\nline\nend"), ("assistant", "ok")]


@pytest.mark.parametrize(
    ("conversation", "error"),
    [
        ([], UnknownFormatError),
        ({"text": "hello"}, UnknownFormatError),
        ({"messages": "hello"}, MalformedConversationError),
        ({"messages": [{"role": "user"}]}, MalformedConversationError),
        ({"messages": [{"role": "narrator", "content": "x"}]}, UnknownRoleError),
        ({"conversations": [{"from": "alien", "value": "x"}]}, UnknownRoleError),
        ({"messages": [{"role": "user", "content": "only me"}]}, IncompleteConversationError),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": " \n "}]},
         IncompleteConversationError),
        ({"mapping": {}, "current_node": "x"}, MalformedConversationError),
        ({"mapping": {"a": {"message": None, "parent": "b"}, "b": {"message": None, "parent": "a"}},
          "current_node": "a"}, MalformedConversationError),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "model": 4},
         MalformedConversationError),
    ],
)
def test_bad_conversations_are_refused_with_a_named_error(conversation: object, error: type) -> None:
    with pytest.raises(error) as info:
        normalise(conversation)
    assert isinstance(info.value, ConversationError)
    assert str(info.value)


def test_real_sharegpt_conversations_normalise_or_are_refused_with_a_reason() -> None:
    outcomes: Counter[str] = Counter()
    hashes: dict[str, str] = {}
    for record in iter_sharegpt(limit=400):
        try:
            digest = content_hash(record)
        except ConversationError as exc:
            assert exc.code in {"incomplete-conversation", "unknown-role", "malformed-conversation"}
            outcomes[exc.code] += 1
            continue
        outcomes["normalised"] += 1
        # Parts of one long conversation (<id>_0, <id>_1) are different conversations.
        hashes.setdefault(digest, record["id"])
        assert json.loads(canonical_bytes(record))["v"] == 1
    assert sum(outcomes.values()) == 400
    assert outcomes["normalised"] > 350
    assert outcomes["incomplete-conversation"] > 0  # the sample has empty conversations
