"""The text encodings of DESIGN.md §8: 0x-hex bytes, 32-byte hashes, addresses, decimal amounts.

One helper per idea: every module that writes or reads these goes through here, so a hash is
spelled the same way in a manifest, a bundle, a view and an error message.
"""

from __future__ import annotations

import re

from tiny_keccak import keccak256

from ledger.errors import InvalidFieldError, InvalidInputError

# Use ``fullmatch``: with ``match``, ``$`` also accepts a trailing newline.
HASH_PATTERN = re.compile(r"^0x[0-9a-fA-F]{64}$")
ADDRESS_PATTERN = re.compile(r"^0x[0-9a-fA-F]{40}$")
SIGNATURE_PATTERN = re.compile(r"^0x[0-9a-fA-F]{130}$")
DECIMAL_PATTERN = re.compile(r"^(0|[1-9][0-9]{0,77})$")
"""A non-negative decimal without leading zeros, at most 78 digits (uint256 fits)."""


class InvalidAddressError(InvalidInputError):
    """An Ethereum address is 0x followed by 40 hex digits; mixed case must be EIP-55."""

    code = "invalid-address"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}", field=field)
        self.field = field


def hex0x(data: bytes) -> str:
    """``0x`` followed by the lower-case hex of ``data``."""
    return "0x" + data.hex()


def is_hash(value: object) -> bool:
    """Whether ``value`` is a 0x-hex 32-byte hash."""
    return isinstance(value, str) and HASH_PATTERN.fullmatch(value) is not None


def parse_hash(value: object, field: str) -> bytes:
    """The 32 bytes of a 0x-hex hash, or an ``InvalidFieldError`` naming ``field``."""
    if not isinstance(value, str) or not HASH_PATTERN.fullmatch(value):
        raise InvalidFieldError(field, "must be 0x followed by 64 hex digits")
    return bytes.fromhex(value[2:])


def parse_address(value: object, field: str = "contributor") -> str:
    """The EIP-55 checksummed form of an address, refusing a mixed-case one with a bad checksum."""
    if not isinstance(value, str) or not ADDRESS_PATTERN.fullmatch(value):
        raise InvalidAddressError(field, "must be 0x followed by 40 hex digits")
    checksummed = checksum(value)  # once: a submission's address is checked and stored in this form
    body = value[2:]
    if checksummed != value and body != body.lower() and body != body.upper():
        raise InvalidAddressError(field, "has an invalid EIP-55 checksum")
    return checksummed


def checksum(address: str) -> str:
    """The EIP-55 form of an address already known to be well-formed: a hex letter is upper-case
    where the same nibble of keccak-256(lower-case hex) is 8 or more.

    Written here on tiny_keccak because eth_utils costs a fifth of a second to import (a CLI that
    only reads the ledger pays it on every start) and 16 µs a call against 3.5 µs here;
    tests/ledger/test_encoding.py checks it against eth_utils and EIP-55's own vectors.
    """
    body = address[2:].lower()
    digest = keccak256(body.encode("ascii")).hex()[:40]
    return "0x" + "".join(c.upper() if d in "89abcdef" else c for c, d in zip(body, digest, strict=True))


def has_valid_case(address: str) -> bool:
    """All lower-case, all upper-case, or mixed case that is the EIP-55 checksum (a well-formed address)."""
    body = address[2:]
    return body == body.lower() or body == body.upper() or checksum(address) == address


def is_account_address(account: str) -> bool:
    """Contributor accounts are addresses; internal accounts (the rewards pool) are not."""
    return account.startswith("0x") and len(account) == 42
