"""`cid_of` and `IpfsStore` against a real IPFS node (js-ipfs 0.66, see docs/ipfs.md).

One daemon serves the whole session (`ipfs_daemon` fixture). The daemon's own `add` answers are
the reference for our CIDs; reads go through our verifying store.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.content import (
    ContentCorruptedError,
    ContentNotFoundError,
    ContentStore,
    IpfsStore,
    StoreUnavailableError,
    cid_of,
    dag_blocks,
    envelope,
    parse_cid,
)
from ledger.content.car import decode_car
from ledger.content.unixfs import CHUNK_SIZE, MAX_LINKS, decode_pbnode, directory_node, file_dag
from tests.support.ipfs_daemon import IpfsDaemon, free_port

# ipfshttpclient 0.7 passes urllib3 an argument that urllib3 2 deprecates; nothing we can change.
pytestmark = pytest.mark.filterwarnings("ignore:The 'strict' parameter:FutureWarning")

ADD_OPTS = {"cid-version": 1, "raw-leaves": "true", "cid-base": "base32"}


def pattern(size: int) -> bytes:
    """Deterministic, non-repeating at chunk scale (so no two leaves are equal)."""
    block = bytes(i % 251 for i in range(1 << 20))
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += counter.to_bytes(8, "big") + block
        counter += 1
    return bytes(out[:size])


def daemon_cid(raw_client: Any, data: bytes) -> str:
    """What the node itself computes for `ipfs add --cid-version=1 --raw-leaves` of `data`."""
    return str(raw_client.add_bytes(data, opts={**ADD_OPTS, "only-hash": "true"}))


@pytest.mark.parametrize(
    "size",
    [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 1 << 20, 10 << 20],
    ids=["0", "1", "262143", "262144", "262145", "1MiB", "10MiB"],
)
def test_cid_equals_the_daemons(raw_client: Any, size: int) -> None:
    data = pattern(size)
    assert cid_of(data) == daemon_cid(raw_client, data)


def test_cid_equals_the_daemons_beyond_174_links(raw_client: Any) -> None:
    data = pattern(MAX_LINKS * CHUNK_SIZE + 5 * CHUNK_SIZE + 12345)  # ~44.8 MiB, 180 leaves
    ours = cid_of(data)
    root = decode_pbnode(dag_blocks(data)[0][1])
    assert len(root.links) == 2  # the extra level of the balanced layout
    assert ours == daemon_cid(raw_client, data)


def test_directory_equals_the_daemons_wrap_with_directory(ipfs_daemon: IpfsDaemon) -> None:
    """A batch directory (objects named by their CIDs) is what `add --wrap-with-directory`
    builds for those files: anyone with the objects can recompute a batch's root."""
    objects = [b"", b"one", b"two" * 1000, pattern(CHUNK_SIZE + 1), pattern(3 * CHUNK_SIZE + 5)]
    objects += [f"conversation {i}".encode() * i for i in range(200)]
    parts = [("file", (cid_of(data), data, "application/octet-stream")) for data in objects]
    answer = httpx.post(f"{ipfs_daemon.url}/api/v0/add", files=parts, timeout=120, params={
        **ADD_OPTS, "wrap-with-directory": "true", "only-hash": "true"})
    answer.raise_for_status()
    lines = [json.loads(line) for line in answer.text.splitlines()]
    (wrapper,) = [line for line in lines if line["Name"] == ""]
    dags = [file_dag(data) for data in objects]
    ours, _ = directory_node({str(dag.root): (dag.root, dag.tsize) for dag in dags})
    assert parse_cid(wrapper["Hash"]).to_v1() == ours


def test_add_pin_read_back_and_block_stat(ipfs_store: IpfsStore, raw_client: Any) -> None:
    data = pattern(3 * CHUNK_SIZE + 77)
    cid = ipfs_store.put(data)
    assert cid == cid_of(data)
    assert isinstance(ipfs_store, ContentStore)
    assert ipfs_store.is_pinned(cid)
    assert ipfs_store.has(cid)
    assert ipfs_store.get(cid) == data
    root_block = dag_blocks(data)[0][1]
    stat = raw_client.block.stat(cid, opts={"cid-base": "base32"})
    assert parse_cid(stat["Key"]) == parse_cid(cid)
    assert int(stat["Size"]) == len(root_block)  # a number on js-ipfs, a string on Kubo
    assert ipfs_store.get_block(cid) == root_block
    assert bytes(raw_client.cat(cid)) == data


def test_small_object_is_one_raw_block(ipfs_store: IpfsStore, raw_client: Any) -> None:
    data = b'{"messages":[],"model":null,"v":1}'
    cid = ipfs_store.put(data)
    assert cid.startswith("bafk")
    assert bytes(raw_client.block.get(cid)) == data


def test_batch_pinning_one_request(ipfs_store: IpfsStore, monkeypatch: pytest.MonkeyPatch) -> None:
    items = [f"conversation {i} ".encode() * (i + 1) for i in range(300)]
    items.append(pattern(2 * CHUNK_SIZE + 5))  # a multi-block object in the same batch
    items.append(items[0])  # a duplicate
    # Count the RPC calls the store makes (the client's HTTP object does not allow instance
    # attributes, so the method is wrapped on its class for the duration of the call).
    http_class = type(ipfs_store._client._client)
    calls: list[str] = []
    request = http_class.request

    def counting(self: Any, path: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(path)
        return request(self, path, *args, **kwargs)

    monkeypatch.setattr(http_class, "request", counting)
    (batch,) = ipfs_store.pin_many(items)
    assert calls == ["/dag/import"]
    monkeypatch.undo()
    assert batch.cids == tuple(cid_of(item) for item in items)
    # One recursive pin for the batch, on a directory naming every object by its CID.
    assert ipfs_store.is_pinned(batch.root)
    assert not ipfs_store.is_pinned(batch.cids[0])  # not pinned on its own
    dags = [file_dag(item) for item in items]
    assert batch.root == str(directory_node({str(d.root): (d.root, d.tsize) for d in dags})[0])
    assert all(ipfs_store.pinned_in(batch.root, cid) for cid in batch.cids)
    assert not ipfs_store.pinned_in(batch.root, cid_of(b"not in the batch"))
    assert ipfs_store.get(batch.cids[-2]) == items[-2]
    assert ipfs_store.get(batch.cids[0]) == items[0]


def test_batch_members_survive_garbage_collection(ipfs_store: IpfsStore, raw_client: Any) -> None:
    items = [f"kept by the batch pin {i}".encode() for i in range(5)]
    (batch,) = ipfs_store.pin_many(items)
    loose = ipfs_store.put(b"pinned on its own, then unpinned")
    ipfs_store.unpin(loose)
    list(raw_client.repo.gc())
    assert [ipfs_store.get(cid) for cid in batch.cids] == items
    assert not ipfs_store.has(loose)


def test_batches_are_split_by_count(ipfs_daemon: IpfsDaemon) -> None:
    with IpfsStore(ipfs_daemon.url, max_batch_items=7) as store:
        items = [f"split {i}".encode() for i in range(20)]
        batches = store.pin_many(items)
        assert [len(batch.cids) for batch in batches] == [7, 7, 6]
        assert store.put_many(items) == [cid_of(item) for item in items]
        assert all(store.pinned_in(batch.root, cid) for batch in batches for cid in batch.cids)


def test_batch_size_is_bounded_by_a_basic_directory(ipfs_daemon: IpfsDaemon) -> None:
    with pytest.raises(ValueError, match="max_batch_items"):
        IpfsStore(ipfs_daemon.url, max_batch_items=1001)


def test_absent_content(ipfs_store: IpfsStore) -> None:
    absent = cid_of(b"nobody ever stored this")
    assert not ipfs_store.is_pinned(absent)
    assert not ipfs_store.has(absent)
    started = time.monotonic()
    with pytest.raises(ContentNotFoundError):
        ipfs_store.get(absent)  # js-ipfs would hang without the RPC timeout
    assert time.monotonic() - started < 10


def test_export_car_of_several_roots(ipfs_store: IpfsStore) -> None:
    first, second = pattern(CHUNK_SIZE + 1), b"second"
    cids = ipfs_store.put_many([first, second])
    roots, sections = decode_car(ipfs_store.export_car(cids))
    assert [str(r) for r in roots] == cids
    blocks = list(sections)
    assert {str(c) for c, _ in blocks} == {c for c, _ in dag_blocks(first) + dag_blocks(second)}


def test_privacy_stored_object_is_ciphertext(ipfs_store: IpfsStore, raw_client: Any) -> None:
    plaintext = b'{"messages":[{"content":"my secret","role":"user"}],"model":null,"v":1}'
    content_hash = hashlib.sha256(plaintext).hexdigest()
    master = envelope.generate_master_key()
    sealed, wrapped = envelope.seal(plaintext, master)
    cid = ipfs_store.put(sealed)
    assert cid == cid_of(sealed) != cid_of(plaintext)  # the CID is the ciphertext's
    on_node = bytes(raw_client.cat(cid))
    assert on_node == sealed and b"my secret" not in on_node
    assert hashlib.sha256(plaintext).hexdigest() == content_hash  # contentHash: the plaintext's
    assert envelope.open(ipfs_store.get(cid), wrapped, master) == plaintext
    with pytest.raises(envelope.KeyUnwrapError):
        envelope.open(on_node, wrapped, envelope.generate_master_key())
    del wrapped  # crypto-shredding: the node still holds the envelope, nobody can open it
    _, unrelated = envelope.seal(b"", master)
    with pytest.raises(envelope.DecryptionError):
        envelope.open(on_node, unrelated, master)


def test_corruption_on_the_node_is_caught(ipfs_store: IpfsStore, ipfs_daemon: IpfsDaemon) -> None:
    data = b"a block that will rot on the node's disk " * 10
    cid = ipfs_store.put(data)
    # js-ipfs keeps blocks in flatfs, named by the base32 multihash, upper case.
    key = parse_cid(cid)
    name = base64.b32encode(key.multihash).decode().rstrip("=")
    (path,) = list(Path(ipfs_daemon.repo, "blocks").rglob(f"{name}.data"))
    path.write_bytes(data.replace(b"rot", b"ROT"))
    with pytest.raises(ContentCorruptedError):
        ipfs_store.get(cid)
    with pytest.raises(ContentCorruptedError):
        ipfs_store.get_block(cid)


def test_unreachable_node_is_a_named_error() -> None:
    with IpfsStore(f"http://127.0.0.1:{free_port()}", timeout=2) as store:
        with pytest.raises(StoreUnavailableError):
            store.put(b"x")
        with pytest.raises(StoreUnavailableError):
            store.get(cid_of(b"x"))


def test_unpin(ipfs_store: IpfsStore) -> None:
    cid = ipfs_store.put(b"erased on request: unpinned after its key was shredded")
    assert ipfs_store.is_pinned(cid)
    ipfs_store.unpin(cid)
    assert not ipfs_store.is_pinned(cid)
    ipfs_store.unpin(cid)  # again: not an error


def test_outage_and_restart(ipfs_daemon: IpfsDaemon, ipfs_store: IpfsStore) -> None:
    cid = ipfs_store.put(b"survives a restart")
    ipfs_daemon.stop()
    try:
        with pytest.raises(StoreUnavailableError):
            ipfs_store.get(cid)
    finally:
        ipfs_daemon.start()
    assert ipfs_store.get(cid) == b"survives a restart"
    assert ipfs_store.is_pinned(cid)
