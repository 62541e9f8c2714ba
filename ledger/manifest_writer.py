"""The bytes of an epoch's manifest (and of a balances snapshot), written while its leaves and
journal lines (its balances) stream in.

A manifest of 100,000 contributions is ~70 MB of JCS, most of it the leaves (each with its
scorer's features) and the journal lines. Built as ``jcs.dumps(manifest.to_json())`` it is held
four times over: the ``LogLeaf`` and ``JournalLine`` values, the dicts and lists of ``to_json``,
the ``str`` of ``json.dumps`` and its UTF-8 ``bytes``. Here each leaf and line is written as its
own JCS the moment it is read, into pieces of about 1 MB per array that go to a temporary file
as each fills, and nothing else of it is kept; the rest of the manifest (small) is serialised as
usual with two unique placeholders, and the manifest is written into a file from the pieces
(``write_manifest``), never held whole: the seal names it, stores its blocks and its row from
that file (``bench/seal.py`` measures the memory a contribution costs). A snapshot of a million
balances (~60 MB) is written the same way (``write_snapshot``).

RFC 8785 writes an array as ``[`` + its items' JCS joined by ``,`` + ``]`` and an object's members
in key order whatever their values, so the bytes are exactly those of ``jcs.dumps`` of the whole
manifest (tests/ledger/test_manifest_writer.py holds the two equal).
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Mapping
from typing import IO, Any

from ledger import jcs
from ledger.formats import BalancesSnapshot, Manifest


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
        self.add_jcs(jcs.dumps(item))

    def add_jcs(self, encoded: bytes) -> None:
        """Append an item already written as its JCS."""
        if self.count:
            self._buffer += b","
        self._buffer += encoded
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
            written = self._file.tell()
            self._file.seek(0)
            shutil.copyfileobj(self._file, out)
            self._file.close()
            self._file = None
        written += out.write(self._buffer)
        self._buffer = bytearray()
        return written


def write_manifest(manifest: Manifest, journal: JcsArray, leaves: JcsArray, out: IO[bytes]) -> int:
    """Write the JCS of ``manifest`` to ``out``, with ``journal`` as its journal lines and
    ``leaves`` as its log's leaves (the manifest's own are ignored); its length. Empties both
    arrays."""
    document = manifest.to_json()
    document["journal"], document["log"]["leaves"] = journal_mark, leaves_mark = placeholder(), placeholder()
    return write_jcs(document, {journal_mark: journal, leaves_mark: leaves}, out)


def write_snapshot(snapshot: BalancesSnapshot, values: JcsArray, out: IO[bytes]) -> int:
    """Write the JCS of ``snapshot`` to ``out``, with ``values`` as its balances (the snapshot's
    own are ignored); its length. Empties ``values``."""
    document = snapshot.to_json()
    document["values"] = mark = placeholder()
    return write_jcs(document, {mark: values}, out)


def placeholder() -> str:
    """A string no document holds by chance, to stand for an array in :func:`write_jcs`."""
    return f"\x00array-{uuid.uuid4().hex}"


def write_jcs(document: Any, arrays: Mapping[str, JcsArray], out: IO[bytes]) -> int:
    """Write the JCS of ``document`` to ``out`` with each string value that is a key of
    ``arrays`` (a :func:`placeholder`) replaced by that array; its length. Empties the arrays."""
    text = jcs.dumps(document)
    holes = sorted((_find_once(text, jcs.dumps(mark)), mark) for mark in arrays)
    written, at = 0, 0
    for position, mark in holes:
        written += out.write(text[at:position] + b"[")
        written += arrays[mark].write_to(out)
        written += out.write(b"]")
        at = position + len(jcs.dumps(mark))
    return written + out.write(text[at:])


def _find_once(text: bytes, mark: bytes) -> int:
    position = text.find(mark)
    if position < 0 or text.find(mark, position + 1) >= 0:
        raise AssertionError("a placeholder must occur exactly once")
    return position
