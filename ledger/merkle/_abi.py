"""Solidity ABI encoding (``abi.encode``) of elementary values, by hand.

``eth_abi.encode`` validates and dispatches per value and is ~40x slower than building the
32-byte words directly (12.2 s vs 0.3 s for a million ``(address, uint256)`` leaves; see
``bench/README-merkle.md``, "Where the time goes"), which matters for a balances tree with
millions of accounts. The input forms accepted are those of ``@metamask/abi-utils`` (which
``@openzeppelin/merkle-tree`` encodes with), so that a value list the JS library accepts hashes
to the same leaf here:

* ``uintN``/``intN``: an ``int``, a decimal string or a ``0x`` hex string (not ``bool``);
* ``address``: a ``0x`` hex string or bytes of at most 20 bytes (left-padded);
* ``bool``: ``True``/``False`` or the strings ``"true"``/``"false"``;
* ``bytesN``: a ``0x`` hex string or bytes of at most N bytes (right-padded);
* ``bytes``/``string`` (dynamic): ``0x`` hex or bytes / a ``str``.

Arrays and tuples are not supported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from tiny_keccak import keccak256

from ledger.encoding import hex0x
from ledger.errors import InvalidInputError

from .errors import MerkleError

Word = Callable[[Any], bytes]

_ZERO12 = bytes(12)
_UINT_RE = re.compile(r"uint([0-9]*)")
_INT_RE = re.compile(r"int([0-9]*)")
_BYTES_RE = re.compile(r"bytes([0-9]{1,2})")
_DEC_RE = re.compile(r"-?[0-9]+")
_HEX_RE = re.compile(r"0[xX][0-9a-fA-F]*")
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")


class AbiError(MerkleError, InvalidInputError, ValueError):
    """A value does not fit the ABI type it is encoded as."""


def hex_bytes(value: str) -> bytes:
    if not _HEX_RE.fullmatch(value):
        raise AbiError(f"expected a 0x-prefixed hex string, got {value!r}")
    digits = value[2:]
    # Odd lengths are left-padded with one zero, as @metamask/utils' hexToBytes does.
    return bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits)


def parse_int(value: Any) -> int:
    """An integer from an ``int``, a decimal string or a ``0x`` hex string."""
    if isinstance(value, bool):
        raise AbiError("a bool is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if _DEC_RE.fullmatch(value):
            return int(value, 10)
        if _HEX_RE.fullmatch(value) and len(value) > 2:
            return int(value[2:], 16)
    raise AbiError(f"expected an integer, a decimal string or a 0x hex string, got {value!r}")


def uint_word(value: Any, bits: int = 256) -> bytes:
    n = parse_int(value)
    if not 0 <= n < 1 << bits:
        raise AbiError(f"{n} is out of range for uint{bits}")
    return n.to_bytes(32, "big")


def int_word(value: Any, bits: int = 256) -> bytes:
    n = parse_int(value)
    if not -(1 << (bits - 1)) <= n < 1 << (bits - 1):
        raise AbiError(f"{n} is out of range for int{bits}")
    return n.to_bytes(32, "big", signed=True)


def _eip55(hex40: str) -> str:
    lower = hex40.lower()
    digest = keccak256(lower.encode("ascii")).hex()
    return "".join(c.upper() if int(d, 16) >= 8 else c for c, d in zip(lower, digest[:40], strict=True))


def parse_address(value: Any, *, strict: bool = False) -> bytes:
    """The 20 bytes of an address.

    ``strict`` (the ledger's own inputs) requires exactly ``0x`` + 40 hex digits or 20 bytes, and a
    valid EIP-55 checksum when the letters are mixed case, since a bad checksum means a typo.
    Otherwise any hex string or bytes of at most 20 bytes is left-padded, like abi-utils.
    """
    if isinstance(value, str):
        if strict:
            if not _ADDRESS_RE.fullmatch(value):
                raise AbiError(f"expected 0x and 40 hex digits for an address, got {value!r}")
            digits = value[2:]
            if digits != digits.lower() and digits != digits.upper() and _eip55(digits) != digits:
                raise AbiError(f"address {value} has an invalid EIP-55 checksum")
        raw = hex_bytes(value)
    elif isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        if strict and len(raw) != 20:
            raise AbiError(f"an address is 20 bytes, got {len(raw)}")
    else:
        raise AbiError(f"expected an address, got {value!r}")
    if len(raw) > 20:
        raise AbiError(f"an address is at most 20 bytes, got {len(raw)}")
    return raw.rjust(20, b"\x00")


def address_word(address20: bytes) -> bytes:
    return _ZERO12 + address20


def _address_word_any(value: Any) -> bytes:
    # The hot path of balances trees: a well-formed 0x address string, converted in one step.
    if type(value) is str and len(value) == 42 and value[1] in "xX" and value[0] == "0":
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raw = b""
        # fromhex skips whitespace, so a 42-character string may still not be 20 bytes.
        if len(raw) == 20:
            return _ZERO12 + raw
    return _ZERO12 + parse_address(value)


def _raw_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return hex_bytes(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise AbiError(f"expected bytes or a 0x hex string, got {value!r}")


def fixed_bytes_word(value: Any, size: int) -> bytes:
    raw = _raw_bytes(value)
    if len(raw) > size:
        raise AbiError(f"bytes{size} holds at most {size} bytes, got {len(raw)}")
    return raw.ljust(32, b"\x00")


def bytes32_word(value: Any) -> bytes:
    """Exactly 32 bytes (no padding): the ledger's own hashes must not be silently extended."""
    raw = _raw_bytes(value)
    if len(raw) != 32:
        raise AbiError(f"expected 32 bytes, got {len(raw)}")
    return raw


def bool_word(value: Any) -> bytes:
    if value is True or value == "true":
        return (1).to_bytes(32, "big")
    if value is False or value == "false":
        return bytes(32)
    raise AbiError(f'expected a bool or "true"/"false", got {value!r}')


def _dynamic_tail(raw: bytes) -> bytes:
    return len(raw).to_bytes(32, "big") + raw + bytes(-len(raw) % 32)


def _bits(match: re.Match[str], type_: str) -> int:
    bits = int(match.group(1) or 256)
    if not (8 <= bits <= 256 and bits % 8 == 0):
        raise AbiError(f"invalid ABI type {type_!r}")
    return bits


def _word_encoder(type_: str) -> Word | None:
    """The encoder of one static type, or ``None`` for a dynamic one."""
    if type_ == "address":
        return _address_word_any
    if type_ == "bool":
        return bool_word
    if m := _UINT_RE.fullmatch(type_):
        bits = _bits(m, type_)
        if bits == 256:
            return _uint256_word
        return lambda v: uint_word(v, bits)
    if m := _INT_RE.fullmatch(type_):
        bits = _bits(m, type_)
        return lambda v: int_word(v, bits)
    if m := _BYTES_RE.fullmatch(type_):
        size = int(m.group(1))
        if not 1 <= size <= 32:
            raise AbiError(f"invalid ABI type {type_!r}")
        return lambda v: fixed_bytes_word(v, size)
    if type_ in ("bytes", "string"):
        return None
    raise AbiError(f"unsupported ABI type {type_!r} (supported: uintN, intN, address, bool, bytesN, bytes, string)")


_UINT256_LIMIT = 1 << 256


def _uint256_word(value: Any) -> bytes:
    if type(value) is int and 0 <= value < _UINT256_LIMIT:
        return value.to_bytes(32, "big")
    return uint_word(value, 256)


def _dynamic_raw(type_: str, value: Any) -> bytes:
    if type_ == "string":
        if not isinstance(value, str):
            raise AbiError(f"expected a str for string, got {value!r}")
        return value.encode("utf-8")
    return _raw_bytes(value)


def encoder(types: Sequence[str]) -> Callable[[Sequence[Any]], bytes]:
    """A function computing ``abi.encode(types..., values...)`` for one list of values."""
    types = tuple(types)
    words = [_word_encoder(t) for t in types]
    count = len(types)

    if all(w is not None for w in words):
        static = [w for w in words if w is not None]
        if count == 2:
            # The balances tree's shape; unrolled because this runs once per account.
            w0, w1 = static

            def encode2(values: Sequence[Any]) -> bytes:
                if len(values) != 2:
                    raise AbiError(f"expected 2 values, got {len(values)}")
                return w0(values[0]) + w1(values[1])

            return encode2

        def encode_static(values: Sequence[Any]) -> bytes:
            if len(values) != count:
                raise AbiError(f"expected {count} values, got {len(values)}")
            return b"".join([w(v) for w, v in zip(static, values, strict=True)])

        return encode_static

    def encode_mixed(values: Sequence[Any]) -> bytes:
        if len(values) != count:
            raise AbiError(f"expected {count} values, got {len(values)}")
        heads: list[bytes] = []
        tails: list[bytes] = []
        offset = 32 * count
        for t, w, v in zip(types, words, values, strict=True):
            if w is not None:
                heads.append(w(v))
            else:
                tail = _dynamic_tail(_dynamic_raw(t, v))
                heads.append(offset.to_bytes(32, "big"))
                tails.append(tail)
                offset += len(tail)
        return b"".join(heads) + b"".join(tails)

    return encode_mixed


def json_value(type_: str, value: Any) -> Any:
    """``value`` as the JS library holds it in a dump: numbers as decimal strings, bytes as hex.

    Strings and bools pass through unchanged (the JS ``dump()`` keeps the values it was given).
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return hex0x(bytes(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value
