"""Reading a JSON request body within the published limits."""

from __future__ import annotations

import json
from typing import Any

from anyio import to_thread
from fastapi import Request

from api.errors import BodyTooLargeError, MalformedJsonError, UnsupportedMediaTypeError
from ledger.nesting import check_nesting


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_json(request: Request, limit: int, attachments_limit: int | None = None) -> Any:
    """The parsed body; 415, 413 or 400 problems for the wrong type, size, depth or syntax.

    The body is read chunk by chunk and refused as soon as it passes ``limit``, so an oversized
    body is never held whole; its nesting is checked before it is parsed (``ledger.nesting``).
    With ``attachments_limit``, a body that carries images (an ``attachments`` member) may be
    that long; any other is still held to ``limit``. It is parsed in a request thread.
    """
    data = await read_body(request, limit, attachments_limit)
    return await to_thread.run_sync(parse_body, data, limit)


async def read_body(request: Request, limit: int, attachments_limit: int | None = None) -> bytes:
    """``read_json``'s bytes, for a route that parses them (``parse_body``) in the same thread as
    the work that follows: a hop to a thread costs ~0.1 ms of CPU."""
    if attachments_limit is None or attachments_limit <= limit:
        return await _read(request, limit)
    data = await _read(request, attachments_limit)
    # Refused unparsed when it cannot be a body with images: nothing past ``limit`` is parsed
    # unless it names attachments, and then it must have them once parsed (``parse_body``).
    if len(data) > limit and b'"attachments"' not in data:
        raise BodyTooLargeError(f"the body exceeds the limit of {limit} bytes", limit=limit)
    return data


def parse_body(data: bytes, limit: int) -> Any:
    """``read_body``'s bytes parsed (``parse_json``); past ``limit`` only a body with attachments."""
    body = parse_json(data)
    if len(data) > limit and not (isinstance(body, dict) and "attachments" in body):
        raise BodyTooLargeError(f"the body exceeds the limit of {limit} bytes", limit=limit)
    return body


async def _read(request: Request, limit: int) -> bytes:
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise UnsupportedMediaTypeError(f"the body must be application/json, not {media or 'unspecified'}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"the body is {declared} bytes; the limit is {limit}", limit=limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"the body exceeds the limit of {limit} bytes", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(data: bytes) -> Any:
    """Strict JSON (no NaN nor Infinity), refused unparsed when it nests too deep."""
    check_nesting(data)
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedJsonError(f"the body is not valid JSON: {exc}") from None
