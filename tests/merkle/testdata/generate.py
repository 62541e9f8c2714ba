"""Regenerate ``inclusion.json`` and ``consistency.json`` from the known-answer vectors.

    .venv/bin/python -m tests.merkle.testdata.generate

Valid cases come from ``rfc6962_reference.json`` (transcribed from transparency-dev/merkle, not
computed by Tally) and, for every other (index, size) and (first, second) up to 8 leaves, from the
literal RFC recursion in ``tests/merkle/rfc_reference.py``. Invalid cases mutate valid ones the way
transparency-dev/merkle's ``proof/verify_test.go`` does (``corruptInclusionProof``,
``corruptConsistencyProof``) plus a few more. The error each must raise follows from the RFC 9162
algorithms and the proof lengths of the RFC recursion, never from ``ledger.merkle``: ``want`` lists
class names of ``ledger.merkle.errors`` that the raised error must all be instances of (empty:
must verify). ``test_vectors.py`` checks the files are what this script writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.merkle import rfc_reference as ref

HERE = Path(__file__).resolve().parent
REFERENCE = json.loads((HERE / "rfc6962_reference.json").read_text())

LEAF_HASHES = [ref.leaf_hash(bytes.fromhex(x)) for x in REFERENCE["leaf_inputs"]]
ROOTS = [bytes.fromhex(x) for x in REFERENCE["roots_by_size"]]
EMPTY = bytes.fromhex(REFERENCE["empty_root"])
SOME = bytes.fromhex(REFERENCE["some_hash"])
KNOWN, DERIVED, EDGE = "known", "derived", "edge"
SOURCE_KEYS = {
    KNOWN: "a known-answer proof of rfc6962_reference.json (transparency-dev/merkle) or a mutation of it",
    DERIVED: "the proof by tests/merkle/rfc_reference.py over the 8 reference leaves or a mutation of it",
    EDGE: "a hand-written edge case",
}

# Mutations of these (besides the known-answer vectors) are written out in full; for the other
# pairs up to 8 leaves only the valid proof is, to keep the files small.
MUTATE_SIZES = {2, 6, 7}


def _flip(h: bytes, byte: int, bit: int) -> bytes:
    b = bytearray(h)
    b[byte] ^= 1 << bit
    return bytes(b)


def _hex(hs: list[bytes]) -> list[str]:
    return [h.hex() for h in hs]


# --- inclusion ----------------------------------------------------------------------------------


def _inclusion_case(
    desc: str,
    source: str,
    index: int,
    size: int,
    leaf: bytes,
    root: bytes,
    proof: list[bytes],
    want: list[str],
) -> dict[str, Any]:
    return {
        "desc": desc,
        "source": source,
        "leaf_index": index,
        "tree_size": size,
        "leaf_hash": leaf.hex(),
        "root": root.hex(),
        "proof": _hex(proof),
        "want": want,
    }


def _index_or_size_mutation(index: int, size: int, proof_len: int) -> list[str]:
    if not 0 <= index < size:
        return ["IndexOutOfRangeError"]
    if ref.path_length(index, size) != proof_len:
        return ["InclusionProofSizeError"]
    return ["InclusionRootMismatchError"]


def _corrupt_inclusion(index: int, size: int, proof: list[bytes], source: str) -> list[dict[str, Any]]:
    leaf, root = LEAF_HASHES[index], ROOTS[size]
    size_err = ["InclusionProofSizeError"]
    out = []

    def add(desc: str, i: int, n: int, lf: bytes, rt: bytes, pf: list[bytes], want: list[str]) -> None:
        out.append(_inclusion_case(f"{desc} (of {index} in {size})", source, i, n, lf, rt, pf, want))

    for desc, i, n in [
        ("leaf index - 1", index - 1, size),
        ("leaf index + 1", index + 1, size),
        ("leaf index ^ 2", index ^ 2, size),
        ("tree size * 2", index, size * 2),
        ("tree size / 2", index, size // 2),
        ("leaf index = tree size", size, size),
    ]:
        add(desc, i, n, leaf, root, proof, _index_or_size_mutation(i, n, len(proof)))
    add("wrong leaf (9 bytes)", index, size, b"WrongLeaf", root, proof, ["InclusionHashSizeError"])
    add(
        "other leaf hash",
        index,
        size,
        ref.leaf_hash(b"WrongLeaf"),
        root,
        proof,
        ["InclusionRootMismatchError"],
    )
    add(
        "leaf hash bit 0 flipped",
        index,
        size,
        _flip(leaf, 31, 0),
        root,
        proof,
        ["InclusionRootMismatchError"],
    )
    add("empty root", index, size, leaf, EMPTY, proof, ["InclusionRootMismatchError"])
    add("random root", index, size, leaf, SOME, proof, ["InclusionRootMismatchError"])
    add(
        "root bit 7 flipped",
        index,
        size,
        leaf,
        _flip(root, 0, 7),
        proof,
        ["InclusionRootMismatchError"],
    )
    add(
        "root truncated to 31 bytes",
        index,
        size,
        leaf,
        root[:31],
        proof,
        ["InclusionHashSizeError"],
    )
    add("trailing garbage", index, size, leaf, root, [*proof, b""], size_err)
    add("trailing root", index, size, leaf, root, [*proof, root], size_err)
    add("preceding garbage", index, size, leaf, root, [b"", *proof], size_err)
    add("preceding root", index, size, leaf, root, [root, *proof], size_err)
    if proof:
        add("removed component", index, size, leaf, root, proof[:-1], size_err)
        add("empty proof", index, size, leaf, root, [], size_err)
        add(
            "proof[0] with a byte appended",
            index,
            size,
            leaf,
            root,
            [proof[0] + b"\x00", *proof[1:]],
            ["InclusionHashSizeError"],
        )
    if len(proof) > 1:
        add("inserted component", index, size, leaf, root, [proof[0], SOME, *proof[1:]], size_err)
        add(
            "swapped components",
            index,
            size,
            leaf,
            root,
            [proof[1], proof[0], *proof[2:]],
            ["InclusionRootMismatchError"],
        )
    for j in range(len(proof)):
        for byte, bit in ((0, 3), (31, 0)):
            pf = list(proof)
            pf[j] = _flip(pf[j], byte, bit)
            add(
                f"proof[{j}] byte {byte} bit {bit} flipped",
                index,
                size,
                leaf,
                root,
                pf,
                ["InclusionRootMismatchError"],
            )
    return out


def inclusion_cases() -> list[dict[str, Any]]:
    cases = []
    known = {(v["index"], v["size"]) for v in REFERENCE["inclusion_proofs"]}
    for v in REFERENCE["inclusion_proofs"]:
        i, n, proof = v["index"], v["size"], [bytes.fromhex(h) for h in v["proof"]]
        cases.append(_inclusion_case("valid", KNOWN, i, n, LEAF_HASHES[i], ROOTS[n], proof, []))
        cases.extend(_corrupt_inclusion(i, n, proof, KNOWN))
    for n in range(1, 9):
        for i in range(n):
            if (i, n) in known:
                continue
            proof = ref.path(i, LEAF_HASHES[:n])
            cases.append(_inclusion_case("valid", DERIVED, i, n, LEAF_HASHES[i], ROOTS[n], proof, []))
            if n in MUTATE_SIZES:
                cases.extend(_corrupt_inclusion(i, n, proof, DERIVED))
    leaf = LEAF_HASHES[0]
    for i, n in [(0, 0), (1, 1), (2, 1), (-1, 8), (8, 8), (1 << 64, 8)]:
        cases.append(
            _inclusion_case(
                f"index {i} outside size {n}",
                EDGE,
                i,
                n,
                leaf,
                ROOTS[1],
                [],
                ["IndexOutOfRangeError"],
            )
        )
    cases.append(_inclusion_case("single leaf: root is the leaf hash", EDGE, 0, 1, leaf, leaf, [], []))
    cases.append(
        _inclusion_case(
            "single leaf, other root",
            EDGE,
            0,
            1,
            leaf,
            ROOTS[2],
            [],
            ["InclusionRootMismatchError"],
        )
    )
    cases.append(_inclusion_case("single leaf, empty leaf hash", EDGE, 0, 1, b"", leaf, [], ["InclusionHashSizeError"]))
    cases.append(_inclusion_case("single leaf, empty root", EDGE, 0, 1, leaf, b"", [], ["InclusionHashSizeError"]))
    return cases


# --- consistency --------------------------------------------------------------------------------


def _consistency_case(
    desc: str,
    source: str,
    first: int,
    second: int,
    root1: bytes,
    root2: bytes,
    proof: list[bytes],
    want: list[str],
) -> dict[str, Any]:
    return {
        "desc": desc,
        "source": source,
        "first": first,
        "second": second,
        "first_root": root1.hex(),
        "second_root": root2.hex(),
        "proof": _hex(proof),
        "want": want,
    }


def _sizes_mutation(first: int, second: int, proof_len: int) -> list[str]:
    if first < 0 or second < 0 or first > second:
        return ["TreeSizeError"]
    if first in (0, second) or ref.proof_length(first, second) != proof_len:
        return ["ConsistencyProofSizeError"]
    # Which root fails depends on where the wrong shape first shows; the kind does not.
    return ["ConsistencyProofError", "RootMismatchError"]


def _corrupt_consistency(first: int, second: int, proof: list[bytes], source: str) -> list[dict[str, Any]]:
    r1, r2 = ROOTS[first], ROOTS[second]
    size_err = ["ConsistencyProofSizeError"]
    mismatch = ["ConsistencyProofError", "RootMismatchError"]
    out = []

    def add(desc: str, m: int, n: int, a: bytes, b: bytes, pf: list[bytes], want: list[str]) -> None:
        out.append(_consistency_case(f"{desc} ({first} to {second})", source, m, n, a, b, pf, want))

    for desc, m, n in [
        ("first - 1", first - 1, second),
        ("first + 1", first + 1, second),
        ("first ^ 2", first ^ 2, second),
        ("second * 2", first, second * 2),
        ("second / 2", first, second // 2),
        ("first > second", second + 1, second),
    ]:
        add(desc, m, n, r1, r2, proof, _sizes_mutation(m, n, len(proof)))
    add(
        "wrong first root (9 bytes)",
        first,
        second,
        b"WrongRoot",
        r2,
        proof,
        ["ConsistencyHashSizeError"],
    )
    add(
        "wrong second root (9 bytes)",
        first,
        second,
        r1,
        b"WrongRoot",
        proof,
        ["ConsistencyHashSizeError"],
    )
    add("swapped roots", first, second, r2, r1, proof, mismatch)
    # With first a power of two the first root seeds the path and is never recomputed (RFC 9162
    # §2.1.4.2 step 2), so a wrong one shows as a wrong second root.
    first_is_seed = first & (first - 1) == 0
    add(
        "first root bit 0 flipped",
        first,
        second,
        _flip(r1, 31, 0),
        r2,
        proof,
        ["SecondRootMismatchError" if first_is_seed else "FirstRootMismatchError"],
    )
    add(
        "second root bit 0 flipped",
        first,
        second,
        r1,
        _flip(r2, 31, 0),
        proof,
        ["SecondRootMismatchError"],
    )
    add("empty proof", first, second, r1, r2, [], size_err)
    add("trailing garbage", first, second, r1, r2, [*proof, b""], size_err)
    add("trailing first root", first, second, r1, r2, [*proof, r1], size_err)
    add("trailing second root", first, second, r1, r2, [*proof, r2], size_err)
    add("preceding garbage", first, second, r1, r2, [b"", *proof], size_err)
    add("preceding first root", first, second, r1, r2, [r1, *proof], size_err)
    add("preceding second root", first, second, r1, r2, [r2, *proof], size_err)
    add("preceding proof[0]", first, second, r1, r2, [proof[0], *proof], size_err)
    add("truncated proof", first, second, r1, r2, proof[:-1], size_err)
    add(
        "proof[-1] with a byte cut",
        first,
        second,
        r1,
        r2,
        [*proof[:-1], proof[-1][:31]],
        ["ConsistencyHashSizeError"],
    )
    for j in range(len(proof)):
        for byte, bit in ((0, 4), (31, 0)):
            pf = list(proof)
            pf[j] = _flip(pf[j], byte, bit)
            add(f"proof[{j}] byte {byte} bit {bit} flipped", first, second, r1, r2, pf, mismatch)
    return out


def consistency_cases() -> list[dict[str, Any]]:
    cases = []
    known = {(v["first"], v["second"]) for v in REFERENCE["consistency_proofs"]}
    for v in REFERENCE["consistency_proofs"]:
        m, n, proof = v["first"], v["second"], [bytes.fromhex(h) for h in v["proof"]]
        cases.append(_consistency_case("valid", KNOWN, m, n, ROOTS[m], ROOTS[n], proof, []))
        if proof:
            cases.extend(_corrupt_consistency(m, n, proof, KNOWN))
    for n in range(1, 9):
        for m in range(0, n + 1):
            if (m, n) in known:
                continue
            proof = ref.proof(m, LEAF_HASHES[:n]) if m else []
            cases.append(_consistency_case("valid", DERIVED, m, n, ROOTS[m], ROOTS[n], proof, []))
            if n in MUTATE_SIZES and proof:
                cases.extend(_corrupt_consistency(m, n, proof, DERIVED))
    r3, r5 = ROOTS[3], ROOTS[5]
    cases += [
        _consistency_case("empty to empty", EDGE, 0, 0, EMPTY, EMPTY, [], []),
        _consistency_case("empty to 5", EDGE, 0, 5, EMPTY, r5, [], []),
        # Stricter than transparency-dev/merkle, which accepts any first root for size 0.
        _consistency_case("size 0 with a non-empty first root", EDGE, 0, 5, r3, r5, [], ["FirstRootMismatchError"]),
        _consistency_case("empty to 5 with a proof", EDGE, 0, 5, EMPTY, r5, [r5], ["ConsistencyProofSizeError"]),
        _consistency_case("same size, same root", EDGE, 5, 5, r5, r5, [], []),
        _consistency_case("same size, other root", EDGE, 5, 5, r5, r3, [], ["SecondRootMismatchError"]),
        _consistency_case("same size with a proof", EDGE, 5, 5, r5, r5, [r5], ["ConsistencyProofSizeError"]),
        _consistency_case(
            "empty proof where one is needed",
            EDGE,
            1,
            2,
            ROOTS[1],
            ROOTS[2],
            [],
            ["ConsistencyProofSizeError"],
        ),
        _consistency_case("first > second", EDGE, 5, 3, r5, r3, [], ["TreeSizeError"]),
        _consistency_case("first > second, both empty roots", EDGE, 1, 0, EMPTY, EMPTY, [], ["TreeSizeError"]),
        _consistency_case("negative first", EDGE, -1, 3, r3, r3, [], ["TreeSizeError"]),
        _consistency_case("short first root, same size", EDGE, 3, 3, r3[:31], r3, [], ["ConsistencyHashSizeError"]),
    ]
    return cases


def documents() -> dict[str, dict[str, Any]]:
    common = {
        "generator": "tests/merkle/testdata/generate.py",
        "reference": "rfc6962_reference.json",
        "sources": REFERENCE["sources"],
        "source_keys": SOURCE_KEYS,
    }
    return {
        "inclusion.json": {
            **common,
            "description": "RFC 9162 §2.1.3.2 inclusion proof verification cases. "
            "verify_inclusion(leaf_hash, leaf_index, tree_size, proof, root) must succeed when "
            "want is empty, else raise an error that is an instance of every class named in want.",
            "cases": inclusion_cases(),
        },
        "consistency.json": {
            **common,
            "description": "RFC 9162 §2.1.4.2 consistency proof verification cases. "
            "verify_consistency(first, second, first_root, second_root, proof) must succeed when "
            "want is empty, else raise an error that is an instance of every class named in want.",
            "cases": consistency_cases(),
        },
    }


def render(doc: dict[str, Any]) -> str:
    """JSON with one case per line: diffable, and a third of the size of indented JSON."""
    head = {k: v for k, v in doc.items() if k != "cases"}
    lines = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    cases = ",\n".join(json.dumps(c, separators=(",", ":")) for c in doc["cases"])
    return f'{lines},\n "cases": [\n{cases}\n ]\n}}\n'


def main() -> None:
    for name, doc in documents().items():
        (HERE / name).write_text(render(doc))
        print(f"{name}: {len(doc['cases'])} cases")


if __name__ == "__main__":
    main()
