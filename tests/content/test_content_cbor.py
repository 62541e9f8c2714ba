"""CBOR heads (RFC 8949 §3): the shortest form is written, every form is read back, and a head
that is cut short or has an indefinite or reserved length is a `CborError`."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.content import cbor
from ledger.content.errors import CborError


@pytest.mark.parametrize(
    ("major", "argument", "encoded"),
    [
        (cbor.UINT, 23, b"\x17"),
        (cbor.UINT, 24, b"\x18\x18"),
        (cbor.BYTES, 255, b"\x58\xff"),
        (cbor.TEXT, 256, b"\x79\x01\x00"),
        (cbor.ARRAY, 65_536, b"\x9a\x00\x01\x00\x00"),
        (cbor.MAP, 2**32, b"\xbb\x00\x00\x00\x01\x00\x00\x00\x00"),
        (cbor.TAG, 42, b"\xd8\x2a"),  # the CID tag of dag-cbor
    ],
)
def test_heads_are_written_in_their_shortest_form(major: int, argument: int, encoded: bytes) -> None:
    assert cbor.encode_head(major, argument) == encoded
    assert cbor.decode_head(b"\x00" + encoded + b"rest", 1) == (major, argument, 1 + len(encoded))


@settings(max_examples=200, deadline=None, database=None)
@given(major=st.integers(0, 7), argument=st.integers(0, 2**64 - 1))
def test_every_head_reads_back(major: int, argument: int) -> None:
    encoded = cbor.encode_head(major, argument)
    assert cbor.decode_head(encoded, 0) == (major, argument, len(encoded))
    for cut in range(len(encoded)):
        with pytest.raises(CborError, match="truncated"):
            cbor.decode_head(encoded[:cut], 0)


def test_a_non_minimal_head_still_reads() -> None:
    # Not canonical dag-cbor, but solc's trailer and other writers may use it: read, never written.
    assert cbor.decode_head(b"\x19\x00\x01", 0) == (cbor.UINT, 1, 3)


@pytest.mark.parametrize("initial", [0x1C, 0x1D, 0x1E, 0x1F, 0x5F, 0x9F, 0xBF, 0xFF])
def test_indefinite_and_reserved_lengths_are_refused(initial: int) -> None:
    with pytest.raises(CborError):
        cbor.decode_head(bytes([initial]) + bytes(8), 0)


def test_an_argument_past_64_bits_is_not_written() -> None:
    with pytest.raises(ValueError):
        cbor.encode_head(cbor.UINT, 2**64)
