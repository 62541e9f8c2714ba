"""The CARv1 reader on damaged archives: it raises `CarFormatError` and nothing else, and never
hands out a block that passes its hash check unless it is a block that was written.

The archives are real ones, built by the project's own encoder from the DAGs Tally stores: a raw
block, a UnixFS file of several chunks, and a batch directory over a few objects (as
`IpfsStore.pin_many` imports it). Each is then damaged the ways a transport or a hostile node
damages bytes: flipped bytes, truncation, inserted and deleted runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.content.car import decode_car, encode_car
from ledger.content.cids import RAW, Cid, cid_for_block, encode_varint
from ledger.content.errors import CarFormatError, ContentCorruptedError
from ledger.content.unixfs import CHUNK_SIZE, directory_node, file_dag

SETTINGS = settings(max_examples=400, deadline=None, database=None)


@dataclass(frozen=True)
class Archive:
    roots: list[Cid]
    blocks: list[tuple[Cid, bytes]]
    car: bytes
    offsets: tuple[int, ...]
    """Where the header and each section start: the bytes a reader interprets, not just copies."""


def _archive(roots: list[Cid], blocks: list[tuple[Cid, bytes]]) -> Archive:
    car = encode_car(roots, blocks)
    offsets, pos = [0], len(encode_car(roots, []))
    for cid, block in blocks:
        offsets.append(pos)
        pos += len(encode_varint(len(cid.binary) + len(block))) + len(cid.binary) + len(block)
    assert pos == len(car)
    return Archive(roots, blocks, car, tuple(offsets))


def _raw_block() -> Archive:
    block = b"a contribution small enough to be its own raw block"
    cid = cid_for_block(RAW, block)
    return _archive([cid], [(cid, block)])


def _chunked_file() -> Archive:
    dag = file_dag(bytes(i % 253 for i in range(3 * CHUNK_SIZE + 5)))
    return _archive([dag.root], dag.blocks)


def _batch_directory() -> Archive:
    dags = [file_dag(data) for data in (b"", b"one", b"two" * 1000, b"three" * 70_000)]
    root, node = directory_node({str(dag.root): (dag.root, dag.tsize) for dag in dags})
    blocks = [(root, node)] + [pair for dag in dags for pair in dag.blocks]
    return _archive([root], blocks)


ARCHIVES = {"raw block": _raw_block(), "chunked file": _chunked_file(), "batch directory": _batch_directory()}


@dataclass(frozen=True)
class Damage:
    kind: str
    where: int  # an index into the archive's interesting positions, or anywhere
    near: bool
    value: bytes


DAMAGE = st.builds(
    Damage,
    kind=st.sampled_from(["flip", "truncate", "insert", "delete"]),
    where=st.integers(0, 2**32),
    near=st.booleans(),
    value=st.binary(min_size=1, max_size=12),
)


def _position(archive: Archive, length: int, damage: Damage) -> int:
    if damage.near:  # within the first 48 bytes of the header or of a section
        start = archive.offsets[damage.where % len(archive.offsets)]
        return min(start + damage.where // len(archive.offsets) % 48, max(length - 1, 0))
    return damage.where % max(length, 1)


def _damaged(archive: Archive, damages: list[Damage]) -> bytes:
    car = bytearray(archive.car)
    for damage in damages:
        pos = _position(archive, len(car), damage)
        if damage.kind == "flip" and car:
            car[pos] ^= damage.value[0] or 0xFF
        elif damage.kind == "truncate":
            del car[pos:]
        elif damage.kind == "insert":
            car[pos:pos] = damage.value
        else:
            del car[pos : pos + len(damage.value)]
    return bytes(car)


def _decoded(car: bytes) -> tuple[list[Cid], list[tuple[Cid, bytes]]] | None:
    """The roots and every section, or None for a `CarFormatError` (any other error fails)."""
    try:
        roots, sections = decode_car(car)
        return roots, list(sections)
    except CarFormatError:
        return None


@pytest.mark.parametrize("name", ARCHIVES)
def test_an_intact_archive_decodes_to_what_was_written(name: str) -> None:
    archive = ARCHIVES[name]
    assert _decoded(archive.car) == (archive.roots, archive.blocks)


@pytest.mark.parametrize("name", ARCHIVES)
@SETTINGS
@given(damages=st.lists(DAMAGE, min_size=1, max_size=3))
def test_a_damaged_archive_is_refused_or_yields_only_true_blocks(name: str, damages: list[Damage]) -> None:
    archive = ARCHIVES[name]
    decoded = _decoded(_damaged(archive, damages))
    if decoded is None:
        return
    written = {cid.digest: block for cid, block in archive.blocks}
    for cid, block in decoded[1]:
        try:
            cid.verify(block)
        except ContentCorruptedError:
            continue  # the stores refuse it before use
        assert written.get(cid.digest) == block


def test_a_header_that_is_not_utf8_is_a_car_format_error() -> None:
    car = bytearray(_raw_block().car)
    car[3] = 0xFF  # inside the text "roots"
    with pytest.raises(CarFormatError, match="UTF-8"):
        decode_car(bytes(car))


@pytest.mark.parametrize(
    "header",
    [
        b"\x81" * 5000,  # arrays nested without end: no RecursionError
        b"\xd8\x2a" * 5000,  # tag 42 over tag 42 over ...
        b"\xa2eroots\x80gversion\x01\x00",  # a valid header followed by a stray byte
        b"\xa1gversion\x02",  # CARv2's version, or any other
        b"\xa2eroots\x81\x01gversion\x01",  # a root that is not a CID
        b"\xa2eroots\x81\xd8\x2a\x42\x00\x01gversion\x01",  # a CID of one byte
        b"\xa2eroots\x80gversion\x1f",  # indefinite length
    ],
)
def test_headers_that_are_not_carv1_are_refused(header: bytes) -> None:
    with pytest.raises(CarFormatError):
        decode_car(encode_varint(len(header)) + header)


def test_sections_shorter_than_their_cid_are_refused() -> None:
    archive = _raw_block()
    header = archive.car[: archive.offsets[1]]
    for section in (b"\x01\x55\x12\x20" + b"\x00" * 10, b"\x12\x20\x00", b"\x01\x55\x12\xff\xff\xff\xff\x0f"):
        _, sections = decode_car(header + encode_varint(len(section)) + section)
        with pytest.raises(CarFormatError):
            list(sections)
