"""``GET /`` and ``/static/``: the files, their types, the security headers, the vendored code."""

from __future__ import annotations

import hashlib
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.routes import page

STATIC = page.STATIC_DIR


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    app.include_router(page.router)
    return TestClient(app)


def test_the_page_is_served_with_a_strict_policy_that_lets_it_reach_any_rpc(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == (STATIC / "index.html").read_text()
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert policy["script-src"] == "'self'"  # no inline script, no eval, no third-party code
    assert policy["connect-src"] == "'self' http: https:"  # the chain's RPC URL is configurable
    assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_wallet_bridge_page_is_served_with_the_same_policy(client: TestClient) -> None:
    # The extension's wallet bridge: a web page, since wallets inject into those only.
    response = client.get("/connect")
    assert response.status_code == 200
    assert response.text == (STATIC / "connect.html").read_text()
    assert response.headers["content-security-policy"] == client.get("/").headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(("html", "module"), [("index.html", "/static/app.js"), ("connect.html", "/static/connect.js")])
def test_every_file_the_page_loads_is_served_as_what_it_is(client: TestClient, html: str, module: str) -> None:
    text = (STATIC / html).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline script would need 'unsafe-inline'"
    assert not re.search(r"\sstyle=", text), "inline style would need 'unsafe-inline'"
    assert f'src="{module}"' in text
    # The modules, and what they import, transitively: a typo in an import path fails here.
    pending = [module]
    seen: set[str] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/javascript"), path
        assert "content-security-policy" in response.headers
        base = path.rsplit("/", 1)[0]
        for target in re.findall(r'^\s*(?:import|export)\b[^;]*?from\s+"(\./[^"]+)"', response.text, re.MULTILINE):
            pending.append(f"{base}/{target.removeprefix('./')}")
    assert {"/static/hashing.js", "/static/vendor/noble-hashes/sha3.js", "/static/vendor/noble-hashes/utils.js"} <= seen
    if html == "index.html":
        assert {"/static/chain.js", "/static/verify.js"} <= seen
    css = client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_nothing_outside_the_static_folder_is_served(client: TestClient) -> None:
    for path in ("/static/../routes/page.py", "/static/%2e%2e/routes/page.py", "/static/%2e%2e%2fapp.py",
                 "/static/missing.js"):
        assert client.get(path).status_code == 404, path


def test_vendored_noble_hashes_is_the_upstream_code_with_a_license_line() -> None:
    """Each vendored file minus its first (license) line hashes to what vendor/README.md records."""
    readme = (STATIC / "vendor" / "README.md").read_text()
    recorded = dict(re.findall(r"\| `(noble-hashes/[^`]+)` \| [^|]+ \| `([0-9a-f]{64})` \|", readme))
    assert set(recorded) == {"noble-hashes/sha3.js", "noble-hashes/_u64.js", "noble-hashes/utils.js",
                             "noble-hashes/LICENSE"}
    for name, digest in recorded.items():
        data = (STATIC / "vendor" / name).read_bytes()
        if name.endswith(".js"):
            header, data = data.split(b"\n", 1)
            assert header.startswith(b"/*! noble-hashes 2.4.0") and b"MIT License" in header
        assert hashlib.sha256(data).hexdigest() == digest, name
