"""The balances tree against ``@openzeppelin/merkle-tree`` itself, run with node.

One node process builds every tree of the test from the same values and also loads our dumps;
we compare roots, every proof and the whole ``dump()``, byte for byte.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ledger.merkle.standard import StandardMerkleTree

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve().parent / "js" / "oz_merkle_tree.js"
LIBRARY = ROOT / "node_modules" / "@openzeppelin" / "merkle-tree" / "package.json"

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(
        shutil.which("node") is None or not LIBRARY.exists(),
        reason="needs node and npm ci (node_modules/@openzeppelin/merkle-tree)",
    ),
]


def _run_js(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done = subprocess.run(
        ["node", str(SCRIPT)],
        input=json.dumps({"cases": cases}),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    )
    result: list[dict[str, Any]] = json.loads(done.stdout)
    return result


def _address(rng: random.Random) -> str:
    raw = rng.randbytes(20).hex()
    # Mixed case, like checksummed addresses: abi-utils ignores case, and so must we.
    return "0x" + "".join(c.upper() if rng.random() < 0.3 else c for c in raw)


def _amount(rng: random.Random) -> int:
    return rng.choice([0, 1, rng.getrandbits(64), rng.getrandbits(96), rng.getrandbits(256), 2**256 - 1])


def _balances(rng: random.Random, n: int) -> tuple[list[list[Any]], list[list[Any]]]:
    """(JSON values for JS, the same values as a Python caller would pass them)."""
    py = [[_address(rng), _amount(rng)] for _ in range(n)]
    if n > 3:
        py[n // 2] = list(py[1])  # a duplicate leaf: allowed by the library
    js = [[a, str(b)] for a, b in py]
    return js, py


MIXED = ["uint8", "int64", "bool", "bytes32", "bytes4", "address", "uint128"]


def _mixed(rng: random.Random, n: int) -> tuple[list[list[Any]], list[list[Any]]]:
    py: list[list[Any]] = [
        [
            rng.randrange(256),
            rng.randrange(-(2**63), 2**63),
            rng.random() < 0.5,
            rng.randbytes(32),
            rng.randbytes(rng.randint(1, 4)),  # shorter than bytes4: right-padded
            "0x" + rng.randbytes(20).hex(),
            hex(rng.getrandbits(128)),  # a hex string, as abi-utils accepts for numbers
        ]
        for _ in range(n)
    ]
    js = [[str(a), str(b), c, "0x" + d.hex(), "0x" + e.hex(), f, g] for a, b, c, d, e, f, g in py]
    return js, py


DYNAMIC = ["string", "bytes", "uint256"]


def _dynamic(rng: random.Random, n: int) -> tuple[list[list[Any]], list[list[Any]]]:
    words = ["", "tally", "é", "💰 points", "x" * 40, "0x1234"]
    rows = [(rng.choice(words) + str(i), rng.randbytes(rng.randint(0, 70)), rng.getrandbits(200)) for i in range(n)]
    js: list[list[Any]] = [[s, "0x" + b.hex(), str(v)] for s, b, v in rows]
    return js, [list(r) for r in rows]


def _case(
    ours: StandardMerkleTree,
    js: list[list[Any]],
    encoding: list[str],
    sort: bool,
    rng: random.Random,
) -> dict[str, Any]:
    n = len(js)
    sample = sorted({0, n - 1, *rng.sample(range(n), min(n, 5))})
    return {
        "values": js,
        "encoding": encoding,
        "sortLeaves": sort,
        "dump": ours.dump(),
        "sample": sample,
    }


def _compare(ours: StandardMerkleTree, case: dict[str, Any], theirs: dict[str, Any]) -> None:
    n = len(case["values"])
    assert ours.root == theirs["root"]
    assert [ours.get_proof(i) for i in range(n)] == theirs["proofs"]
    assert [theirs["proofs"][i] for i in case["sample"]] == theirs["sampleProofs"]
    assert json.dumps(ours.dump(), separators=(",", ":"), ensure_ascii=False) == theirs["dump"]
    assert theirs["load"]["ok"], theirs["load"].get("error")
    assert theirs["load"]["root"] == ours.root
    assert theirs["load"]["verified"] is True


def _sizes(rng: random.Random) -> list[int]:
    """Every size up to 64, then a random sample up to 300 (the JS library needs ~0.1 ms a leaf)."""
    return [*range(1, 65), *sorted(rng.sample(range(65, 300), 60)), 300]


def test_random_trees_from_1_to_300_values_match_the_js_library() -> None:
    rng = random.Random(20240501)
    cases: list[tuple[StandardMerkleTree, dict[str, Any]]] = []
    for number, n in enumerate(_sizes(rng)):
        kind = number % 10
        if kind == 7:
            js, py = _mixed(rng, n)
            encoding = MIXED
        elif kind == 9:
            js, py = _dynamic(rng, n)
            encoding = DYNAMIC
        else:
            js, py = _balances(rng, n)
            encoding = ["address", "uint256"]
        sort = number % 13 != 5
        # Half the trees get native Python values, half the very JSON the JS side gets.
        ours = StandardMerkleTree.of(py if number % 2 else js, encoding, sort_leaves=sort)
        cases.append((ours, _case(ours, js, encoding, sort, rng)))
    results = _run_js([case for _, case in cases])
    for (ours, case), theirs in zip(cases, results, strict=True):
        _compare(ours, case, theirs)


def test_large_trees_match_the_js_library() -> None:
    rng = random.Random(7)
    cases = []
    for n in (10_000, 10_001):
        js, py = _balances(rng, n)
        ours = StandardMerkleTree.of(py, ["address", "uint256"])
        cases.append((ours, _case(ours, js, ["address", "uint256"], True, rng)))
        # Every proof, once more through the fast all-proofs path.
        proofs = dict(ours.iter_proofs())
        assert [proofs[i] for i in range(n)] == [ours.get_proof(i) for i in range(n)]
    results = _run_js([case for _, case in cases])
    for (ours, case), theirs in zip(cases, results, strict=True):
        _compare(ours, case, theirs)
