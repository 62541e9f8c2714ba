"""`cid_of`, the UnixFS/dag-pb encoding and CARv1, without a daemon: known answers of Kubo and
js-ipfs (notes/TOOLCHAIN.md) and the structure of the balanced layout."""

from __future__ import annotations

import hashlib

import pytest

from ledger.content import (
    CarFormatError,
    InvalidCidError,
    UnsupportedCidError,
    cid_of,
    dag_blocks,
    parse_cid,
)
from ledger.content.car import decode_car, encode_car
from ledger.content.cids import DAG_PB, RAW, Cid, parse_link
from ledger.content.unixfs import (
    CHUNK_SIZE,
    MAX_DIRECTORY_ENTRIES,
    MAX_LINKS,
    UNIXFS_DIRECTORY,
    UNIXFS_FILE,
    PBLink,
    UnixFSData,
    decode_pbnode,
    decode_unixfs,
    directory_node,
    encode_pbnode,
    encode_unixfs,
    file_cid,
    file_dag,
    read_file,
)

MIB_PATTERN = bytes(i % 251 for i in range(1_048_576))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"hello world\n", "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"),
        (b"hello world", "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"),
        (b"", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"),
        (MIB_PATTERN, "bafybeiedpcapwld4tkgtzwahfofgn4wex5ryysf4se6hwpmlrsh4ntnrau"),
    ],
    ids=["hello-world-nl", "hello-world", "empty", "1MiB-pattern"],
)
def test_cid_of_known_answers(data: bytes, expected: str) -> None:
    assert cid_of(data) == expected


def test_cidv0_known_answers() -> None:
    # `ipfs add` defaults (CIDv0, dag-pb leaves): answers of Kubo 0.22 and js-ipfs.
    assert str(file_cid(MIB_PATTERN, cid_version=0, raw_leaves=False)) == (
        "QmXgkY4miMKJBrg8YYke4xw6C2n8WNsUc1GXLhN84k4QM3"
    )
    assert str(file_cid(b"", cid_version=0, raw_leaves=False)) == (
        "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
    )


def test_single_block_boundary() -> None:
    assert cid_of(b"x" * CHUNK_SIZE).startswith("bafk")
    above = cid_of(b"x" * (CHUNK_SIZE + 1))
    assert above.startswith("bafy")
    assert parse_cid(above).codec == DAG_PB


def test_raw_block_cid_is_sha256_of_the_bytes() -> None:
    data = b"tally" * 1000
    cid = parse_cid(cid_of(data))
    assert (cid.version, cid.codec, cid.digest) == (1, RAW, hashlib.sha256(data).digest())


def test_dag_blocks_root_first_and_complete() -> None:
    blocks = dag_blocks(MIB_PATTERN)
    assert blocks[0][0] == cid_of(MIB_PATTERN)
    assert len(blocks) == 1 + 4  # root + four 256 KiB raw leaves
    assert b"".join(block for _, block in blocks[1:]) == MIB_PATTERN
    for cid, block in blocks:
        parse_cid(cid).verify(block)


def test_identical_chunks_are_one_block() -> None:
    data = bytes(3 * CHUNK_SIZE)  # three identical all-zero leaves
    dag = file_dag(data)
    assert len(dag.blocks) == 2
    assert len(decode_pbnode(dag.blocks[0][1]).links) == 3


def test_root_node_encoding_matches_unixfs() -> None:
    dag = file_dag(MIB_PATTERN)
    node = decode_pbnode(dag.blocks[0][1])
    meta = decode_unixfs(node.data or b"")
    assert meta == UnixFSData(UNIXFS_FILE, None, len(MIB_PATTERN), (CHUNK_SIZE,) * 4)
    assert all(link.name == "" and link.tsize == CHUNK_SIZE for link in node.links)
    # Re-encoding gives the same bytes: our encoder is canonical.
    assert encode_pbnode(node.links, node.data) == dag.blocks[0][1]


def _depth_and_fanout(data: bytes) -> tuple[int, list[int]]:
    blocks = {cid.digest: block for cid, block in file_dag(data).blocks}
    root = file_cid(data)
    depth, fanouts, current = 0, [], root
    while current.codec == DAG_PB:
        links = decode_pbnode(blocks[current.digest]).links
        fanouts.append(len(links))
        current = links[0].cid
        depth += 1
    return depth, fanouts


def test_balanced_layout_174_links_then_new_level() -> None:
    # 174 chunks fit under one node; the 175th needs a second level whose root has two children
    # (a full node of 174 and a node over the single last leaf), as Kubo's balanced builder does.
    # Distinct chunks so that no block is deduplicated.
    def chunks(n: int) -> bytes:
        return b"".join(i.to_bytes(4, "big") * (CHUNK_SIZE // 4) for i in range(n))

    assert _depth_and_fanout(chunks(MAX_LINKS)) == (1, [MAX_LINKS])
    assert _depth_and_fanout(chunks(MAX_LINKS + 1)) == (2, [2, MAX_LINKS])
    dag = file_dag(chunks(MAX_LINKS + 1))
    root = decode_pbnode(dag.blocks[0][1])
    last = {cid.digest: block for cid, block in dag.blocks}[root.links[1].cid.digest]
    assert len(decode_pbnode(last).links) == 1


def test_tsize_is_cumulative() -> None:
    data = MIB_PATTERN * 50  # 200 leaves: two levels
    dag = file_dag(data)
    by_digest = {cid.digest: block for cid, block in dag.blocks}

    def tsize(cid: Cid) -> int:
        block = by_digest[cid.digest]
        if cid.codec == RAW:
            return len(block)
        return len(block) + sum(tsize(link.cid) for link in decode_pbnode(block).links)

    root = decode_pbnode(dag.blocks[0][1])
    for link in root.links:
        assert link.tsize == tsize(link.cid)
    assert dag.tsize == tsize(dag.root)


def _directory_of(objects: list[bytes]) -> Cid:
    dags = [file_dag(data) for data in objects]
    return directory_node({str(dag.root): (dag.root, dag.tsize) for dag in dags})[0]


def test_directory_known_answer() -> None:
    # js-ipfs 0.66 `add --wrap-with-directory --cid-version=1 --raw-leaves` of these five files,
    # each named by its own CID (tests/content/test_content_ipfs.py checks it live).
    objects = [b"", b"one", b"two" * 1000, MIB_PATTERN[:CHUNK_SIZE + 1], MIB_PATTERN[:3 * CHUNK_SIZE + 5]]
    assert str(_directory_of(objects)) == "bafybeibxix72yeyffvx3hbibfch2lxp5hruqat5ayo7vdub4rui6ezqq6i"
    assert _directory_of(list(reversed(objects))) == _directory_of(objects)  # order-free


def test_directory_node_structure() -> None:
    a, b = file_cid(b"a"), file_cid(b"bb")
    cid, block = directory_node({"\u00e9": (b, 2), "z": (a, 1), "Z": (a, 1)})
    assert cid.codec == DAG_PB and cid.version == 1
    node = decode_pbnode(block)
    assert [link.name for link in node.links] == ["Z", "z", "\u00e9"]  # by UTF-8 bytes
    assert [link.tsize for link in node.links] == [1, 1, 2]
    assert node.data is not None and decode_unixfs(node.data).type == UNIXFS_DIRECTORY
    assert node.data == encode_unixfs(UnixFSData(UNIXFS_DIRECTORY))  # no mode, no mtime


@pytest.mark.parametrize("name", ["", ".", "..", "a/b"])
def test_directory_refuses_bad_names(name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        directory_node({name: (file_cid(b"x"), 1)})


def test_directory_refuses_more_than_a_basic_directory_holds() -> None:
    cid = file_cid(b"x")
    directory_node({str(i): (cid, 1) for i in range(MAX_DIRECTORY_ENTRIES)})
    with pytest.raises(ValueError, match="at most"):
        directory_node({str(i): (cid, 1) for i in range(MAX_DIRECTORY_ENTRIES + 1)})


def test_read_file_round_trip_v1_and_v0() -> None:
    for kwargs in ({}, {"cid_version": 0, "raw_leaves": False}):
        data = MIB_PATTERN + b"tail"
        dag = file_dag(data, **kwargs)  # type: ignore[arg-type]
        store = {cid.digest: block for cid, block in dag.blocks}

        def fetch(cid: Cid, store: dict[bytes, bytes] = store) -> bytes:
            return store[cid.digest]

        assert read_file(dag.root, fetch) == data


def test_parse_cid_forms() -> None:
    v1 = parse_cid("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4")
    # js-ipfs answers base58btc CIDv1 unless asked for base32: the same CID.
    assert parse_cid("zb2rhi36Gc9GJWijLEL6zW45MBux5FcFv5gJmjXA7VAMozEXY") == v1
    v0 = parse_cid("QmXgkY4miMKJBrg8YYke4xw6C2n8WNsUc1GXLhN84k4QM3")
    assert (v0.version, v0.codec) == (0, DAG_PB)
    assert str(v0) == "QmXgkY4miMKJBrg8YYke4xw6C2n8WNsUc1GXLhN84k4QM3"
    assert parse_link(v0.binary) == v0 and parse_link(v1.binary) == v1
    with pytest.raises(InvalidCidError):
        parse_cid("not a cid")
    # identity multihash: well-formed, but not a hash we can verify
    with pytest.raises(UnsupportedCidError):
        parse_cid("bafkqaaa")


def test_pb_and_unixfs_encoders_exact_bytes() -> None:
    # UnixFS {Type: File, filesize: 0}: the Data of the empty CIDv0 file (QmbFMke1...).
    assert encode_unixfs(UnixFSData(UNIXFS_FILE, None, 0)) == bytes.fromhex("08021800")
    link = PBLink(parse_cid("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"), 0)
    encoded = encode_pbnode([link], b"\x08\x02")
    # Links (field 2) first with Hash, an EMPTY but present Name, Tsize; then Data (field 1).
    assert encoded == (
        b"\x12\x2a" + b"\x0a\x24" + link.cid.binary + b"\x12\x00" + b"\x18\x00"
        + b"\x0a\x02\x08\x02"
    )
    assert decode_pbnode(encoded).links == (link,)


def test_car_round_trip_and_errors() -> None:
    dag = file_dag(MIB_PATTERN)
    car = encode_car([dag.root], dag.blocks)
    roots, sections = decode_car(car)
    assert roots == [dag.root]
    assert list(sections) == dag.blocks
    with pytest.raises(CarFormatError):
        decode_car(b"\x05nope!")
    roots, sections = decode_car(car[:-10])
    with pytest.raises(CarFormatError):
        list(sections)
