"""CIDs: parsing (CIDv0 and CIDv1, any multibase), canonical text, and block verification.

Implements the CID spec (https://github.com/multiformats/cid): CIDv0 is a bare base58btc sha2-256
multihash of a dag-pb block (`Qm...`); CIDv1 is `<multibase prefix><varint 1><varint codec>
<multihash>`. We write CIDv1 in base32 (lower case, no padding, prefix `b`), as Kubo prints it with
`--cid-version=1`. Writing, and parsing the three forms nodes print (CIDv0 `Qm...`, CIDv1 base32
`b...` and base58btc `z...`), are done here by hand: a few bytes, on the hot paths of `cid_of` and
of batch answers. Every other multibase is left to the `multiformats` package.

The unsigned varint of multiformats (https://github.com/multiformats/unsigned-varint), which is
also protobuf's and CARv1's, is written and read here for the whole package (`encode_varint`,
`decode_varint`), and so is base58btc (`base58btc`).

Only sha2-256 multihashes are accepted: it is what Kubo and js-ipfs use by default, and a store
that cannot re-hash a block cannot verify it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from multiformats import CID

from ledger.content.errors import (
    ContentCorruptedError,
    InvalidCidError,
    UnsupportedCidError,
    VarintError,
)

# Multicodec table codes (https://github.com/multiformats/multicodec/blob/master/table.csv).
RAW = 0x55
DAG_PB = 0x70
DAG_CBOR = 0x71
DAG_JSON = 0x0129
SHA2_256 = 0x12
SHA2_256_LEN = 32

#: Codecs whose blocks we may hold; only raw and dag-pb are interpreted as UnixFS file DAGs.
KNOWN_CODECS = frozenset({RAW, DAG_PB, DAG_CBOR, DAG_JSON})
_CODEC_NAMES = {"raw": RAW, "dag-pb": DAG_PB, "dag-cbor": DAG_CBOR, "dag-json": DAG_JSON}
_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {char: i for i, char in enumerate(_B58_ALPHABET)}


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128, as used by multiformats (unsigned-varint), protobuf and CARv1."""
    if value < 0:
        raise ValueError("varint of a negative number")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(buf: bytes, pos: int = 0) -> tuple[int, int]:
    """The unsigned LEB128 at ``buf[pos:]`` and the position after it; `VarintError` if it is
    truncated or longer than 64 bits (protobuf's ten bytes)."""
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise VarintError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise VarintError("varint longer than 64 bits")


@dataclass(frozen=True, slots=True)
class Cid:
    """A parsed CID restricted to sha2-256, the only hash we verify.

    `digest` is the raw 32-byte sha2-256 digest; `binary` the CID's binary form (for CIDv0, the
    bare multihash, which is also how dag-pb links carry a CIDv0).
    """

    version: int
    codec: int
    digest: bytes

    @property
    def multihash(self) -> bytes:
        return bytes((SHA2_256, SHA2_256_LEN)) + self.digest

    @property
    def binary(self) -> bytes:
        if self.version == 0:
            return self.multihash
        return b"\x01" + encode_varint(self.codec) + self.multihash

    def __str__(self) -> str:
        """Canonical text: base58btc for CIDv0 (it has no other form), base32 for CIDv1."""
        if self.version == 0:
            return base58btc(self.multihash)
        return "b" + base64.b32encode(self.binary).decode("ascii").lower().rstrip("=")

    def to_v1(self) -> Cid:
        """The CIDv1 naming the same block (CIDv0 is always dag-pb)."""
        return Cid(1, self.codec, self.digest)

    def verify(self, block: bytes | memoryview) -> None:
        """Raise `ContentCorruptedError` unless `block` hashes to this CID's digest."""
        if hashlib.sha256(block).digest() != self.digest:
            raise ContentCorruptedError(str(self), "block does not hash to its CID")


def cid_for_block(codec: int, block: bytes) -> Cid:
    """The CIDv1 (sha2-256) of a block of the given codec."""
    return Cid(1, codec, hashlib.sha256(block).digest())


def cid_v0_for_block(block: bytes) -> Cid:
    """The CIDv0 of a dag-pb block (what `ipfs add` prints without `--cid-version=1`)."""
    return Cid(0, DAG_PB, hashlib.sha256(block).digest())


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + _B58_INDEX[char]  # KeyError: not base58btc
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


def base58btc(data: bytes) -> str:
    """Bitcoin's base58 (the multibase ``z`` body, and the whole text of a CIDv0): leading zero
    bytes become ``1``s."""
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, digit = divmod(number, 58)
        out.append(_B58_ALPHABET[digit])
    return "1" * (len(data) - len(data.lstrip(b"\x00"))) + "".join(reversed(out))


def _fast_binary(text: str) -> bytes | None:
    """The binary CID of the three text forms nodes actually print (CIDv0 `Qm...`, CIDv1
    base32 `b...`, CIDv1 base58btc `z...`), or None to defer to `multiformats`, which is
    ~1 ms per CID (runtime type validation): too slow for a batch of a thousand answers."""
    try:
        if len(text) == 46 and text.startswith("Qm"):
            return _b58decode(text)
        if text.startswith("b") and text[1:].islower():
            body = text[1:].upper()
            return base64.b32decode(body + "=" * (-len(body) % 8))
        if text.startswith("z"):
            return _b58decode(text[1:])
    except (KeyError, ValueError):
        return None
    return None


def parse_cid(value: str | bytes | Cid) -> Cid:
    """Parse a CID given as text (any multibase, or CIDv0 base58btc) or in binary form.

    Raises `InvalidCidError` for anything that is not a CID and `UnsupportedCidError` for CIDs
    with a hash function or codec we cannot verify.
    """
    if isinstance(value, Cid):
        return value
    if isinstance(value, str):
        binary = _fast_binary(value.strip())
        if binary is not None:
            try:
                return parse_link(binary)
            except UnsupportedCidError:
                raise
            except InvalidCidError:
                pass  # let multiformats give the precise reason
    try:
        parsed = CID.decode(value.strip() if isinstance(value, str) else value)
    except Exception as exc:  # multiformats raises several unrelated types for bad input
        raise InvalidCidError(f"not a CID: {value!r}: {exc}") from exc
    codec = _CODEC_NAMES.get(parsed.codec.name)
    if codec is None:
        raise UnsupportedCidError(f"unsupported codec {parsed.codec.name!r} in {value!r}")
    if parsed.hashfun.name != "sha2-256" or len(parsed.raw_digest) != SHA2_256_LEN:
        raise UnsupportedCidError(f"unsupported multihash {parsed.hashfun.name!r} in {value!r}")
    return Cid(int(parsed.version), codec, bytes(parsed.raw_digest))


def parse_link(binary: bytes) -> Cid:
    """Parse a binary CID as found in a dag-pb link's `Hash` field (CIDv0 or CIDv1).

    Done by hand because it runs once per link when reading a DAG, and the accepted forms are
    narrow: `0x12 0x20 <32 bytes>` (CIDv0) or `0x01 <codec varint> 0x12 0x20 <32 bytes>`.
    """
    if len(binary) == 34 and binary[0] == SHA2_256 and binary[1] == SHA2_256_LEN:
        return Cid(0, DAG_PB, binary[2:])
    if not binary or binary[0] != 0x01:
        raise InvalidCidError(f"not a binary CID: {binary.hex()}")
    try:
        codec, pos = decode_varint(binary, 1)
    except VarintError as exc:
        raise InvalidCidError(f"bad codec in binary CID {binary.hex()}: {exc}") from None
    rest = binary[pos:]
    if len(rest) != 34 or rest[0] != SHA2_256 or rest[1] != SHA2_256_LEN:
        raise UnsupportedCidError(f"unsupported multihash in binary CID {binary.hex()}")
    if codec not in KNOWN_CODECS:
        raise UnsupportedCidError(f"unsupported codec 0x{codec:x} in binary CID")
    return Cid(1, codec, rest[2:])
