"""A user's ChatGPT history, as chatgpt.com's backend would answer the extension.

chatgpt.com cannot be reached here; the extension's test answers it through request routing with
bodies built from recorded shapes (fixtures/chatgpt-backend/README.md): each list item is the
recorded item with its id, title and times replaced, each conversation the recorded
conversation's structure carrying real ShareGPT text, and a conversation's images the recorded
image parts and file-API answers with the test's own image bytes behind them.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.conftest import ROOT

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "chatgpt-backend"
RECORDED_CONVERSATION = (ROOT / "tests" / "fixtures" / "chatgpt"
                         / "index19773950885_backend_api_conversation_transcribed.json")


def session() -> dict[str, Any]:
    """``GET /api/auth/session`` of a logged-in browser."""
    recorded: dict[str, Any] = json.loads((FIXTURES / "session.json").read_text())
    return recorded


def list_item(conversation_id: str, title: str, created: float, updated: float) -> dict[str, Any]:
    """One item of ``GET /backend-api/conversations``, times as ChatGPT sends them (ISO 8601)."""
    from datetime import UTC, datetime

    item: dict[str, Any] = copy.deepcopy(json.loads((FIXTURES / "conversations-page.json").read_text())["items"][0])
    iso = lambda t: datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    item.update(id=conversation_id, title=title, create_time=iso(created), update_time=iso(updated))
    return item


def _message_template() -> dict[str, Any]:
    recorded = json.loads(RECORDED_CONVERSATION.read_text())
    node = next(n for n in recorded["mapping"].values()
                if (n.get("message") or {}).get("author", {}).get("role") == "user")
    message: dict[str, Any] = node["message"]
    return message


def image_message(turn: dict[str, str]) -> dict[str, Any]:
    """The recorded message of an image part: a user's upload (``multimodal_text``: the image, then
    the turn's text) or, for a ``tool`` turn, an image generation whose part carries the prompt in
    ``metadata.dalle.prompt``; ``turn["image"]`` is its ``asset_pointer``."""
    recorded = json.loads((FIXTURES / "image-messages.json").read_text())
    message: dict[str, Any] = copy.deepcopy(recorded["generated" if turn["role"] == "tool" else "upload"])
    part = message["content"]["parts"][0]
    part["asset_pointer"] = turn["image"]
    if turn["role"] == "tool":
        part["metadata"]["dalle"]["prompt"] = turn["content"]
    else:
        message["content"]["parts"][1] = turn["content"]
        message["metadata"]["attachments"][0]["id"] = turn["image"].split("://", 1)[1]
    return message


def conversation(conversation_id: str, title: str, turns: list[dict[str, str]], created: float,
                 model: str | None = "gpt-4o") -> dict[str, Any]:
    """``GET /backend-api/conversation/{id}``: a root without a message, a hidden system message,
    then ``turns`` ({"role", "content"}, and "image": an asset pointer for a turn with an image:
    a user's upload, or a ``tool`` turn's generation whose prompt is its content) in order;
    ``current_node`` on the last."""
    recorded = json.loads(RECORDED_CONVERSATION.read_text())
    template = _message_template()
    ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{conversation_id}/{i}")) for i in range(len(turns) + 2)]
    mapping: dict[str, Any] = {ids[0]: {"id": ids[0], "message": None, "parent": None, "children": [ids[1]]}}
    system = copy.deepcopy(template)
    system.update(id=ids[1], author={"role": "system", "name": None, "metadata": {}},
                  content={"content_type": "text", "parts": [""]},
                  metadata={"is_visually_hidden_from_conversation": True})
    messages = [system]
    for i, turn in enumerate(turns):
        message = copy.deepcopy(template)
        message.update(id=ids[i + 2], author={"role": turn["role"], "name": None, "metadata": {}},
                       content={"content_type": "text", "parts": [turn["content"]]},
                       create_time=created + 10 * i,
                       metadata={"model_slug": model} if turn["role"] == "assistant" and model else {})
        if "image" in turn:
            message.update(image_message(turn))
        messages.append(message)
    for i, message in enumerate(messages, start=1):
        children = [ids[i + 1]] if i + 1 < len(ids) else []
        mapping[ids[i]] = {"id": ids[i], "message": message, "parent": ids[i - 1], "children": children}
    body = {key: recorded[key] for key in ("moderation_results", "is_archived", "safe_urls")}
    body.update(title=title, create_time=created, update_time=created + 10 * len(turns), mapping=mapping,
                current_node=ids[-1], conversation_id=conversation_id, default_model_slug=model, id=conversation_id)
    return body


def history(records: list[dict[str, Any]], now: float) -> dict[str, Any]:
    """A history of canonical ``records`` ({"messages", "model"}), newest update first:
    ``{"session", "items", "conversations": {id: body}}`` for the test's request routing."""
    items, bodies = [], {}
    for i, record in enumerate(records):
        conversation_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"tally-test/{i}/{record['messages'][0]['content'][:40]}"))
        title = " ".join(record["messages"][0]["content"].split()[:6])[:60] or f"Conversation {i}"
        updated = now - 3600 * (i + 1)
        items.append(list_item(conversation_id, title, updated - 600, updated))
        bodies[conversation_id] = conversation(conversation_id, title, record["messages"], updated - 600,
                                               record.get("model") or "gpt-4o")
    return {"session": session(), "items": items, "conversations": bodies}


SIGNED_HOST = "https://files.oaiusercontent.com"


def file_service(images: dict[str, bytes], estuary: frozenset[str] = frozenset()) -> dict[str, Any]:
    """ChatGPT's file API for ``images`` (file id -> bytes): ``lookups``, the answer of
    ``GET /backend-api/files/download/{file id}`` per file (a signed link on
    files.oaiusercontent.com, or for the ids in ``estuary`` a chatgpt.com estuary link, as the
    recorded answers give them), and ``downloads``, each link's bytes in base64."""
    signed = json.loads((FIXTURES / "file-download.json").read_text())
    same_origin = json.loads((FIXTURES / "file-download-estuary.json").read_text())
    lookups, downloads = {}, {}
    for file_id, data in images.items():
        answer = copy.deepcopy(same_origin if file_id in estuary else signed)
        if file_id in estuary:
            answer["download_url"] = f"https://chatgpt.com/backend-api/estuary/content?id={quote(file_id)}&ts=489600&p=fs"
        else:
            answer["download_url"] = f"{SIGNED_HOST}/{quote(file_id)}?" + signed["download_url"].split("?", 1)[1]
        lookups[file_id] = answer
        downloads[answer["download_url"]] = base64.b64encode(data).decode("ascii")
    return {"lookups": lookups, "downloads": downloads}
