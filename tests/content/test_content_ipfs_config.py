"""`IpfsStore` configuration without a daemon: URL forms and the auth headers actually sent."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from ledger.content import IpfsStore, StoreUnavailableError
from ledger.content.ipfs import url_to_multiaddr

pytestmark = pytest.mark.filterwarnings("ignore:The 'strict' parameter:FutureWarning")


@pytest.mark.parametrize(
    ("url", "addr", "base"),
    [
        ("http://127.0.0.1:5001", "/ip4/127.0.0.1/tcp/5001/http", "api/v0"),
        ("https://ipfs.example.org", "/dns/ipfs.example.org/tcp/443/https", "api/v0"),
        ("http://[::1]:5001/", "/ip6/::1/tcp/5001/http", "api/v0"),
        ("http://127.0.0.1:5001/api/v0", "/ip4/127.0.0.1/tcp/5001/http", "api/v0"),
        ("http://node:5001/x/api/v0/", "/dns/node/tcp/5001/http", "x/api/v0"),
        ("https://pin.example.org:8443/proxy/", "/dns/pin.example.org/tcp/8443/https",
         "proxy/api/v0"),
    ],
)
def test_url_to_multiaddr(url: str, addr: str, base: str) -> None:
    assert url_to_multiaddr(url) == (addr, base)


def test_bad_configuration() -> None:
    with pytest.raises(ValueError):
        url_to_multiaddr("ftp://example.org")
    with pytest.raises(ValueError):
        IpfsStore("http://127.0.0.1:5001", username="u", password="p", bearer_token="t")
    with pytest.raises(ValueError):
        IpfsStore("http://127.0.0.1:5001", username="u")


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_POST(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        if self.headers.get("Authorization") in (None, "Bearer wrong"):
            self.send_response(401)
            self.end_headers()
            return
        body = json.dumps({"Version": "0.0.0-fake"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_node() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/gateway"
    finally:
        server.shutdown()
        server.server_close()


def test_basic_auth_and_path_prefix(fake_node: str) -> None:
    with IpfsStore(fake_node, username="tally", password="s3cret") as store:
        assert store.version()["Version"] == "0.0.0-fake"
    path, auth = _Recorder.seen[-1]
    assert path.startswith("/gateway/api/v0/version")
    assert auth == "Basic " + base64.b64encode(b"tally:s3cret").decode()


def test_bearer_token(fake_node: str) -> None:
    with IpfsStore(fake_node, bearer_token="tok-123") as store:
        store.version()
    assert _Recorder.seen[-1][1] == "Bearer tok-123"


def test_rejected_credentials_are_unavailability(fake_node: str) -> None:
    with IpfsStore(fake_node, bearer_token="wrong", timeout=5) as store, \
            pytest.raises(StoreUnavailableError):
        store.version()
