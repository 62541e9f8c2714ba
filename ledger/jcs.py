"""RFC 8785 (JCS) serialisation, exact, with a fast path for the documents Tally publishes.

Tally's documents (canonical conversations, epoch manifests) hold only strings, booleans,
null and integers below 2**53, under ASCII keys. For such values the standard library's
encoder, with sorted keys, no spaces and raw UTF-8, writes exactly what RFC 8785 §3.2 asks
(same short escapes, other controls as lowercase \\u00xx, integers as ES6 prints them) and
is several times faster than a general JCS encoder. Anything else (a float, a larger integer,
a non-ASCII key, whose sort order or number form would differ) goes to the ``rfc8785`` library.
tests/ledger/test_canonical.py holds the two equal.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

_SAFE_INT = 2**53
_ENCODE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode
"""One encoder for every call: ``json.dumps`` with options builds a new one each time, which
costs more than encoding a manifest leaf (a seal encodes one per leaf and journal line)."""


def _fast_path_applies(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) or item is None or isinstance(item, bool):
            continue
        if isinstance(item, int):
            if -_SAFE_INT < item < _SAFE_INT:
                continue
            return False
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or not key.isascii():
                    return False
                stack.append(child)
            continue
        if isinstance(item, list | tuple):
            stack.extend(item)
            continue
        return False
    return True


def dumps(value: Any) -> bytes:
    """The JCS bytes of ``value``."""
    if _fast_path_applies(value):
        return _ENCODE(value).encode()
    return rfc8785.dumps(value)
