"""The contributor page against a live server on a real port, with anvil and a deployed contract.

Reuses the anchoring end-to-end fixtures (``stack``: anvil + TallyAnchor + ledger; ``served``:
the real app) and runs the app with uvicorn, because Chromium needs a real URL.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

import pytest
from fastapi.testclient import TestClient

from tests.anchoring_e2e.conftest import served, stack  # noqa: F401  (fixtures used by this suite)
from tests.support.server import serving_app

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = Path(os.environ.get("TALLY_CHROMIUM", "/usr/bin/chromium"))
PLAYWRIGHT = ROOT / "node_modules" / "playwright-core"
ARTIFACTS = ROOT / "test-artifacts" / "page"

# A made-up explorer, so that the page's transaction and "Read contract" links render; nothing
# ever fetches it (a local anvil chain has no explorer).
EXPLORER = "https://explorer.invalid"


def _missing(reason: str) -> NoReturn:
    """Skip on a developer machine, fail in CI, where the page must be tested."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the contributor page tests")
    pytest.skip(reason)


def require_node() -> str:
    node = shutil.which("node")
    if node is None:
        _missing("node is not installed")
    return node


def require_browser() -> str:
    """The node binary, after checking that Chromium and playwright-core are there."""
    node = require_node()
    if not CHROMIUM.is_file():
        _missing(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or tools/install-browser.sh)")
    if not PLAYWRIGHT.is_dir():
        _missing("playwright-core is not installed: npm ci")
    return node


@pytest.fixture
def browser_node() -> str:
    """Node, with Chromium and playwright-core checked before anvil and the server start."""
    return require_browser()


@pytest.fixture
def live_url(served: TestClient) -> Iterator[str]:  # noqa: F811  (the fixture imported above)
    """The real app on a real port, with explorer links configured."""
    app = served.app
    services = app.state.services  # type: ignore[attr-defined]
    app.state.services = replace(services, chain=replace(services.chain, explorer_url=EXPLORER))  # type: ignore[attr-defined]
    with serving_app(app) as url:
        yield url
