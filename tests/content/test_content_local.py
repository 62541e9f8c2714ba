"""`LocalBlockStore`: the embedded default store; every read is verified, writes are atomic."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.content import (
    ContentCorruptedError,
    ContentNotFoundError,
    ContentStore,
    InvalidCidError,
    LocalBlockStore,
    cid_of,
    parse_cid,
)
from ledger.content.car import decode_car
from ledger.content.unixfs import CHUNK_SIZE, file_dag

BIG = bytes(i % 251 for i in range(3 * CHUNK_SIZE + 1000))  # a root and four leaves


@pytest.fixture
def store(tmp_path: Path) -> LocalBlockStore:
    return LocalBlockStore(tmp_path / "blocks", fsync=False)


def _block_files(store: LocalBlockStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file())


def test_is_a_content_store(store: LocalBlockStore) -> None:
    assert isinstance(store, ContentStore)


@pytest.mark.parametrize(
    "data", [b"", b"one small conversation", BIG], ids=["empty", "small", "dag"]
)
def test_put_get_has(store: LocalBlockStore, data: bytes) -> None:
    cid = store.put(data)
    assert cid == cid_of(data)
    assert store.get(cid) == data
    assert store.has(cid)
    assert store.put(data) == cid  # idempotent
    assert len(_block_files(store)) == len(file_dag(data).blocks)


def test_writes_are_durable_and_leave_no_temporary_files(tmp_path: Path) -> None:
    store = LocalBlockStore(tmp_path / "blocks")  # fsync on, the production setting
    cid = store.put(BIG)
    assert not [p for p in store.root.rglob(".tmp-*")]
    assert LocalBlockStore(tmp_path / "blocks").get(cid) == BIG  # a new instance reads it


def test_missing_content(store: LocalBlockStore) -> None:
    absent = cid_of(b"never stored")
    assert not store.has(absent)
    with pytest.raises(ContentNotFoundError):
        store.get(absent)
    with pytest.raises(InvalidCidError):
        store.get("not-a-cid")


def test_corrupted_single_block_is_not_served(store: LocalBlockStore) -> None:
    cid = store.put(b"the original conversation")
    (path,) = _block_files(store)
    path.write_bytes(b"the tampered conversation")
    with pytest.raises(ContentCorruptedError):
        store.get(cid)
    with pytest.raises(ContentCorruptedError):
        store.get_block(cid)
    assert store.put(b"the original conversation") == cid  # a put repairs the damaged copy
    assert store.get(cid) == b"the original conversation"


def test_corrupted_leaf_of_a_dag_is_detected(store: LocalBlockStore) -> None:
    cid = store.put(BIG)
    leaf_cid = file_dag(BIG).blocks[2][0]
    leaf = store._path(leaf_cid)
    damaged = bytearray(leaf.read_bytes())
    damaged[100] ^= 0x01  # one flipped bit
    leaf.write_bytes(bytes(damaged))
    with pytest.raises(ContentCorruptedError) as caught:
        store.get(cid)
    assert caught.value.cid == str(leaf_cid)


def test_missing_leaf_means_not_has(store: LocalBlockStore) -> None:
    cid = store.put(BIG)
    store._path(file_dag(BIG).blocks[-1][0]).unlink()
    assert not store.has(cid)
    with pytest.raises(ContentNotFoundError):
        store.get(cid)


def test_reads_cidv0_content(store: LocalBlockStore) -> None:
    # Content added elsewhere with `ipfs add` defaults (CIDv0, dag-pb leaves) is readable too.
    dag = file_dag(BIG, cid_version=0, raw_leaves=False)
    for cid, block in dag.blocks:
        store.put_block(cid, block)
    assert str(dag.root).startswith("Qm")
    assert store.get(str(dag.root)) == BIG


def test_put_block_refuses_a_wrong_block(store: LocalBlockStore) -> None:
    with pytest.raises(ContentCorruptedError):
        store.put_block(parse_cid(cid_of(b"a")), b"b")


def test_export_car_holds_every_block_once(store: LocalBlockStore, tmp_path: Path) -> None:
    cids = store.put_many([BIG, b"small", BIG])
    car = store.export_car(cids[:2])
    roots, sections = decode_car(car)
    assert [str(r) for r in roots] == cids[:2]
    other = LocalBlockStore(tmp_path / "other", fsync=False)
    blocks = list(sections)
    assert len(blocks) == len(file_dag(BIG).blocks) + 1
    for cid, block in blocks:
        other.put_block(cid, block)
    assert other.get(cids[0]) == BIG and other.get(cids[1]) == b"small"
