"""CBOR heads (RFC 8949 §3), the one piece of CBOR that Tally writes and reads by hand.

Every CBOR data item starts with a head: a major type (the top 3 bits of the first byte) and an
argument, either the low 5 bits (below 24) or the 1, 2, 4 or 8 big-endian bytes that follow
(additional information 24 to 27, §3.1). The argument is a length, a count, a tag number or the
value itself. Indefinite lengths (31) do not occur in dag-cbor (CARv1 headers) nor in solc's
metadata trailer, so they are refused, as are the reserved values 28 to 30.
"""

from __future__ import annotations

from ledger.content.errors import CborError

UINT, BYTES, TEXT, ARRAY, MAP, TAG, SIMPLE = 0, 2, 3, 4, 5, 6, 7
"""Major types (RFC 8949 §3.1)."""


def encode_head(major: int, argument: int) -> bytes:
    """The shortest head for ``argument`` (dag-cbor's canonical form)."""
    if argument < 24:
        return bytes([major << 5 | argument])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if argument < 1 << (8 * size):
            return bytes([major << 5 | info]) + argument.to_bytes(size, "big")
    raise ValueError("CBOR argument too large")


def decode_head(buf: bytes, pos: int) -> tuple[int, int, int]:
    """The major type and argument of the head at ``buf[pos:]``, and the position after it;
    `CborError` if it is truncated or has an indefinite or reserved length."""
    if pos >= len(buf):
        raise CborError("truncated CBOR")
    major, info = buf[pos] >> 5, buf[pos] & 0x1F
    if info < 24:
        return major, info, pos + 1
    if info > 27:
        raise CborError(f"CBOR head {buf[pos]:#04x}: indefinite or reserved length")
    end = pos + 1 + (1 << (info - 24))
    if end > len(buf):
        raise CborError("truncated CBOR")
    return major, int.from_bytes(buf[pos + 1 : end], "big"), end
