"""How deeply a JSON text nests, measured before it is parsed.

RFC 8259 §9 lets a parser limit the depth of nesting; Tally refuses anything deeper than
``MAX_JSON_DEPTH`` before ``json.loads`` sees it. The limit is not only hygiene: the Ethereum
libraries raise the interpreter's recursion limit when imported (see ``anchoring``), and the
C JSON decoder recurses once per level, so a 200 KB body of brackets could overflow the C stack
and kill the process instead of raising.

What the accepted formats need: the ChatGPT export of tests/fixtures nests 7 levels (mapping,
node, message, content, parts; ``mapping`` is a flat object of nodes, so a long conversation is
wide, not deep), a submission adds one level and a batch item two more: 10 in all. Richer
message metadata (citations, search results) adds a few; 64 leaves ample room for what exports
may add, and is far from anything that threatens the stack.
"""

from __future__ import annotations

import re
from array import array
from itertools import accumulate

from ledger.errors import InvalidInputError

MAX_JSON_DEPTH = 64
"""Arrays and objects nested deeper than this are refused, before parsing."""

# A JSON string, escapes included (the unrolled form runs in linear time on long strings).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Openers count +1 and closers -1 (as signed bytes); everything else is dropped.
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


class JsonTooDeepError(InvalidInputError):
    """A JSON body nested deeper than ``MAX_JSON_DEPTH``; refused unparsed."""

    code = "json-too-deep"
    status = 400


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in ``data``, brackets inside strings ignored.

    A linear scan in C (a regular expression and ``bytes.translate``), with no recursion, so it
    is safe on any input; on text that is not JSON the number is meaningless but bounded.
    """
    if b"[" not in data and b"{" not in data:
        return 0
    steps = _STRING.sub(b"", data).translate(_STEPS, _NOT_BRACKETS)
    return max(accumulate(array("b", steps)), default=0)


def check_nesting(data: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise ``JsonTooDeepError`` unless ``data`` nests at most ``limit`` levels."""
    depth = nesting_depth(data)
    if depth > limit:
        raise JsonTooDeepError(f"the JSON nests {depth} levels deep; the limit is {limit}", limit=limit)
