"""Reading the fields of Tally's published JSON documents, each error naming the exact field.

A reader takes the container (a parsed JSON object or list), the path of that container
(``log.leaves[3]``) and the key, and returns the typed value or raises ``InvalidDocumentError``
for the path ``log.leaves[3].points``. The path is only spelled out on failure: a manifest holds
up to 100,000 leaves and the audit reads every one (DESIGN.md §6).

The text forms are those of DESIGN.md §8 (``ledger.encoding``): hashes are 0x + 64 hex, addresses
0x + 40 hex, amounts decimal strings without leading zeros.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ledger.encoding import ADDRESS_PATTERN, DECIMAL_PATTERN, HASH_PATTERN, has_valid_case
from ledger.errors import InvalidInputError

SIGNED_DECIMAL_PATTERN = re.compile(r"^(0|-?[1-9][0-9]{0,77})$")
"""A journal amount: a decimal, negative on the debited side, never ``-0``."""

Key = str | int


class InvalidDocumentError(InvalidInputError):
    """A field of a manifest or a proof bundle is missing or malformed; ``field`` is its path."""

    code = "invalid-document"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field=field)
        self.field = field
        self.reason = reason


@contextmanager
def reported_as(error: type[InvalidDocumentError]) -> Iterator[None]:
    """Re-raise the readers' field errors as ``error`` (``InvalidManifestError``...), same field."""
    try:
        yield
    except InvalidDocumentError as exc:
        if isinstance(exc, error):
            raise
        raise error(exc.field, exc.reason) from None


def path(at: str, key: Key) -> str:
    """The path of ``key`` inside the container at ``at``: ``log.leaves[3]``, ``header.logRoot``."""
    if isinstance(key, int):
        return f"{at}[{key}]"
    return f"{at}.{key}" if at else key


def wrong(at: str, key: Key, reason: str) -> InvalidDocumentError:
    return InvalidDocumentError(path(at, key), reason)


def _get(container: Any, at: str, key: Key) -> object:
    # ``container`` is a dict or a list the caller has already checked; both subscript.
    try:
        return container[key]
    except (KeyError, IndexError):
        raise wrong(at, key, "is missing") from None


def document(value: object, name: str) -> dict[str, Any]:
    """The top-level JSON object of a document called ``name`` (``manifest``, ``bundle``)."""
    if not isinstance(value, dict):
        raise InvalidDocumentError(name, "must be a JSON object")
    return value


def obj(container: Any, at: str, key: Key) -> dict[str, Any]:
    value = _get(container, at, key)
    if not isinstance(value, dict):
        raise wrong(at, key, "must be an object")
    return value


def optional_obj(container: Any, at: str, key: Key) -> dict[str, Any] | None:
    """An object or ``null`` (the key must still be there)."""
    value = _get(container, at, key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise wrong(at, key, "must be an object or null")
    return value


def items(container: Any, at: str, key: Key) -> list[Any]:
    value = _get(container, at, key)
    if not isinstance(value, list):
        raise wrong(at, key, "must be a list")
    return value


def each_object(container: Any, at: str, key: Key) -> Iterator[tuple[dict[str, Any], str]]:
    """The objects of a list, each with its path (``log.leaves[3]``)."""
    where = path(at, key)
    for i, value in enumerate(items(container, at, key)):
        if not isinstance(value, dict):
            raise wrong(where, i, "must be an object")
        yield value, f"{where}[{i}]"


def uint(container: Any, at: str, key: Key) -> int:
    """A non-negative JSON integer (a boolean is not one)."""
    value = _get(container, at, key)
    if type(value) is not int or value < 0:
        raise wrong(at, key, "must be a non-negative integer")
    return value


def counts(container: Any, at: str, key: Key) -> dict[str, int]:
    """An object of named counts: every member a non-negative integer (a leaf's ``features``)."""
    value = obj(container, at, key)
    where = path(at, key)
    for name, count in value.items():
        if type(count) is not int or count < 0:
            raise wrong(where, name, "must be a non-negative integer")
    return value


def text(container: Any, at: str, key: Key) -> str:
    value = _get(container, at, key)
    if not isinstance(value, str) or not value:
        raise wrong(at, key, "must be a non-empty string")
    return value


def string(container: Any, at: str, key: Key) -> str:
    """A string, possibly empty."""
    value = _get(container, at, key)
    if not isinstance(value, str):
        raise wrong(at, key, "must be a string")
    return value


def optional_text(container: Any, at: str, key: Key) -> str | None:
    value = _get(container, at, key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise wrong(at, key, "must be a non-empty string or null")
    return value


def constant(container: Any, at: str, key: Key, expected: str) -> str:
    value = _get(container, at, key)
    if value != expected:
        raise wrong(at, key, f'must be "{expected}"')
    return expected


def hash32(container: Any, at: str, key: Key) -> bytes:
    """The 32 bytes of a 0x-hex hash."""
    value = _get(container, at, key)
    if not isinstance(value, str) or not HASH_PATTERN.match(value):
        raise wrong(at, key, "must be 0x + 64 hex")
    return bytes.fromhex(value[2:])


def hash_text(container: Any, at: str, key: Key) -> str:
    """A 0x-hex hash kept as the text it was given (a transaction or block hash)."""
    value = _get(container, at, key)
    if not isinstance(value, str) or not HASH_PATTERN.match(value):
        raise wrong(at, key, "must be 0x + 64 hex")
    return value


def hashes(container: Any, at: str, key: Key) -> tuple[bytes, ...]:
    """A list of 0x-hex hashes (a Merkle proof)."""
    values = items(container, at, key)
    where = path(at, key)
    return tuple(hash32(values, where, i) for i in range(len(values)))


def address(container: Any, at: str, key: Key) -> str:
    """An address as written (0x + 40 hex). Its case is not checked here: a leaf hashes the 20
    bytes, never the text, and an EIP-55 check per leaf would dominate reading a manifest."""
    value = _get(container, at, key)
    if not isinstance(value, str) or not ADDRESS_PATTERN.match(value):
        raise wrong(at, key, "must be 0x + 40 hex")
    return value


def checked_address(container: Any, at: str, key: Key) -> str:
    """An address as written, whose mixed case, if any, must be its EIP-55 checksum."""
    value = address(container, at, key)
    if not has_valid_case(value):
        raise wrong(at, key, "has an invalid EIP-55 checksum")
    return value


def decimal(container: Any, at: str, key: Key) -> int:
    """A non-negative amount written as a decimal string (uint256 fits; JSON numbers do not)."""
    value = _get(container, at, key)
    if not isinstance(value, str) or not DECIMAL_PATTERN.match(value):
        raise wrong(at, key, "must be a decimal string")
    return int(value)


def signed_decimal(container: Any, at: str, key: Key) -> int:
    value = _get(container, at, key)
    if not isinstance(value, str) or not SIGNED_DECIMAL_PATTERN.match(value):
        raise wrong(at, key, "must be a decimal string")
    return int(value)
