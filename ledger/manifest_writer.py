"""The bytes of an epoch's manifest, written while its leaves and journal lines stream in.

A manifest of 100,000 contributions is ~70 MB of JCS, most of it the leaves (each with its
scorer's features) and the journal lines. Built as ``jcs.dumps(manifest.to_json())`` it is held
four times over: the ``LogLeaf`` and ``JournalLine`` values, the dicts and lists of ``to_json``,
the ``str`` of ``json.dumps`` and its UTF-8 ``bytes``. Here each leaf and line is written as its
own JCS the moment it is read, into pieces of about 1 MB per array, and nothing else of it is kept;
the rest of the manifest (small) is serialised as usual with two unique placeholders, and the
manifest is joined once from the pieces (``bench/seal.py`` measures the memory a contribution
costs).

RFC 8785 writes an array as ``[`` + its items' JCS joined by ``,`` + ``]`` and an object's members
in key order whatever their values, so the bytes are exactly those of ``jcs.dumps`` of the whole
manifest (tests/ledger/test_manifest_writer.py holds the two equal).
"""

from __future__ import annotations

import uuid
from typing import Any

from ledger import jcs
from ledger.formats import Manifest


class JcsArray:
    """A JSON array written item by item: the items' JCS, comma-separated, in pieces of about
    1 MB. (One ``bytearray`` of 50 MB grows by reallocation, which may copy it: twice its size
    for a moment.)"""

    __slots__ = ("_buffer", "_piece", "_pieces", "count")

    def __init__(self, piece: int = 1 << 20) -> None:
        self._piece = piece
        self._pieces: list[bytes] = []
        self._buffer = bytearray()
        self.count = 0

    def add(self, item: Any) -> None:
        """Append the JCS of ``item`` (a ``to_json()`` value)."""
        if self.count:
            self._buffer += b","
        self._buffer += jcs.dumps(item)
        self.count += 1
        if len(self._buffer) >= self._piece:
            self._pieces.append(bytes(self._buffer))
            self._buffer.clear()

    def take(self) -> list[bytes]:
        """The array's bytes without its brackets, in pieces; the array is empty afterwards."""
        pieces, self._pieces = self._pieces, []
        pieces.append(bytes(self._buffer))
        self._buffer = bytearray()
        return pieces


def manifest_bytes(manifest: Manifest, journal: JcsArray, leaves: JcsArray) -> bytes:
    """The JCS of ``manifest`` with ``journal`` as its journal lines and ``leaves`` as its log's
    leaves (the manifest's own are ignored). Empties both arrays, so that only the result is
    left of them."""
    marks = [f"\x00{name}-{uuid.uuid4().hex}" for name in ("journal", "leaves")]
    document = manifest.to_json()
    document["journal"] = marks[0]
    document["log"]["leaves"] = marks[1]
    head, rest = _split_once(jcs.dumps(document), jcs.dumps(marks[0]))
    middle, tail = _split_once(rest, jcs.dumps(marks[1]))
    return b"".join([head, b"[", *journal.take(), b"]", middle, b"[", *leaves.take(), b"]", tail])


def _split_once(text: bytes, mark: bytes) -> tuple[bytes, bytes]:
    before, found, after = text.partition(mark)
    if not found or mark in after:
        raise AssertionError("a manifest placeholder must occur exactly once")
    return before, after
