"""Image CIDs (docs/formats.md §2, version 2) against a real IPFS node (js-ipfs, see docs/ipfs.md):
what the canonical conversation names for an image is what the node computes for its raw bytes
with `ipfs add --cid-version=1 --raw-leaves`, for real PNG, JPEG, WebP and GIF bytes, and an
image stored through our store comes back from the node as those bytes."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.content import IpfsStore, cid_of
from ledger.conversation import normalise
from tests.images.images import image_bytes

pytestmark = pytest.mark.filterwarnings("ignore:The 'strict' parameter:FutureWarning")

ADD_OPTS = {"cid-version": 1, "raw-leaves": "true", "cid-base": "base32", "only-hash": "true"}
IMAGES = {fmt: image_bytes(fmt, 50) for fmt in ("PNG", "JPEG", "WEBP", "GIF")}
# A picture of random pixels past one 256 KiB block: its CID is a UnixFS dag-pb root (bafybei...).
LARGE = image_bytes("PNG", 51, size=(400, 300))


@pytest.mark.parametrize("fmt", [*IMAGES, "large PNG"])
def test_the_image_cid_is_the_nodes(raw_client: Any, fmt: str) -> None:
    data = LARGE if fmt == "large PNG" else IMAGES[fmt]
    cid = cid_of(data)
    assert str(raw_client.add_bytes(data, opts=ADD_OPTS)) == cid
    assert cid.startswith("bafybei" if len(data) > 262_144 else "bafkrei")
    # And the CID a version-2 conversation names for the image is that one.
    conversation = normalise({"messages": [{"role": "user", "content": "look", "images": [cid]},
                                           {"role": "assistant", "content": "seen"}]})
    assert conversation.image_cids == [cid]


def test_an_image_stored_through_the_store_is_on_the_node(ipfs_store: IpfsStore, raw_client: Any) -> None:
    data = IMAGES["JPEG"]
    (cid,) = ipfs_store.put_many([data])
    assert cid == cid_of(data)
    assert raw_client.cat(cid, timeout=10) == data
