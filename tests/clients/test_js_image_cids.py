"""The JS client names images of every size as `ipfs add --cid-version=1 --raw-leaves` does: one
raw block up to 256 KiB, then the balanced UnixFS DAG (several leaves under one node, then more
than 174 leaves, which takes a second level), held to ledger.content.cid_of, itself held to
js-ipfs (tests/content). A version-2 conversation naming a multi-block image reads the same."""

from __future__ import annotations

from ledger.content import cid_of
from ledger.conversation import canonical_bytes
from tests.clients.conftest import run_node

CHUNK = 262_144
SIZES = [1, 1000, CHUNK, CHUNK + 1, 600_000, 174 * CHUNK, 174 * CHUNK + 1]


def made(n: int) -> bytes:
    period = bytes((i * 7 + 3) % 251 for i in range(251))
    return (period * (n // 251 + 1))[:n]


def test_image_cids_of_every_size_match_the_reference() -> None:
    seen = run_node("image_cid_probe.mjs", {"sizes": SIZES}, timeout=120)
    expected = [cid_of(made(n)) for n in SIZES]
    assert seen["cids"] == expected
    assert [c[:7] for c in expected] == ["bafkrei"] * 3 + ["bafybei"] * 4  # raw, then dag-pb roots
    conversation = {"messages": [{"role": "user", "content": "Draw two boats."},
                                 {"role": "assistant", "content": "Here they are.",
                                  "images": [expected[-1], expected[0]]}]}
    assert seen["canonical"] == canonical_bytes(conversation).decode()
