"""The bytes of an epoch's manifest, written while its leaves and journal lines stream in.

A manifest of 100,000 contributions is ~70 MB of JCS, most of it the leaves (each with its
scorer's features) and the journal lines. Built as ``jcs.dumps(manifest.to_json())`` it is held
four times over: the ``LogLeaf`` and ``JournalLine`` values, the dicts and lists of ``to_json``,
the ``str`` of ``json.dumps`` and its UTF-8 ``bytes``. Here each leaf and line is written as its
own JCS the moment it is read, into pieces of about 1 MB per array that go to a temporary file
as each fills, and nothing else of it is kept; the rest of the manifest (small) is serialised as
usual with two unique placeholders, and the manifest is written into a file from the pieces
(``write_manifest``), never held whole: the seal names it, stores its blocks and its row from
that file (``bench/seal.py`` measures the memory a contribution costs).

RFC 8785 writes an array as ``[`` + its items' JCS joined by ``,`` + ``]`` and an object's members
in key order whatever their values, so the bytes are exactly those of ``jcs.dumps`` of the whole
manifest (tests/ledger/test_manifest_writer.py holds the two equal).
"""

from __future__ import annotations

import tempfile
import uuid
from typing import IO, Any

from ledger import jcs
from ledger.formats import Manifest

COPY_SIZE = 1 << 20
"""Bytes copied per read and write between files."""


class JcsArray:
    """A JSON array written item by item: the items' JCS, comma-separated, in pieces of about
    1 MB, each written to a temporary file once full. (One ``bytearray`` of 50 MB grows by
    reallocation, which may copy it: twice its size for a moment; a list of pieces holds it
    once, and the file not at all.)"""

    __slots__ = ("_buffer", "_file", "_piece", "count")

    def __init__(self, piece: int = 1 << 20) -> None:
        self._piece = piece
        self._file: IO[bytes] | None = None
        self._buffer = bytearray()
        self.count = 0

    def add(self, item: Any) -> None:
        """Append the JCS of ``item`` (a ``to_json()`` value)."""
        if self.count:
            self._buffer += b","
        self._buffer += jcs.dumps(item)
        self.count += 1
        if len(self._buffer) >= self._piece:
            if self._file is None:
                self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by write_to, or when collected)
            self._file.write(self._buffer)
            self._buffer.clear()

    def write_to(self, out: IO[bytes]) -> int:
        """Write the array's bytes without its brackets to ``out``; their length. The array is
        empty afterwards, its temporary file closed."""
        written = 0
        if self._file is not None:
            self._file.seek(0)
            while piece := self._file.read(COPY_SIZE):
                written += out.write(piece)
            self._file.close()
            self._file = None
        written += out.write(self._buffer)
        self._buffer = bytearray()
        return written


def write_manifest(manifest: Manifest, journal: JcsArray, leaves: JcsArray, out: IO[bytes]) -> int:
    """Write the JCS of ``manifest`` to ``out``, with ``journal`` as its journal lines and
    ``leaves`` as its log's leaves (the manifest's own are ignored); its length. Empties both
    arrays."""
    marks = [f"\x00{name}-{uuid.uuid4().hex}" for name in ("journal", "leaves")]
    document = manifest.to_json()
    document["journal"] = marks[0]
    document["log"]["leaves"] = marks[1]
    head, rest = _split_once(jcs.dumps(document), jcs.dumps(marks[0]))
    middle, tail = _split_once(rest, jcs.dumps(marks[1]))
    written = out.write(head + b"[")
    written += journal.write_to(out)
    written += out.write(b"]" + middle + b"[")
    written += leaves.write_to(out)
    return written + out.write(b"]" + tail)


def _split_once(text: bytes, mark: bytes) -> tuple[bytes, bytes]:
    before, found, after = text.partition(mark)
    if not found or mark in after:
        raise AssertionError("a manifest placeholder must occur exactly once")
    return before, after
