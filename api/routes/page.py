"""The contributor page: ``GET /`` and its static files under ``/static/``.

Plain HTML and ES modules from ``api/static/`` (no build step). The page verifies proofs in the
browser and reads roots from the chain's JSON-RPC endpoint itself, which may be any http(s) URL
(``TALLY_RPC_URL``), so the content security policy allows ``connect-src`` to any http(s)
origin; everything else is restricted to this server.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    # The chain's RPC URL is configurable: any http(s) endpoint, never a websocket or data: URL.
    "connect-src 'self' http: https:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def contributor_page() -> FileResponse:
    """The page itself; revalidated on every load so a new release is picked up at once."""
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8",
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


@router.get("/connect")
def wallet_bridge_page() -> FileResponse:
    """The extension's wallet bridge (extension/bridge.mjs): a web page, where wallets inject."""
    return FileResponse(STATIC_DIR / "connect.html", media_type="text/html; charset=utf-8",
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


@router.get("/feed")
def feed_page() -> FileResponse:
    """The public feed (``api/static/feed.js``): published contributions and their Like buttons."""
    return FileResponse(STATIC_DIR / "feed.html", media_type="text/html; charset=utf-8",
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


class _StaticFiles(StaticFiles):
    """StaticFiles with the page's security headers and revalidation (ETag) on every use."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


router.mount("/static", _StaticFiles(directory=STATIC_DIR), name="static")
