"""Quality scoring: how many points a canonical conversation earns at acceptance, and how anyone
recomputes them.

Scorers are versioned, and each version's rules are a JSON file the scorer reads
(``ledger/scoring/<version>.json``), named by its ``rulesHash``. New contributions are scored
with ``SCORER_VERSION``; a contribution keeps the version (and the points) it was scored with.
For every version, ``features_of`` counts what a conversation holds and ``points_from_features``
turns the counts into points, with integers only: the features are published in every manifest
leaf, so the audit recomputes every leaf's points, and a contributor holding the conversation
recomputes the features too. The rules are written out in docs/scoring.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.conversation import Conversation
from ledger.errors import InvalidInputError
from ledger.scoring import v1, v2, v3
from ledger.scoring.rules import UnknownScorerError, rules_hash, rules_of

__all__ = [
    "IMAGE_SCORER_VERSION", "SCORER_VERSION", "VERSIONS", "InvalidFeaturesError", "Score", "UnknownScorerError",
    "checked_features", "exactly_recorded", "features_of", "points_from_features", "recorded_features", "rules_hash",
    "rules_of", "score",
]

SCORER_VERSION = v2.VERSION
"""The version new contributions without images are scored with."""
IMAGE_SCORER_VERSION = v3.VERSION
"""The version new contributions with images (canonical version 2) are scored with."""

VERSIONS = (v1.VERSION, v2.VERSION, v3.VERSION)

_FEATURES: dict[str, tuple[str, ...]] = {v1.VERSION: v1.FEATURES, v2.VERSION: v2.FEATURES, v3.VERSION: v3.FEATURES}
_POINTS: dict[str, Callable[[Mapping[str, int]], int]] = {v1.VERSION: v1.points, v2.VERSION: v2.points,
                                                          v3.VERSION: v3.points}
_COUNT: dict[str, Callable[[Conversation], dict[str, int]]] = {v1.VERSION: v1.features, v2.VERSION: v2.features,
                                                               v3.VERSION: v3.features}


class InvalidFeaturesError(InvalidInputError):
    """Features that are not the ones a version computes its points from."""

    code = "invalid-features"


@dataclass(frozen=True, slots=True)
class Score:
    """The points of one conversation and the features they were computed from."""

    version: str
    points: int
    features: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """The published breakdown, as stored with the contribution and served by the API."""
        return {"version": self.version, "points": self.points, "features": dict(self.features)}


def _known(version: str) -> str:
    if version not in _FEATURES:
        raise UnknownScorerError(version)
    return version


def score(conversation: Conversation) -> Score:
    """Score a canonical conversation with the current version (docs/scoring.md): quality-v2
    without images, quality-v3 with."""
    if conversation.image_cids:
        with_images = v3.features(conversation)
        return Score(IMAGE_SCORER_VERSION, v3.points(with_images), with_images)
    features = v2.features(conversation)
    return Score(SCORER_VERSION, v2.points(features), features)


def features_of(version: str, conversation: Conversation) -> dict[str, int]:
    """The features ``version`` computes from ``conversation``."""
    return _COUNT[_known(version)](conversation)


def checked_features(version: str, features: Mapping[str, object]) -> dict[str, int]:
    """``features`` if they are exactly ``version``'s, each a non-negative integer; else
    ``InvalidFeaturesError`` naming the first one that is not."""
    names = _FEATURES[_known(version)]
    for name in names:
        value = features.get(name)
        if type(value) is not int or value < 0:
            what = "is missing" if name not in features else "must be a non-negative integer"
            raise InvalidFeaturesError(f"{version} feature {name} {what}", feature=name)
    extra = sorted(set(features) - set(names))
    if extra:
        raise InvalidFeaturesError(f"{version} has no feature {extra[0]}", feature=extra[0])
    return {name: int(features[name]) for name in names}  # type: ignore[call-overload]


def points_from_features(version: str, features: Mapping[str, object]) -> int:
    """The points ``version``'s rules give a conversation with ``features``."""
    return _POINTS[_known(version)](checked_features(version, features))


def recorded_features(version: str, breakdown: Mapping[str, Any], message_count: int) -> dict[str, int]:
    """The features of a recorded contribution, from its stored ``score`` breakdown: the ones
    stored with it, or, for a v1 contribution (whose breakdown predates features), the ones
    recovered from what v1 stored (``v1.recorded_features``)."""
    if _known(version) == v1.VERSION:
        return v1.recorded_features(breakdown, message_count)
    return checked_features(version, breakdown["features"])


def exactly_recorded(version: str) -> tuple[str, ...]:
    """The features a recorded contribution of ``version`` publishes exactly as its conversation
    gives them: all of them, except v1's message counts, which v1 did not store (when a
    conversation without duplicates also held system messages, the recovered count is larger)."""
    if _known(version) == v1.VERSION:
        return ("exchanges", "distinctUserWords", "distinctAssistantWords")
    return _FEATURES[version]
