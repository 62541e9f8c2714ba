"""The contributor page's wording of pending, sealed and stored states (``api/static/status.js``),
checked by node on the module the browser loads, for the states a browser test cannot reach in
seconds: a seal overdue, an IPFS node pinning, an epoch mined but not final."""

from __future__ import annotations

import subprocess

import pytest

from tests.page.conftest import ROOT, require_node

pytestmark = pytest.mark.node


def test_each_state_has_true_words() -> None:
    run = subprocess.run([require_node(), str(ROOT / "tests" / "page" / "status_words.mjs")],
                         capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout == "ok\n"
