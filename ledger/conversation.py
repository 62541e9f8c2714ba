"""The canonical conversation of DESIGN.md §2: normalisation, canonical bytes and content hash.

Three input shapes are accepted and told apart by their JSON shape: a ChatGPT conversation
(``mapping``, and ``current_node`` where the export has one; only the active branch counts), a
ShareGPT record (``conversations``) and the plain ``messages`` form. Whatever the input, the
result is one canonical object whose RFC 8785 (JCS) bytes are hashed with SHA-256 into
``contentHash``.
Any client that follows §2 computes the same bytes, so anyone holding their conversation can
recompute its hash without us.
"""

from __future__ import annotations

import hashlib
import json
import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import rfc8785

from ledger import jcs
from ledger.content.cids import DAG_PB, RAW, parse_cid
from ledger.content.errors import ContentError
from ledger.content.unixfs import cid_of
from ledger.errors import InvalidInputError

Role = Literal["user", "assistant", "system", "tool"]

CANONICAL_VERSION = 1
"""The version of a conversation without images: its bytes and hash are those of §2 version 1."""
CANONICAL_VERSION_IMAGES = 2
"""The version of a conversation with at least one image (docs/formats.md §2, version 2)."""

ROLE_ALIASES: Mapping[str, Role] = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "chatgpt": "assistant",
    "bard": "assistant",
    "bing": "assistant",
    "model": "assistant",
    "system": "system",
    "tool": "tool",
}

# The ChatGPT export keeps a walk from current_node to the root; a mapping deeper than this
# is either corrupt or cyclic, and walking it would let one request burn the CPU.
MAX_CHATGPT_DEPTH = 100_000
IMAGE_PLACEHOLDER = "[image]"
AUDIO_TRANSCRIPTION = "audio_transcription"
"""The ``content_type`` of a voice message's part that carries what was said, as ``text``."""

# JavaScript enumerates an object's array-index keys ("0" to "4294967294" without leading zeros)
# first, in numeric order, whatever their order in the JSON text; the JS client only ever sees
# the parsed object, so "mapping order" has to mean that order for both to pick the same node.
_MAX_ARRAY_INDEX = 2**32 - 2

MAX_MODEL_LENGTH = 200
"""The longest model name, in characters after normalisation: what ``contributions.model``
(varchar 200) holds. Real names are a few dozen (``gpt-4o-2024-08-06``)."""


class ConversationError(InvalidInputError, ValueError):
    """A conversation that cannot be normalised; each subclass is its own problem type."""

    code = "malformed-conversation"


class UnknownFormatError(ConversationError):
    code = "unknown-format"


class MalformedConversationError(ConversationError):
    code = "malformed-conversation"


class UnknownRoleError(ConversationError):
    code = "unknown-role"

    def __init__(self, role: object) -> None:
        super().__init__(f"unknown message role {role!r}; accepted: {', '.join(sorted(ROLE_ALIASES))}")
        self.role = role


class IncompleteConversationError(ConversationError):
    code = "incomplete-conversation"


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    images: tuple[str, ...] = ()
    """The CIDs (``ledger.content.cid_of``: CIDv1, raw leaves, base32) of the message's images,
    in order; empty in every version-1 conversation."""


@dataclass(frozen=True, slots=True)
class _Turn:
    """A message as read from the input, before its text is normalised."""

    role: Role
    text: str
    model_slug: object = None
    """ChatGPT's ``metadata.model_slug``: the model of a conversation that names none (§2)."""
    images: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Read:
    """What a format's reader found: the model the input names, and its turns in order."""

    model: str | None
    turns: list[_Turn]
    model_from_turns: bool = False
    """True when the model is the last assistant message's ``model_slug`` (ChatGPT, §2)."""


@dataclass(frozen=True, slots=True)
class Conversation:
    """A normalised conversation: the canonical object of DESIGN.md §2."""

    model: str | None
    messages: tuple[Message, ...]

    @property
    def image_cids(self) -> list[str]:
        """Every image's CID, message by message, in order (a repeated image repeats)."""
        return [cid for m in self.messages for cid in m.images]

    def to_canonical(self) -> dict[str, Any]:
        """Version 1 when no message has an image (the bytes of every conversation before
        images), else version 2, where a message with images has ``images`` beside its text."""
        if not any(m.images for m in self.messages):
            return {
                "v": CANONICAL_VERSION,
                "model": self.model,
                "messages": [{"role": m.role, "content": m.content} for m in self.messages],
            }
        return {
            "v": CANONICAL_VERSION_IMAGES,
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content, **({"images": list(m.images)} if m.images else {})}
                         for m in self.messages],
        }


def image_cids(canonical: bytes | Mapping[str, Any]) -> list[str]:
    """The image CIDs of a stored canonical conversation (its bytes or parsed object), in order:
    message by message, each message's ``images`` in order; empty for version 1 (§2)."""
    obj = jcs_loads(canonical) if isinstance(canonical, bytes | bytearray) else canonical
    if not isinstance(obj, Mapping) or obj.get("v") not in (CANONICAL_VERSION, CANONICAL_VERSION_IMAGES):
        raise MalformedConversationError("not a canonical conversation (v 1 or 2)")
    messages = obj.get("messages")
    if not isinstance(messages, list):
        raise MalformedConversationError("a canonical conversation's messages must be a list")
    out: list[str] = []
    for message in messages:
        images = message.get("images", []) if isinstance(message, Mapping) else []
        if not isinstance(images, list) or not all(isinstance(cid, str) for cid in images):
            raise MalformedConversationError("a message's images must be a list of CIDs")
        out.extend(images)
    return out


def jcs_loads(data: bytes | bytearray) -> Any:
    """Canonical bytes back to the object (they are JSON)."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedConversationError(f"canonical bytes are not JSON: {exc}") from None


def image_cid(text: object, where: str) -> str:
    """A CID as a version-2 message carries it: CIDv1 in base32, sha2-256, raw or dag-pb (what
    ``ledger.content.cid_of`` gives), in its canonical text; else MalformedConversationError."""
    if isinstance(text, str):
        try:
            cid = parse_cid(text)
        except ContentError:
            cid = None
        if cid is not None and cid.version == 1 and cid.codec in (RAW, DAG_PB) and str(cid) == text:
            return text
    raise MalformedConversationError(f"{where} must be an image's CIDv1 in base32 (bafk... or bafy...)")


def normalise_text(text: str) -> str:
    """NFC, ``\\r\\n`` and ``\\r`` to ``\\n``, outer white space stripped (§2)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text).strip()
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # JSON's \ud800 escapes can smuggle in half a surrogate pair, which is not Unicode text
        # and has no UTF-8 (nor JCS) form.
        raise MalformedConversationError("text contains a lone UTF-16 surrogate") from None
    return text


def canonical_role(role: object) -> Role:
    if isinstance(role, str):
        mapped = ROLE_ALIASES.get(role.lower())
        if mapped is not None:
            return mapped
    raise UnknownRoleError(role)


def detect_format(obj: object) -> Literal["chatgpt", "sharegpt", "plain"]:
    if isinstance(obj, list):
        raise UnknownFormatError(
            "a conversation must be a JSON object, not an array: an array such as a ChatGPT export's "
            "conversations.json holds many conversations; submit each one, or several in one batch")
    if not isinstance(obj, Mapping):
        raise UnknownFormatError("a conversation must be a JSON object")
    if "mapping" in obj:
        return "chatgpt"
    if "conversations" in obj:
        return "sharegpt"
    if "messages" in obj:
        return "plain"
    raise UnknownFormatError(
        "not a known conversation format: expected a ChatGPT conversation (mapping, current_node), "
        "a ShareGPT record (conversations) or {messages: [...]}"
    )


def normalise(obj: object, images: Mapping[str, bytes] | None = None) -> Conversation:
    """Turn any accepted input into the canonical conversation, or raise a ConversationError.

    The order of the checks decides which error an input with several faults gets, and the JS
    client follows it: shapes and roles while reading, the model the input names, the text of each
    message, the model taken from the messages' metadata, and last the roles the result needs.

    ``images`` maps a ChatGPT ``image_asset_pointer`` (``file-service://file-...``,
    ``sediment://file_...``) to the image's bytes: each part whose bytes are given becomes the
    image's CID in its message's ``images`` (and a DALL-E part's ``metadata.dalle.prompt`` its
    text), making a version-2 conversation; a part whose bytes are not given stays the
    ``[image]`` text of version 1.
    """
    fmt = detect_format(obj)
    assert isinstance(obj, Mapping)
    if fmt == "chatgpt":
        read = _chatgpt_messages(obj, images)
    elif fmt == "sharegpt":
        read = _Read(None, _sharegpt_messages(obj))
    else:
        read = _plain_messages(obj)
    kept = [(turn, text) for turn, text in ((t, normalise_text(t.text)) for t in read.turns) if text or turn.images]
    messages = tuple(Message(turn.role, text, turn.images) for turn, text in kept)
    model = read.model
    if read.model_from_turns:
        # The last assistant message of the canonical conversation: the one that answered last.
        slug = next((turn.model_slug for turn, _ in reversed(kept) if turn.role == "assistant"), None)
        model = _model_of(slug, "metadata.model_slug")
    roles = {m.role for m in messages}
    if "user" not in roles or "assistant" not in roles:
        raise IncompleteConversationError(
            "a conversation needs at least one non-empty user message and one non-empty assistant message"
        )
    return Conversation(model=model, messages=messages)


def canonical_bytes(obj: object) -> bytes:
    """RFC 8785 (JCS) bytes of the canonical form of ``obj`` (any accepted input, or canonical)."""
    conversation = obj if isinstance(obj, Conversation) else normalise(obj)
    return jcs.dumps(conversation.to_canonical())


def reference_canonical_bytes(obj: object) -> bytes:
    """The same bytes through the general ``rfc8785`` encoder: the reference for tests."""
    conversation = obj if isinstance(obj, Conversation) else normalise(obj)
    return rfc8785.dumps(conversation.to_canonical())


def content_hash(obj: object) -> str:
    """``contentHash`` of DESIGN.md §2 as 0x-hex: SHA-256 of the canonical bytes."""
    return "0x" + hashlib.sha256(canonical_bytes(obj)).hexdigest()


def _model_of(value: object, field: str = "model") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedConversationError(f"{field} must be a string or null")
    model = normalise_text(value)
    if len(model) > MAX_MODEL_LENGTH:
        raise MalformedConversationError(
            f"{field} is {len(model)} characters long; the limit is {MAX_MODEL_LENGTH}", limit=MAX_MODEL_LENGTH)
    if "\x00" in model:
        # No SQL text column (PostgreSQL's least of all) can hold a NUL.
        raise MalformedConversationError(f"{field} contains a NUL character")
    return model or None


def _plain_messages(obj: Mapping[str, Any]) -> _Read:
    messages = obj["messages"]
    if not isinstance(messages, list):
        raise MalformedConversationError("messages must be a list")
    out: list[_Turn] = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or not isinstance(m.get("content"), str):
            raise MalformedConversationError(f"messages[{i}] needs a role and a string content")
        out.append(_Turn(canonical_role(m.get("role")), m["content"], images=_plain_images(m, i)))
    return _Read(_model_of(obj.get("model")), out)


def _plain_images(message: Mapping[str, Any], index: int) -> tuple[str, ...]:
    """A plain message's ``images``: absent, or a list of image CIDs (§2 version 2)."""
    images = message.get("images")
    if images is None:
        return ()
    if not isinstance(images, list):
        raise MalformedConversationError(f"messages[{index}].images must be a list of CIDs")
    return tuple(image_cid(cid, f"messages[{index}].images[{j}]") for j, cid in enumerate(images))


def _sharegpt_messages(obj: Mapping[str, Any]) -> list[_Turn]:
    turns = obj["conversations"]
    if not isinstance(turns, list):
        raise MalformedConversationError("conversations must be a list")
    out: list[_Turn] = []
    for i, t in enumerate(turns):
        if not isinstance(t, Mapping) or not isinstance(t.get("value"), str):
            raise MalformedConversationError(f"conversations[{i}] needs a from and a string value")
        out.append(_Turn(canonical_role(t.get("from")), t["value"]))
    return out


def _chatgpt_messages(obj: Mapping[str, Any], images: Mapping[str, bytes] | None = None) -> _Read:
    mapping = obj["mapping"]
    if not isinstance(mapping, Mapping):
        raise MalformedConversationError("mapping must be an object")
    current = obj.get("current_node")
    if current is None:
        # Missing (or null): some third-party tools write exports without it (§2).
        current = _latest_leaf(mapping)
    elif not isinstance(current, str) or current not in mapping:
        raise MalformedConversationError("current_node must name a node of mapping")
    out: list[_Turn] = []
    for node in reversed(_branch(mapping, current)):
        message = node.get("message")
        if message is None:
            continue
        if not isinstance(message, Mapping):
            raise MalformedConversationError("a node's message must be an object or null")
        metadata = message.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            metadata = {}
        if metadata.get("is_visually_hidden_from_conversation"):
            continue
        text, cids = _chatgpt_content(message.get("content"), images or {})
        author = message.get("author")
        role_name = author.get("role") if isinstance(author, Mapping) else None
        if text is None or (role_name == "system" and not text.strip() and not cids):
            continue
        out.append(_Turn(canonical_role(role_name), text, metadata.get("model_slug"), cids))
    default_model = obj.get("default_model_slug")
    if default_model is None:
        return _Read(None, out, model_from_turns=True)
    return _Read(_model_of(default_model, "default_model_slug"), out)


def _branch(mapping: Mapping[str, Any], leaf: str) -> list[Mapping[str, Any]]:
    """The nodes from ``leaf`` up the ``parent`` links to the root."""
    branch: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    node_id: object = leaf
    while node_id is not None:
        if not isinstance(node_id, str) or node_id not in mapping:
            raise MalformedConversationError(f"parent {node_id!r} is not a node of mapping")
        if node_id in seen or len(seen) >= MAX_CHATGPT_DEPTH:
            raise MalformedConversationError("the parent links of mapping form a cycle")
        seen.add(node_id)
        node = mapping[node_id]
        if not isinstance(node, Mapping):
            raise MalformedConversationError(f"mapping[{node_id!r}] must be an object")
        branch.append(node)
        node_id = node.get("parent")
    return branch


def _latest_leaf(mapping: Mapping[str, Any]) -> str:
    """Where the active branch ends without ``current_node``: the leaf whose message is the latest.

    A leaf is a node whose ``children`` is absent, null or empty. A leaf with a ``create_time``
    (a JSON number) is later than one without; among equals the last in mapping order wins.
    """
    best: str | None = None
    best_rank = (False, 0.0)
    for node_id in _mapping_order(mapping):
        node = mapping[node_id]
        if isinstance(node, Mapping) and node.get("children") not in (None, []):
            continue
        time = _create_time(node)
        rank = (time is not None, 0.0 if time is None else time)
        if best is None or rank >= best_rank:
            best, best_rank = node_id, rank
    if best is None:
        raise MalformedConversationError(
            "mapping has no leaf (a node without children) for the active branch to end at, and no current_node")
    return best


def _mapping_order(mapping: Mapping[str, Any]) -> list[str]:
    """The keys of ``mapping`` in the order a JavaScript object lists them (see _MAX_ARRAY_INDEX)."""
    indexes = sorted((k for k in mapping if _is_array_index(k)), key=int)
    return indexes + [k for k in mapping if not _is_array_index(k)]


def _is_array_index(key: str) -> bool:
    # The length test first: int() refuses strings of more than 4,300 digits.
    return (len(key) <= 10 and key.isascii() and key.isdigit() and (key == "0" or not key.startswith("0"))
            and int(key) <= _MAX_ARRAY_INDEX)


def _create_time(node: object) -> float | None:
    """The ``create_time`` of a node's message as JavaScript reads the number, or None."""
    message = node.get("message") if isinstance(node, Mapping) else None
    value = message.get("create_time") if isinstance(message, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        time = float(value)  # an integer past 2**53 rounds as JSON.parse rounds it
    except OverflowError:
        time = math.inf if value > 0 else -math.inf  # JSON.parse reads it as Infinity
    return None if math.isnan(time) else time


def _chatgpt_content(content: object, images: Mapping[str, bytes]) -> tuple[str | None, tuple[str, ...]]:
    """The text of a ChatGPT message content (None when it has none) and its images' CIDs (§2)."""
    if not isinstance(content, Mapping):
        return None, ()
    parts = content.get("parts")
    if isinstance(parts, list):
        texts: list[str] = []
        cids: list[str] = []
        for part in parts:
            data = _image_bytes(part, images)
            if data is None:
                text = _part_text(part)
            else:
                cids.append(cid_of(data))
                text = _dalle_prompt(part)
            if text is not None:
                texts.append(text)
        return "\n".join(texts), tuple(cids)
    text = content.get("text")
    return (text if isinstance(text, str) else None), ()


IMAGE_ASSET_POINTER = "image_asset_pointer"
"""The ``content_type`` of a part that is an image: an uploaded file or a DALL-E generation."""


def _image_bytes(part: object, images: Mapping[str, bytes]) -> bytes | None:
    """The bytes given for an ``image_asset_pointer`` part, or None (it stays ``[image]``)."""
    if not images or not isinstance(part, Mapping) or part.get("content_type") != IMAGE_ASSET_POINTER:
        return None
    pointer = part.get("asset_pointer")
    return images.get(pointer) if isinstance(pointer, str) else None


def _dalle_prompt(part: Mapping[str, Any]) -> str | None:
    """The prompt a DALL-E generation was made from (``metadata.dalle.prompt``), or None."""
    metadata = part.get("metadata")
    dalle = metadata.get("dalle") if isinstance(metadata, Mapping) else None
    prompt = dalle.get("prompt") if isinstance(dalle, Mapping) else None
    return prompt if isinstance(prompt, str) else None


def _part_text(part: object) -> str | None:
    """A part's share of the text: itself, a voice message's transcription, or ``[image]``."""
    if isinstance(part, str):
        return part
    if isinstance(part, Mapping) and part.get("content_type") == AUDIO_TRANSCRIPTION:
        text = part.get("text")
        return text if isinstance(text, str) else None  # nothing was transcribed: nothing to keep
    return IMAGE_PLACEHOLDER
