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
from anchoring.contract import EpochHeader
from ledger.formats import BALANCE_SIGNATURE, CONTRIBUTION_SIGNATURE
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


def _py(value: Any) -> Any:
    """A vector's JSON argument as web3.py takes it: decimal strings as ints, hashes as bytes,
    lists (a proof, a header tuple) member by member."""
    if isinstance(value, list):
        return [_py(v) for v in value]
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, str) and len(value) == 66:
        return bytes.fromhex(value[2:])
    return value


def _calls(rng: random.Random) -> list[dict[str, Any]]:
    contract = Web3().eth.contract(abi=load_artifact().abi)
    proof = [_hex(rng.randbytes(32)) for _ in range(5)]
    header = [3, 1_000_003, _hex(rng.randbytes(32)), _hex(rng.randbytes(32)), str(MAX_UINT128)]
    empty = [1, 0, _hex(rfc9162.EMPTY_ROOT), _hex(bytes(32)), "0"]
    cases: list[tuple[str, str, list[Any]]] = [
        ("latestEpoch", "latestEpoch()", []),
        ("headerHash", "headerHash(uint64)", [7]),
        ("verifyContribution", CONTRIBUTION_SIGNATURE,
         [header, 41, _address(5), _hex(rng.randbytes(32)), 1_790_000_123, str(MAX_UINT128), proof]),
        ("verifyContribution", CONTRIBUTION_SIGNATURE, [empty, 0, _address(6), _hex(bytes(32)), 0, "0", []]),
        ("verifyBalance", BALANCE_SIGNATURE, [header, _address(7), str(MAX_UINT256), proof[:3]]),
    ]
    return [{"signature": signature, "args": args, "calldata": contract.encode_abi(name, _py(args))}
            for name, signature, args in cases]


def _headers(rng: random.Random) -> list[dict[str, Any]]:
    headers = [EpochHeader(1, 0, rfc9162.EMPTY_ROOT, rng.randbytes(32), 0),
               EpochHeader(2**64 - 1, 2**64 - 1, rng.randbytes(32), rng.randbytes(32), MAX_UINT128),
               EpochHeader(12, 1_048_575, rng.randbytes(32), rng.randbytes(32), 123_456_789)]
    # Bundles write the epoch and the size as JSON numbers; beyond 2^53 only a string is exact.
    def number(n: int) -> int | str:
        return n if n < 2**53 else str(n)

    return [{"header": {"epoch": number(h.epoch), "logSize": number(h.log_size), "logRoot": _hex(h.log_root),
                        "balancesRoot": _hex(h.balances_root), "totalPoints": str(h.total_points)},
             "hash": _hex(h.hash())} for h in headers]


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
        "headers": _headers(rng),
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
