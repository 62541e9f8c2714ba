"""Every request gets an id: the client's ``X-Request-Id`` when it is a sane token, else a new one.

It is answered in the ``X-Request-Id`` header and set as the current operation
(``ledger.operations``) while the request runs, so every log line of that request, in the API
and in the ledger alike, carries it. A pure ASGI middleware: no body buffering.
"""

from __future__ import annotations

import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.operations import new_operation_id, operation

HEADER = "x-request-id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"x-request-id"), "")
        request_id = given if _SANE.fullmatch(given) else new_operation_id("req")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(HEADER, request_id)
            await send(message)

        with operation(request_id):
            await self.app(scope, receive, send_with_id)
