"""The contributor page's verifier reads the golden proof bundles as it reads live ones.

``golden_bundles.mjs`` runs the very modules the browser loads (``api/static/hashing.js``,
``verify.js``) in node on the files of ``tests/formats/golden/``: the leaf hashes it recomputes
are the bundles' ``leafHash``, the proofs lead to the headers' roots, and a point more fails.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.formats.test_golden import GOLDEN
from tests.page.conftest import ROOT, require_node

SCRIPT = ROOT / "tests" / "formats" / "golden_bundles.mjs"


@pytest.mark.node
def test_the_page_verifier_recomputes_the_golden_bundles() -> None:
    node = require_node()
    run = subprocess.run([node, str(SCRIPT), str(GOLDEN)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["failures"] == []
    assert result["checked"] == 8  # every comparison ran: a script that skipped one would say fewer
