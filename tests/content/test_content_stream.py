"""A file's DAG built while it is read (`stream_file_dag`, `put_file`): the same CID and blocks
as `file_dag` of the whole bytes, whatever the size around the chunk and the link boundaries."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from ledger.content import LocalBlockStore, cid_of, put_file
from ledger.content.cids import RAW, Cid
from ledger.content.unixfs import CHUNK_SIZE, MAX_LINKS, child_links, file_dag, stream_file_dag
from ledger.outbox import OutboxStore

SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 1000,
         MAX_LINKS * CHUNK_SIZE, MAX_LINKS * CHUNK_SIZE + 1]


def _data(size: int) -> bytes:
    # Distinct chunks (a counter hashed), with a run of zeros so that two chunks repeat.
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(counter.to_bytes(8, "big")).digest() * 64
        counter += 1
    data = bytearray(out[:size])
    if size > 4 * CHUNK_SIZE:
        data[CHUNK_SIZE:3 * CHUNK_SIZE] = bytes(2 * CHUNK_SIZE)
    return bytes(data)


class _Trickle(io.RawIOBase):
    """A file whose reads return at most 100,000 bytes (a pipe or a socket does so): the chunks
    must still be cut at 256 KiB."""

    def __init__(self, data: bytes) -> None:
        self._source = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        got = self._source.read(min(len(buffer), 100_000))
        buffer[:len(got)] = got
        return len(got)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("trickle", [False, True], ids=["file", "short reads"])
def test_streamed_dag_is_the_dag_of_the_whole_bytes(size: int, trickle: bool) -> None:
    data = _data(size)
    put: list[tuple[Cid, bytes]] = []
    handle = _Trickle(data) if trickle else io.BytesIO(data)
    root = stream_file_dag(handle, lambda cid, block: put.append((cid, bytes(block))))
    whole = file_dag(data)
    assert str(root) == cid_of(data) == str(whole.root)
    assert dict(put) == dict(whole.blocks)  # every block, repeated ones put again
    for cid, block in put:
        cid.verify(block)  # each view was put while it held its chunk
    seen: set[Cid] = set()
    for cid, block in put:  # children before the nodes that link them
        if cid.codec != RAW:
            assert set(child_links(cid, block)) <= seen
        seen.add(cid)
    assert put[-1][0] == root


@pytest.mark.parametrize("size", [0, CHUNK_SIZE, 3 * CHUNK_SIZE + 1000])
def test_put_file_stores_what_put_stores(tmp_path: Path, size: int) -> None:
    data = _data(size)
    streamed = LocalBlockStore(tmp_path / "streamed", fsync=False)
    whole = LocalBlockStore(tmp_path / "whole", fsync=False)
    with (tmp_path / "file").open("w+b") as handle:
        handle.write(data)
        handle.seek(0)
        cid = put_file(streamed, handle)
    assert cid == whole.put(data)
    assert streamed.get(cid) == data and streamed.has(cid)
    assert sorted(p.name for p in streamed.root.rglob("*.data")) == sorted(p.name for p in whole.root.rglob("*.data"))


def test_the_outbox_store_only_names_a_file(tmp_path: Path) -> None:
    # Intake's store writes nothing on the request path, a file included.
    data = _data(3 * CHUNK_SIZE + 1000)
    cache = LocalBlockStore(tmp_path / "cache", fsync=False)
    outbox = OutboxStore(cache, sessions=None)  # type: ignore[arg-type]  # put_file reads no row
    assert put_file(outbox, io.BytesIO(data)) == cid_of(data)
    assert not list(cache.root.rglob("*.data"))
