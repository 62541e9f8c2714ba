"""The extension's ChatGPT reader (extension/chatgpt.mjs), its image download
(extension/chatgpt-images.mjs) and what the page makes of the images before signing
(extension/share.mjs), walked by node's test runner.

The cases live in chatgpt_reader.test.mjs, chatgpt_images.test.mjs and share_images.test.mjs,
beside the recorded answers they read (fixtures/chatgpt-backend/); this runs them and shows node's
report when one fails. share.mjs imports the vendored client, so the extension is built first.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.clients.conftest import require_node
from tests.conftest import ROOT

pytestmark = pytest.mark.node

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("cases", ["chatgpt_reader.test.mjs", "chatgpt_images.test.mjs", "share_images.test.mjs"])
def test_the_chatgpt_reader_cases_pass(cases: str) -> None:
    require_node()
    if cases == "share_images.test.mjs":
        subprocess.run(["node", str(ROOT / "extension" / "build.mjs")], cwd=ROOT, check=True, capture_output=True,
                       timeout=60)
    done = subprocess.run(["node", "--test", str(HERE / cases)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout and "# pass 0" not in done.stdout
