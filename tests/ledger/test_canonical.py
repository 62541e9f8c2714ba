"""Our JCS fast path writes exactly what the rfc8785 library writes, for every canonical object."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.conversation import (
    ConversationError,
    MalformedConversationError,
    canonical_bytes,
    normalise,
    reference_canonical_bytes,
)
from tally.sharegpt import iter_sharegpt

# Every code point class JCS treats specially: controls, quotes, backslash, DEL, non-BMP, ...
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), min_codepoint=0, max_codepoint=0x10FFFF),
    min_size=1,
).filter(lambda t: t.strip())


@settings(max_examples=300, deadline=None)
@given(user=text, assistant=text, model=st.none() | text)
def test_fast_path_equals_the_rfc8785_library(user: str, assistant: str, model: str | None) -> None:
    conversation = {"model": model, "messages": [{"role": "user", "content": user},
                                                 {"role": "assistant", "content": assistant}]}
    try:
        normalise(conversation)
    except ConversationError:
        return
    assert canonical_bytes(conversation) == reference_canonical_bytes(conversation)


def test_fast_path_equals_the_library_on_real_conversations() -> None:
    checked = 0
    for record in iter_sharegpt(limit=1500):
        try:
            fast = canonical_bytes(record)
        except ConversationError:
            continue
        assert fast == reference_canonical_bytes(record), record["id"]
        checked += 1
    assert checked > 1400


def test_control_characters_are_escaped_as_jcs_says() -> None:
    conversation = {"messages": [{"role": "user", "content": "a\u0001b\u001fc\u007f\"\\\t/"},
                                 {"role": "assistant", "content": "\U0001F600 \u2028x"}]}
    assert canonical_bytes(conversation) == (
        '{"messages":[{"content":"a\\u0001b\\u001fc\u007f\\"\\\\\\t/","role":"user"},'
        '{"content":"\U0001F600 \u2028x","role":"assistant"}],"model":null,"v":1}'
    ).encode()


def test_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(MalformedConversationError):
        normalise({"messages": [{"role": "user", "content": "x\ud800"}, {"role": "assistant", "content": "y"}]})


@pytest.mark.parametrize("value", [
    {"b": 1, "a": [True, None, "x"], "c": {"z": -5, "y": 2**53 - 1}},
    {"big": 2**60}, {"float": 1.5}, {"\u00e9": 1, "e": 2}, {"\U0001F600": 1, "\uffff": 2}, [],
])
def test_jcs_dumps_equals_the_library_on_any_json(value: object) -> None:
    import rfc8785

    from ledger import jcs

    try:
        expected = rfc8785.dumps(value)
    except Exception as exc:  # the library refuses, e.g. integers JCS cannot represent exactly
        with pytest.raises(type(exc)):
            jcs.dumps(value)
        return
    assert jcs.dumps(value) == expected
