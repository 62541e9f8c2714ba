"""The text encodings of DESIGN.md §8: 0x-hex bytes, 32-byte hashes, addresses, decimal amounts.

One helper per idea: every module that writes or reads these goes through here, so a hash is
spelled the same way in a manifest, a bundle, a view and an error message.
"""

from __future__ import annotations

import re

from eth_utils.address import is_checksum_address, to_checksum_address

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
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise InvalidAddressError(field, "has an invalid EIP-55 checksum")
    return str(to_checksum_address(value))


def checksum(address: str) -> str:
    """The EIP-55 form of an address already known to be well-formed."""
    return str(to_checksum_address(address))


def is_account_address(account: str) -> bool:
    """Contributor accounts are addresses; internal accounts (the rewards pool) are not."""
    return account.startswith("0x") and len(account) == 42
