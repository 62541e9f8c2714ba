"""The scoring rules are a file the scorer reads, and its hash names exactly those rules."""

from __future__ import annotations

import ast
import copy
import importlib.util
import inspect
import json
import unicodedata
from types import ModuleType

import pytest

from ledger import jcs
from ledger.conversation import normalise
from ledger.scoring import VERSIONS, rules_hash, rules_of, score, v2
from ledger.scoring.rules import RULES_DIR, UnknownScorerError
from tests.conftest import ROOT

REAL = normalise({"messages": [
    {"role": "user", "content": "How do I keep a double-entry ledger consistent when two servers write at once?"},
    {"role": "assistant", "content": "Let the database decide: put a unique index on each transfer's reference, "
                                     "write both entries of a transfer in one transaction, and retry the loser of a "
                                     "race, which then finds the reference taken and writes nothing. Balances are "
                                     "sums of entries, so they never drift from the entries themselves."}]})


def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_scoring_rules", ROOT / "tools" / "make_scoring_rules.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_rules_file_and_its_javascript_copy_are_what_the_tool_writes() -> None:
    make = tool()
    rules = json.loads(make.RULES.read_text())
    assert make.RULES.read_text() == make.rules_text(rules)
    assert make.JS_MODULE.read_text() == make.module_text(rules)
    if unicodedata.unidata_version != make.UNICODE_VERSION:
        pytest.skip(f"this Python has Unicode {unicodedata.unidata_version}; the tables are "
                    f"{make.UNICODE_VERSION}'s and need it to be rebuilt")
    assert rules["characters"] == make.characters()


def test_the_hash_is_of_the_rules_not_of_their_layout() -> None:
    rules = rules_of("quality-v2")
    published = rules_hash("quality-v2")
    assert published.startswith("0x") and len(published) == 66
    assert jcs.dumps(json.loads(json.dumps(rules, indent=7))) == jcs.dumps(rules)
    for path in (["length", "cap"], ["freeTokens", "assistant"], ["characters", "word", 0, 1]):
        changed = copy.deepcopy(rules)
        node = changed
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] += 1
        assert jcs.dumps(changed) != jcs.dumps(rules), path
    assert {rules_hash(v) for v in VERSIONS} == {rules_hash("quality-v1"), published, rules_hash("quality-v3")}
    assert len({rules_hash(v) for v in VERSIONS}) == 3
    assert sorted(p.stem for p in RULES_DIR.glob("quality-*.json")) == sorted(VERSIONS)
    with pytest.raises(UnknownScorerError):
        rules_of("../quality-v2")


def test_the_scorer_reads_its_constants_from_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    before = score(REAL)
    assert before.points > 5
    monkeypatch.setitem(v2.RULES["length"], "cap", 5)
    assert score(REAL).points <= 5
    monkeypatch.setitem(v2.RULES["length"], "cap", 400)
    monkeypatch.setitem(v2.RULES["freeTokens"], "assistant", 1000)
    assert score(REAL).features["assistantNew"] == 0 < before.features["assistantNew"]
    # No rule hides in the code: its only numbers are 0, 1, powers in its formulas, and per mille.
    numbers = {n.value for n in ast.walk(ast.parse(inspect.getsource(v2)))
               if isinstance(n, ast.Constant) and type(n.value) is int}
    assert numbers <= {0, 1, 2, 3, 4, 1000}, numbers
