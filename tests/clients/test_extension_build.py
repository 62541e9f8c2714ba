"""`make extension`'s build: the release folder holds every file the extension loads, and a
deployment's API origin ends up where the wallet bridge and the API calls need it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.clients.conftest import EXTENSION, require_node
from tests.conftest import ROOT

pytestmark = pytest.mark.node

IMPORT = re.compile(r'^\s*(?:import|export)\b[^;]*?from\s+"(\./[^"]+)"|import\("(\./[^"]+)"\)', re.MULTILINE)


def build(out: Path, api: str | None = None) -> dict[str, object]:
    require_node()
    env = {k: v for k, v in os.environ.items() if k != "TALLY_API_URL"}
    if api:
        env["TALLY_API_URL"] = api
    subprocess.run(["node", str(EXTENSION / "build.mjs"), "--out", str(out)], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=60)
    manifest: dict[str, object] = json.loads((out / "manifest.json").read_text())
    return manifest


def test_the_release_folder_holds_every_module_the_pages_import(tmp_path: Path) -> None:
    out = tmp_path / "extension"
    manifest = build(out)
    entries = [manifest["background"]["service_worker"]]  # type: ignore[index]
    for page in ("app.html", "options.html"):
        entries += re.findall(r'<script type="module" src="([^"]+)"', (out / page).read_text())
        assert re.search(r'<link rel="stylesheet" href="style.css">', (out / page).read_text())
    out = out.resolve()
    pending, seen = [out / e for e in entries], set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        assert path.is_file(), f"{path.relative_to(out)} is imported but not shipped"
        seen.add(path)
        for static, dynamic in IMPORT.findall(path.read_text()):
            pending.append((path.parent / (static or dynamic)).resolve())
    names = {str(p.relative_to(out)) for p in seen}
    assert {"app.mjs", "chatgpt.mjs", "chatgpt-images.mjs", "bridge.mjs", "share.mjs", "vendor/tally-client.mjs",
            "vendor/ethers.mjs", "vendor/page/verify.js", "vendor/page/vendor/noble-hashes/sha3.js"} <= names, names
    # What is shipped is the source, not a copy that could drift.
    assert (out / "chatgpt.mjs").read_bytes() == (EXTENSION / "chatgpt.mjs").read_bytes()
    assert (out / "vendor" / "tally-client.mjs").read_bytes() == (ROOT / "clients/js/tally-client.mjs").read_bytes()


def test_a_deployment_build_admits_its_api_origin(tmp_path: Path) -> None:
    plain = build(tmp_path / "plain")
    manifest = build(tmp_path / "deployed", "https://tally.example.org/api")
    assert "https://tally.example.org/*" not in plain["host_permissions"]  # type: ignore[operator]
    assert manifest["host_permissions"] == [*plain["host_permissions"], "https://tally.example.org/*"]  # type: ignore[misc]
    assert manifest["externally_connectable"] == {
        "matches": ["http://127.0.0.1/*", "http://localhost/*", "https://tally.example.org/*"]}
    # chatgpt.com and the storage its images' signed links point to are read, never anything else
    # of the web without the user granting it.
    assert [p for p in plain["host_permissions"] if p.startswith("https://")] == [  # type: ignore[attr-defined]
        "https://chatgpt.com/*", "https://*.oaiusercontent.com/*"]
    assert manifest["permissions"] == ["storage"]


def test_make_extension_packs_the_folder_as_a_zip() -> None:
    require_node()
    subprocess.run(["make", "extension"], cwd=ROOT, check=True, capture_output=True, timeout=120)
    with zipfile.ZipFile(ROOT / "build" / "tally-extension.zip") as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["manifest_version"] == 3 and "app.html" in names and "vendor/tally-client.mjs" in names
