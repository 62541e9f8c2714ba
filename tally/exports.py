"""Files holding many conversations, as people have them: a ChatGPT export's ``conversations.json``
(an array of conversation objects), or a ShareGPT file (an array of records).

``tally submit`` lists such a file's conversations and submits the ones chosen by index, by the
export's own conversation id, or by title. A file holding one conversation object is not an
export: it is submitted as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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
