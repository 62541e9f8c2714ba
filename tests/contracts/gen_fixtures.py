"""Proof fixtures for the Hardhat tests, made by the Python log (``ledger.merkle``) at test time.

The Hardhat suite runs this script from its ``before()`` hook and checks every case on-chain, so
Solidity and Python must agree on every valid proof and on every mutation of one. Nothing is
committed: the fixtures always come from the Python code of the same checkout.

Cases are every valid proof, plus the same proof presented with one size or index off by one.
Each carries the Python verdict (``ok``), which the contract must match. Such a changed claim is
not always false: an RFC 9162 proof fixes the shape of the path, not the tree size, and sizes
with the same path shape pass on both sides (e.g. leaf 0 of 3 and of 4 leaves, checked against
the same root). The mutations no verifier may ever accept (a flipped bit, an element dropped or
appended, an index outside the tree) are made on-chain by the test harness from the valid cases.

Usage: ``python tests/contracts/gen_fixtures.py OUT.json [--small 70] [--large 65537,...]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ledger.merkle import ProofError  # noqa: E402
from ledger.merkle import log as merkle_log  # noqa: E402
from ledger.merkle.memory import MemoryLog  # noqa: E402

DEFAULT_LARGE = (127, 128, 129, 1000, 1023, 1024, 1025, 4097, 65535, 65536, 65537, 131073)

Case = dict[str, Any]


def contribution(i: int) -> dict[str, Any]:
    """A deterministic contribution: varied field widths, so that encodings are exercised."""
    return {
        "index": i,
        "contributor": "0x" + hashlib.sha256(b"contributor %d" % (i % 23)).hexdigest()[:40],
        "contentHash": "0x" + hashlib.sha256(b"conversation %d" % i).hexdigest(),
        "acceptedAt": 1_760_000_000 + 61 * i,
        "points": (i * 2_654_435_761) % (2**128) if i % 5 == 4 else 10 + (i * 7919) % 1000,
    }


def leaf_of(c: dict[str, Any]) -> bytes:
    return merkle_log.leaf_data(
        c["index"],
        c["contributor"],
        bytes.fromhex(c["contentHash"][2:]),
        c["acceptedAt"],
        c["points"],
    )


def verdict(check: Callable[[], None]) -> bool:
    try:
        check()
    except ProofError:
        return False
    return True


def hx(h: bytes) -> str:
    return "0x" + h.hex()


class Cases:
    """Collects valid cases and their changed-claim variants, each with the Python verdict."""

    def __init__(self) -> None:
        self.inclusion: list[Case] = []
        self.consistency: list[Case] = []

    def add_inclusion(self, index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
        def case(kind: str, i: int, s: int) -> None:
            ok = verdict(lambda: merkle_log.verify_inclusion(leaf, i, s, proof, root))
            self.inclusion.append(
                {
                    "kind": kind,
                    # Decimal strings: sizes past 2^53 do not survive a JSON number in JavaScript.
                    "index": str(i),
                    "size": str(s),
                    "leaf": hx(leaf),
                    "root": hx(root),
                    "proof": [hx(x) for x in proof],
                    "ok": ok,
                }
            )

        case("valid", index, size)
        for i in (index - 1, index + 1):
            if 0 <= i < size:
                case("index-off-by-one", i, size)
        for s in (size - 1, size + 1):
            if s >= 0:
                case("size-off-by-one", index, s)

    def add_consistency(self, first: int, second: int, proof: Sequence[bytes], roots: Callable[[int], bytes]) -> None:
        r1, r2 = roots(first), roots(second)

        def case(kind: str, m: int, n: int) -> None:
            ok = verdict(lambda: merkle_log.verify_consistency(m, n, r1, r2, proof))
            self.consistency.append(
                {
                    "kind": kind,
                    "first": str(m),
                    "second": str(n),
                    "firstRoot": hx(r1),
                    "secondRoot": hx(r2),
                    "proof": [hx(x) for x in proof],
                    "ok": ok,
                }
            )

        case("valid", first, second)
        for m in (first - 1, first + 1):
            if m >= 0:
                case("size-off-by-one", m, second)
        for n in (second - 1, second + 1):
            if n >= 0:
                case("size-off-by-one", first, n)


def build(small: int, large: Sequence[int]) -> dict[str, Any]:
    started = time.perf_counter()
    biggest = max([small, *large])
    contributions = [contribution(i) for i in range(biggest)]
    leaf_data = [leaf_of(c) for c in contributions]
    leaf_hashes = [merkle_log.leaf_hash(d) for d in leaf_data]
    memory = MemoryLog(leaf_hashes)

    small_roots = {n: merkle_log.root(leaf_hashes[:n]) for n in range(small + 1)}

    def root_of(n: int) -> bytes:
        return small_roots[n] if n in small_roots else memory.root(n)

    cases = Cases()
    # Every size 1..small, every index, every pair of sizes, with the pure functions of
    # ledger.merkle.log; then the large sizes, with MemoryLog (the same RFC, served from memory).
    for size in range(1, small + 1):
        for index in range(size):
            proof = merkle_log.inclusion_proof(leaf_hashes, index, size)
            cases.add_inclusion(index, size, leaf_hashes[index], proof, small_roots[size])
    for second in range(0, small + 1):
        for first in range(0, second + 1):
            proof = merkle_log.consistency_proof(leaf_hashes, first, second)
            cases.add_consistency(first, second, proof, root_of)

    for size in large:
        for index in sorted({0, 1, size // 3, size // 2, size - 2, size - 1}):
            proof = memory.inclusion_proof(index, size)
            cases.add_inclusion(index, size, leaf_hashes[index], proof, memory.root(size))
    pairs = {(a, b) for a in large for b in large if a <= b}
    pairs |= {(a, b) for a in (1, 2, 3, 7, 8, 63, 64, small) for b in large}
    pairs |= {(0, b) for b in large}
    for first, second in sorted(pairs):
        proof = memory.consistency_proof(first, second)
        cases.add_consistency(first, second, proof, root_of)

    return {
        "contributions": [
            {**c, "points": str(c["points"]), "leafData": hx(d), "leafHash": hx(h)}
            for c, d, h in zip(contributions[:small], leaf_data[:small], leaf_hashes[:small], strict=True)
        ],
        "roots": {str(n): hx(r) for n, r in small_roots.items()},
        "inclusionProofs": {
            # Every leaf's proof in every small log, for end-to-end checks through TallyAnchor.
            str(size): [[hx(x) for x in merkle_log.inclusion_proof(leaf_hashes, i, size)] for i in range(size)]
            for size in range(1, small + 1)
        },
        "consistencyProofs": {
            f"{a}-{b}": [hx(x) for x in merkle_log.consistency_proof(leaf_hashes, a, b)]
            for b in range(small + 1)
            for a in range(b + 1)
        },
        "inclusion": cases.inclusion,
        "consistency": cases.consistency,
        "seconds": round(time.perf_counter() - started, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--small", type=int, default=70, help="every size and pair up to this")
    parser.add_argument(
        "--large",
        default=",".join(map(str, DEFAULT_LARGE)),
        help="comma-separated large sizes (a few proofs each, and every pair)",
    )
    args = parser.parse_args(argv)
    large = [int(x) for x in args.large.split(",") if x]
    fixtures = build(args.small, large)
    args.out.write_text(json.dumps(fixtures, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
