"""Write the character tables of the quality-v2 scoring rules, and the rules' JavaScript copy.

The scorer's tokens are runs of letters, marks and digits, lower-cased, with each ideograph (and
each kana, Thai, Lao, Khmer or Myanmar character) a token by itself. Which code point is which
changes with every Unicode version, and Python and JavaScript engines each ship their own: so the
tables are part of the rules (``ledger/scoring/quality-v2.json``, section ``characters``), made
once from Python 3.11's Unicode 14.0, and both scorers read them instead of their own databases.

    .venv/bin/python tools/make_scoring_rules.py

rewrites the ``characters`` section from this Python's unicodedata (refusing any other Unicode
version: the tables are rules, and changing them is a new scorer version) and writes
``clients/js/scoring-rules.mjs`` from the whole rules file. tests/scoring/test_rules.py fails when
either file is not what this script writes.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "ledger" / "scoring" / "quality-v2.json"
JS_MODULE = ROOT / "clients" / "js" / "scoring-rules.mjs"
UNICODE_VERSION = "14.0.0"

# Scripts written without spaces between words: each character is a token, as a CJK character is
# roughly a word. (Hangul is written with spaces, so its syllables join into words.)
SINGLE_BLOCKS = [
    (0x0E00, 0x0EFF),    # Thai, Lao
    (0x1000, 0x109F),    # Myanmar
    (0x1780, 0x17FF),    # Khmer
    (0x19E0, 0x19FF),    # Khmer symbols
    (0x2E80, 0x2FDF),    # CJK radicals, Kangxi radicals
    (0x3005, 0x3007),    # iteration mark, closing mark, ideographic zero
    (0x3021, 0x3029),    # Hangzhou numerals
    (0x3031, 0x303C),    # kana repeat marks, ideographic marks
    (0x3040, 0x30FF),    # Hiragana, Katakana
    (0x31F0, 0x31FF),    # Katakana phonetic extensions
    (0x3400, 0x4DBF),    # CJK extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0xFF66, 0xFF9F),    # halfwidth Katakana
    (0x1B000, 0x1B16F),  # kana supplement and extensions
    (0x20000, 0x3FFFF),  # CJK extensions B to H, compatibility supplement
]


def ranges(test: Callable[[int], bool]) -> list[list[int]]:
    """The maximal ranges ``[first, last]`` of code points that pass ``test``."""
    out: list[list[int]] = []
    start: int | None = None
    for cp in range(0x110001):
        inside = cp < 0x110000 and test(cp)
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            out.append([start, cp - 1])
            start = None
    return out


def is_token_char(cp: int) -> bool:
    return unicodedata.category(chr(cp))[0] in "LMN"


def is_single(cp: int) -> bool:
    return is_token_char(cp) and any(first <= cp <= last for first, last in SINGLE_BLOCKS)


def lowercase_runs() -> list[list[int]]:
    """``[first, last, delta, step]``: every ``step``-th code point from first to last maps to
    itself + delta. Only token characters whose lower case is one code point are mapped."""
    runs: list[list[int]] = []
    for cp in range(0x110000):
        if not is_token_char(cp):
            continue
        lower = chr(cp).lower()
        if len(lower) != 1 or lower == chr(cp):
            continue
        delta = ord(lower) - cp
        if runs:
            first, last, run_delta, step = runs[-1]
            gap = cp - last
            if run_delta == delta and (gap == step or (first == last and gap in (1, 2))):
                runs[-1] = [first, cp, delta, gap]
                continue
        runs.append([cp, cp, delta, 1])
    return runs


def characters() -> dict[str, Any]:
    return {
        "unicode": UNICODE_VERSION,
        "word": ranges(lambda cp: is_token_char(cp) and not is_single(cp)),
        "single": ranges(is_single),
        "digit": ranges(lambda cp: unicodedata.category(chr(cp)) == "Nd"),
        "space": ranges(lambda cp: chr(cp).isspace()),
        "lowercase": lowercase_runs(),
    }


def rules_text(rules: dict[str, Any]) -> str:
    """The rules file as written: two-space JSON, lists of ranges packed a few to a line."""
    return _dump(rules, "") + "\n"


def _dump(value: Any, pad: str) -> str:
    inner = pad + "  "
    if isinstance(value, dict):
        members = [f"{inner}{json.dumps(key)}: {_dump(item, inner)}" for key, item in value.items()]
        return "{\n" + ",\n".join(members) + "\n" + pad + "}"
    if isinstance(value, list) and value and all(isinstance(item, list) for item in value):
        lines: list[str] = []
        for item in value:
            text = json.dumps(item, separators=(",", ":"))
            if lines and len(lines[-1]) + len(text) + 1 <= 100:
                lines[-1] += "," + text
            else:
                lines.append(inner + text)
        return "[\n" + ",\n".join(lines) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def module_text(rules: dict[str, Any]) -> str:
    return (
        "// Generated by tools/make_scoring_rules.py from ledger/scoring/quality-v2.json: do not edit.\n"
        "// The rules scoring.mjs runs on; its rulesHash is the SHA-256 of their JCS form, as in Python.\n"
        f"export const RULES_V2 = Object.freeze({json.dumps(rules, ensure_ascii=True, separators=(',', ':'))});\n"
    )


def main() -> None:
    if unicodedata.unidata_version != UNICODE_VERSION:
        sys.exit(f"this Python has Unicode {unicodedata.unidata_version}; the tables are {UNICODE_VERSION}'s")
    rules = json.loads(RULES.read_text())
    rules["characters"] = characters()
    RULES.write_text(rules_text(rules))
    JS_MODULE.write_text(module_text(json.loads(RULES.read_text())))
    sys.stdout.write(f"wrote {RULES} and {JS_MODULE}\n")


if __name__ == "__main__":
    main()
