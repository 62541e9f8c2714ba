"""The rules of each scorer version: the JSON file the scorer runs on, and the hash that names it.

Every constant of a scorer (weights, thresholds, the character tables of its tokens) lives in
``ledger/scoring/<version>.json``, and the scorer reads it from there, so the published
``rulesHash`` (the SHA-256 of the file's RFC 8785 form, DESIGN.md §6) changes exactly when the
rules do: not when the file is re-indented, and always when a number moves.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from ledger import jcs
from ledger.encoding import hex0x
from ledger.errors import InvalidInputError

RULES_DIR = Path(__file__).resolve().parent


class UnknownScorerError(InvalidInputError):
    """A scorer version this code does not have the rules of."""

    code = "unknown-scorer"

    def __init__(self, version: str) -> None:
        super().__init__(f"unknown scorer version {version!r}", version=version)
        self.version = version


@cache
def rules_of(version: str) -> dict[str, Any]:
    """The parsed rules file of ``version`` (``quality-v1``, ``quality-v2``)."""
    path = RULES_DIR / f"{version}.json"
    if "/" in version or "\\" in version or not path.is_file():
        raise UnknownScorerError(version)
    rules: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if rules.get("version") != version:
        raise UnknownScorerError(version)
    return rules


@cache
def rules_hash(version: str) -> str:
    """``0x`` + SHA-256 of the JCS bytes of ``version``'s rules."""
    return hex0x(hashlib.sha256(jcs.dumps(rules_of(version))).digest())
