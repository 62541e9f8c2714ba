"""The scoring test vectors (tests/scoring/vectors/<version>.json), each with why it scores what
it scores: the features a version counts in the conversation, and the points its rules give them.
clients/js/scoring.mjs walks the quality-v2 file too (tests/scoring/test_js_scoring.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.conversation import normalise
from ledger.scoring import SCORER_VERSION, features_of, points_from_features, score

VECTORS = Path(__file__).resolve().parent / "vectors"


def vectors() -> list[dict[str, Any]]:
    return [v for path in sorted(VECTORS.glob("*.json")) for v in json.loads(path.read_text())]


@pytest.mark.parametrize("vector", vectors(), ids=lambda v: f"{v['version']}:{v['name']}")
def test_vector(vector: dict[str, Any]) -> None:
    conversation = normalise(vector["conversation"])
    assert features_of(vector["version"], conversation) == vector["features"], vector["why"]
    assert points_from_features(vector["version"], vector["features"]) == vector["points"], vector["why"]
    if vector["version"] == SCORER_VERSION:
        assert score(conversation).as_dict() == {"version": SCORER_VERSION, "points": vector["points"],
                                                 "features": vector["features"]}


def test_every_version_has_vectors_and_every_vector_says_why() -> None:
    assert {v["version"] for v in vectors()} == {"quality-v1", "quality-v2"}
    assert all(len(v["why"]) > 20 for v in vectors())
    names = [(v["version"], v["name"]) for v in vectors()]
    assert len(names) == len(set(names))
