"""Files holding many conversations, as people have them: a ChatGPT export's ``conversations.json``
(an array of conversation objects), or a ShareGPT file (an array of records).

``tally submit`` lists such a file's conversations and submits the ones chosen by index, by the
export's own conversation id, or by title. A file holding one conversation object is not an
export: it is submitted as it is.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from ledger.conversation import ConversationError, normalise
from ledger.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class ExportEntry:
    """One conversation of an export, with what a person recognises it by."""

    index: int
    """1-based, in the order of the file."""
    id: str | None
    title: str
    created: int | None
    messages: int | None
    """Messages after normalisation; None when the conversation cannot be submitted."""
    problem: str | None
    conversation: object

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "title": self.title, "created": self.created,
                "messages": self.messages, "problem": self.problem}

    def line(self) -> str:
        date = datetime.fromtimestamp(self.created, UTC).strftime("%Y-%m-%d") if self.created else "-" * 10
        what = f"{self.messages:>4} messages" if self.messages is not None else f"cannot be submitted: {self.problem}"
        return f"{self.index:>5}  {date}  {what}  {self.title}  {self.id or ''}".rstrip()


def read_export(data: object) -> list[ExportEntry] | None:
    """The conversations of an export (a JSON array), or None for a file of one conversation."""
    if not isinstance(data, list):
        return None
    return [_entry(index, item) for index, item in enumerate(data, start=1)]


def _entry(index: int, item: object) -> ExportEntry:
    fields: Mapping[str, Any] = item if isinstance(item, Mapping) else {}
    try:
        conversation = normalise(item)
        messages, problem = len(conversation.messages), None
        first = next((m.content for m in conversation.messages if m.role == "user"), "")
    except ConversationError as exc:
        messages, problem, first = None, str(exc), ""
    raw_id = fields.get("conversation_id") or fields.get("id")
    title = fields.get("title")
    if not isinstance(title, str) or not title.strip():
        title = " ".join(first.split())[:60] or "(untitled)"
    created = fields.get("create_time")
    return ExportEntry(index, str(raw_id) if isinstance(raw_id, str | int) else None, " ".join(title.split()),
                       int(created) if isinstance(created, int | float) and created > 0 else None,
                       messages, problem, item)


class SelectionError(InvalidInputError):
    """The selection names a conversation the export does not hold."""


def select(entries: Sequence[ExportEntry], *, every: bool, ids: Sequence[str],
           titles: Sequence[str]) -> list[ExportEntry]:
    """The entries chosen: every one; or those whose index or id is in ``ids``, or whose title
    contains one of ``titles`` (case-insensitive). In file order, each once."""
    if every:
        return list(entries)
    chosen: set[int] = set()
    for wanted in ids:
        match = [e.index for e in entries if wanted in (str(e.index), e.id)]
        if not match:
            raise SelectionError(f"no conversation with index or id {wanted!r} in this export")
        chosen.update(match)
    for text in titles:
        match = [e.index for e in entries if text.casefold() in e.title.casefold()]
        if not match:
            raise SelectionError(f"no conversation whose title contains {text!r} in this export")
        chosen.update(match)
    return [e for e in entries if e.index in chosen]


POINTER_SCHEMES = ("file-service://", "sediment://")
"""How an ``image_asset_pointer`` names a file of the export (``file-service://file-<id>``)."""


@dataclass(frozen=True, slots=True)
class ExportSource:
    """Where an export was read from: its ``conversations.json`` and the files beside it.

    A ChatGPT export zip (or its unpacked folder) holds a conversation's uploaded images as
    ``file-<id>-<original name>.<ext>`` and DALL-E generations under ``dalle-generations/``, each
    named from the file id of its ``image_asset_pointer``; a file is found by that id, anywhere
    in the export. An image no file is found for stays ``[image]`` (version 1, docs/formats.md §2).
    """

    data: object
    files: Mapping[str, Callable[[], bytes]]
    """Each file's name (its last path component) and how to read its bytes."""

    def images_of(self, conversation: object) -> dict[str, bytes]:
        """The bytes of every image ``conversation`` points to that the export holds."""
        out: dict[str, bytes] = {}
        for pointer in _pointers(conversation):
            file_id = pointer.split("://", 1)[1]
            name = next((n for n in self.files if n == file_id or n.startswith((file_id + "-", file_id + "."))), None)
            if name is not None:
                out[pointer] = self.files[name]()
        return out


def load_export(path: Path) -> ExportSource:
    """A conversation file, an export folder (its ``conversations.json``) or an export zip."""
    if path.is_dir():
        json_file = path / "conversations.json"
        if not json_file.is_file():
            raise InvalidInputError(f"{path} is a folder without a conversations.json (not a ChatGPT export)")
        files = {p.name: p.read_bytes for p in path.rglob("*") if p.is_file() and p.name != "conversations.json"}
        return ExportSource(_json(json_file.read_bytes(), json_file), files)
    if zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        main = next((n for n in names if n.rsplit("/", 1)[-1] == "conversations.json"), None)
        if main is None:
            raise InvalidInputError(f"{path} is a zip without a conversations.json (not a ChatGPT export)")
        files = {n.rsplit("/", 1)[-1]: partial(archive.read, n) for n in names if n != main}
        return ExportSource(_json(archive.read(main), path), files)
    files = {p.name: p.read_bytes for p in path.parent.iterdir() if p.is_file() and p != path} \
        if path.name == "conversations.json" else {}
    return ExportSource(_json(path.read_bytes(), path), files)


def _json(data: bytes, where: Path) -> object:
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{where} is not JSON: {exc}") from None


def _pointers(conversation: object) -> list[str]:
    """Every ``image_asset_pointer`` of a ChatGPT conversation, in mapping order."""
    mapping = conversation.get("mapping") if isinstance(conversation, Mapping) else None
    out: list[str] = []
    for node in mapping.values() if isinstance(mapping, Mapping) else ():
        message = node.get("message") if isinstance(node, Mapping) else None
        content = message.get("content") if isinstance(message, Mapping) else None
        parts = content.get("parts") if isinstance(content, Mapping) else None
        for part in parts if isinstance(parts, list) else ():
            pointer = part.get("asset_pointer") if isinstance(part, Mapping) else None
            if isinstance(pointer, str) and pointer.startswith(POINTER_SCHEMES):
                out.append(pointer)
    return out
