"""Contributions with images against a real js-ipfs daemon and a real chain: in public mode the
images' own blocks (a raw block, and a UnixFS DAG above 256 KiB) are pinned with the
conversation's and come back from the node byte for byte, after a garbage collection; in privacy
mode the images' envelopes are pinned with the conversation's and leave the node when it is
erased; a sealed epoch holding a quality-v3 leaf is anchored and passes the audit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from anchoring.audit import ManifestFetcher, audit
from ledger.content import IpfsStore, cid_of
from ledger.content.unixfs import CHUNK_SIZE
from ledger.models import ContributionImage, StoredObject
from ledger.privacy import erase
from tally.client import sign_submission
from tests.anchoring_e2e.conftest import Stack, anchor_all, real_conversations, serve
from tests.anchoring_e2e.test_ipfs_outbox import pass_of_storage_job, pin_root
from tests.api.conftest import contributor_key
from tests.images.images import image_bytes
from tests.support.ipfs_daemon import IpfsDaemon, node_modules_installed

pytestmark = pytest.mark.slow


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[IpfsDaemon]:
    if not node_modules_installed():
        pytest.skip("tools/ipfs/node_modules is missing: npm ci --prefix tools/ipfs")
    node = IpfsDaemon(tmp_path / "ipfs")
    node.init()
    node.start()
    try:
        yield node
    finally:
        node.stop()


def with_images(conversation: dict[str, Any], images: list[bytes]) -> dict[str, Any]:
    """A real ShareGPT conversation whose last answer carries ``images``."""
    turns = [{"role": "user" if t["from"] == "human" else "assistant", "content": t["value"]}
             for t in conversation["conversations"] if t["from"] in ("human", "gpt")]
    turns[-1]["images"] = [cid_of(data) for data in images]
    return {"messages": turns}


def test_image_envelopes_are_pinned_erased_and_the_epoch_audits(stack: Stack, daemon: IpfsDaemon) -> None:
    served = serve(stack)
    served.app.state.services.intake._master_key = bytes(range(32))  # privacy mode
    images = [image_bytes("PNG", 80), image_bytes("WEBP", 80)]
    config = served.get("/v1/config").json()
    now = int(time.time())
    bodies = [sign_submission(config, with_images(c, images if i == 0 else []) if i == 0 else c,
                              contributor_key(i), nonce=i, issued_at=now, images=images if i == 0 else [])
              for i, c in enumerate(real_conversations(2))]
    for body in bodies:
        response = served.post("/v1/contributions", json=body)
        assert response.status_code == 201, response.text
    first, second = (served.get(f"/v1/contributions/{n}").json() for n in (1, 2))
    assert first["score"]["version"] == "quality-v3" and first["score"]["features"]["images"] == 2
    with stack.sessions() as session:
        stored = session.scalars(select(ContributionImage.stored_cid).order_by(ContributionImage.position)).all()
    assert len(stored) == 2 and not set(stored) & {cid_of(data) for data in images}
    with IpfsStore(daemon.url, timeout=30, fetch_timeout=2, has_timeout=0.5) as ipfs:
        pass_of_storage_job(stack, ipfs, now=10**10)
        root = pin_root(stack, stored[0])
        assert all(ipfs.pinned_in(root, cid) for cid in stored)
        stack.seal()
        pass_of_storage_job(stack, ipfs, now=10**10)  # the manifest reaches the node
        anchor_all(stack)
        report = audit(stack.chain.url, daemon.url.rstrip("/") + "/api/v0", stack.contract.address)
        assert report.ok and report.leaves == 2, report.discrepancy
        with stack.sessions() as session, session.begin():
            assert erase(session, 1, now=10**10)
        pass_of_storage_job(stack, ipfs, now=10**10 + 1)
        with stack.sessions() as session:
            gone = session.scalars(select(StoredObject).where(StoredObject.cid.in_(stored))).all()
        assert len(gone) == 2 and all(o.released_at and o.pin_root is None for o in gone)
        new_root = pin_root(stack, second["cid"])
        assert not any(ipfs.pinned_in(new_root, cid) for cid in stored)


def test_in_public_mode_the_image_blocks_are_pinned_and_fetched_back_byte_equal(stack: Stack,
                                                                                daemon: IpfsDaemon) -> None:
    served = serve(stack)  # public mode: no master key
    small, large = image_bytes("PNG", 81), image_bytes("PNG", 82, size=(340, 300))
    assert len(small) <= CHUNK_SIZE < len(large)  # a raw block, and a DAG of several
    images = [small, large]
    config = served.get("/v1/config").json()
    body = sign_submission(config, with_images(real_conversations(1)[0], images), contributor_key(0), nonce=1,
                           issued_at=int(time.time()), images=images)
    answer = served.post("/v1/contributions", json=body)
    assert answer.status_code == 201, answer.text
    listed = served.get(f"/v1/contributions/{answer.json()['id']}").json()["images"]
    cids = [cid_of(data) for data in images]
    assert cids[0].startswith("bafkrei") and cids[1].startswith("bafybei")
    assert [(i["cid"], i["stored"], i["url"]) for i in listed] == [(c, c, f"/ipfs/{c}") for c in cids]
    with IpfsStore(daemon.url, timeout=30, fetch_timeout=5, has_timeout=0.5) as ipfs:
        pass_of_storage_job(stack, ipfs, now=10**10)
        root = pin_root(stack, answer.json()["cid"])
        assert all(pin_root(stack, cid) == root and ipfs.pinned_in(root, cid) for cid in cids)
        # Pinned, not merely cached: a garbage collection keeps them.
        httpx.post(f"{daemon.url}/api/v0/repo/gc", timeout=60).raise_for_status()
        for cid, data in zip(cids, images, strict=True):
            cat = httpx.post(f"{daemon.url}/api/v0/cat", params={"arg": cid, "timeout": "10s"}, timeout=30)
            assert cat.status_code == 200 and cat.content == data
            # Every block of the node's CAR checked against its CID, as an outsider fetches it.
            assert ManifestFetcher(f"{daemon.url}/api/v0").get(cid) == data
