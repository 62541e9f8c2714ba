"""The page's browser hashing and ABI code (``api/static/hashing.js``, ``chain.js``) against ours.

Vectors come from the Python implementation the server and ``tally verify`` use
(``ledger.merkle.log``, ``ledger.merkle.standard``) and from web3.py / eth_abi for the ABI; node
runs the very modules the browser loads and compares. No chain or browser is needed.
"""

from __future__ import annotations

import json
import random
import subprocess
from typing import Any

import pytest
from eth_abi import encode
from eth_account import Account
from web3 import Web3

from anchoring.artifact import load_artifact
from ledger.merkle import log as rfc9162
from ledger.merkle.standard import StandardMerkleTree
from tests.page.conftest import ROOT, require_node

SCRIPT = ROOT / "tests" / "page" / "hashing_vectors.mjs"
MAX_UINT128 = 2**128 - 1
MAX_UINT256 = 2**256 - 1


def _address(n: int) -> str:
    return str(Account.from_key(n.to_bytes(32, "big")).address)


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _leaves(rng: random.Random) -> list[dict[str, Any]]:
    fields = [
        {"index": 0, "contributor": _address(1), "contentHash": _hex(bytes(32)), "acceptedAt": 0, "points": "0"},
        {"index": 2**53 - 1, "contributor": _address(2).lower(), "contentHash": _hex(b"\xff" * 32),
         "acceptedAt": 2**53 - 1, "points": str(MAX_UINT128)},
    ]
    fields += [{"index": i, "contributor": _address(3 + i), "contentHash": _hex(rng.randbytes(32)),
                "acceptedAt": 1_790_000_000 + i, "points": str(rng.randrange(1, 10_000))} for i in range(6)]
    out = []
    for f in fields:
        data = rfc9162.leaf_data(f["index"], f["contributor"], f["contentHash"], f["acceptedAt"], int(f["points"]))
        out.append({"fields": f, "data": _hex(data), "hash": _hex(rfc9162.leaf_hash(data))})
    return out


def _logs(rng: random.Random) -> list[dict[str, Any]]:
    trees = []
    for size in [*range(1, 18), 31, 32, 33, 100]:
        hashes = [rfc9162.leaf_hash(rng.randbytes(160)) for _ in range(size)]
        indexes = range(size) if size <= 33 else sorted({0, 1, size // 2, size - 2, size - 1})
        trees.append({
            "size": size,
            "root": _hex(rfc9162.root(hashes)),
            "leafHashes": [_hex(h) for h in hashes],
            "proofs": [{"index": i, "proof": [_hex(p) for p in rfc9162.inclusion_proof(hashes, i, size)]}
                       for i in indexes],
        })
    return trees


def _balances(rng: random.Random) -> dict[str, Any]:
    values = [[_address(10 + i), str(rng.randrange(1, 10**9))] for i in range(8)]
    values.append([_address(99), str(MAX_UINT256)])
    tree = StandardMerkleTree.of(values, ["address", "uint256"])
    return {"root": tree.root, "entries": [
        {"value": v, "leafHash": tree.leaf_hash(v), "proof": tree.get_proof(i)} for i, v in enumerate(values)]}


def _calls(rng: random.Random) -> list[dict[str, Any]]:
    contract = Web3().eth.contract(abi=load_artifact().abi)
    proof = [_hex(rng.randbytes(32)) for _ in range(5)]
    cases: list[tuple[str, str, list[Any]]] = [
        ("latestEpoch", "latestEpoch()", []),
        ("epochs", "epochs(uint64)", [7]),
        ("verifyContribution", "verifyContribution(uint64,uint64,address,bytes32,uint64,uint128,bytes32[])",
         [3, 41, _address(5), _hex(rng.randbytes(32)), 1_790_000_123, str(MAX_UINT128), proof]),
        ("verifyContribution", "verifyContribution(uint64,uint64,address,bytes32,uint64,uint128,bytes32[])",
         [1, 0, _address(6), _hex(bytes(32)), 0, "0", []]),
        ("verifyBalance", "verifyBalance(uint64,address,uint256,bytes32[])",
         [2, _address(7), str(MAX_UINT256), proof[:3]]),
    ]
    out = []
    for name, signature, args in cases:
        py_args = [int(a) if isinstance(a, str) and a.isdigit() else a for a in args]
        py_args = [[bytes.fromhex(p[2:]) for p in a] if isinstance(a, list) else a for a in py_args]
        py_args = [bytes.fromhex(a[2:]) if isinstance(a, str) and len(a) == 66 else a for a in py_args]
        out.append({"signature": signature, "args": args, "calldata": contract.encode_abi(name, py_args)})
    return out


def _results(rng: random.Random) -> list[dict[str, Any]]:
    header_types = ["uint64", "bytes32", "bytes32", "uint128", "uint64"]
    header = [2**64 - 1, rng.randbytes(32), rng.randbytes(32), MAX_UINT128, 1_790_000_000]
    return [
        {"types": header_types, "data": _hex(encode(header_types, header)),
         "values": [str(header[0]), _hex(header[1]), _hex(header[2]), str(header[3]), str(header[4])]},
        {"types": ["bool"], "data": _hex(encode(["bool"], [True])), "values": [True]},
        {"types": ["bool"], "data": _hex(encode(["bool"], [False])), "values": [False]},
        {"types": ["address"], "data": _hex(encode(["address"], [_address(8)])), "values": [_address(8)]},
    ]


def vectors() -> dict[str, Any]:
    rng = random.Random(9162)
    return {
        "leaves": _leaves(rng),
        "logs": _logs(rng),
        "balances": _balances(rng),
        "addresses": [{"lower": _address(n).lower(), "checksummed": _address(n)} for n in range(1, 40)],
        "calls": _calls(rng),
        "results": _results(rng),
        "epochAnchoredTopic": _hex(Web3.keccak(text="EpochAnchored(uint64,uint64,bytes32,bytes32,uint128,string)")),
    }


@pytest.mark.node
def test_browser_hashing_matches_the_python_implementation() -> None:
    node = require_node()
    given = vectors()
    out = subprocess.run([node, str(SCRIPT)], input=json.dumps(given), capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["failures"] == []
    proofs = sum(len(t["proofs"]) for t in given["logs"])
    # Every vector was looked at: a script that silently skipped a section would check fewer.
    assert result["checked"] >= 2 * len(given["leaves"]) + 2 * proofs + 3 * len(given["balances"]["entries"]) + 50
