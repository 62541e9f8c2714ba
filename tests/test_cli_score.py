"""`tally score FILE [--json]`: the current scorer's points and features for any accepted input,
offline, and one `tally: error:` line (exit 2) for anything else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ledger.conversation import normalise
from ledger.errors import ExitCode
from ledger.scoring import SCORER_VERSION, points_from_features, score
from tests.support.server import ROOT

EXAMPLES = ROOT / "examples"


def tally_score(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    return subprocess.run([sys.executable, "-m", "tally.cli", "score", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def example_messages() -> list[dict[str, str]]:
    """The README's example ChatGPT conversation, as plain messages."""
    conversation = normalise(json.loads((EXAMPLES / "chatgpt-conversation.json").read_text()))
    return [{"role": m.role, "content": m.content} for m in conversation.messages]


def sharegpt_record() -> dict[str, Any]:
    return {"id": "x1", "conversations": [{"from": "human" if m["role"] == "user" else "gpt", "value": m["content"]}
                                          for m in example_messages()]}


# Every accepted format, holding the same conversation.
ACCEPTED = [
    ("chatgpt", lambda tmp: EXAMPLES / "chatgpt-conversation.json"),
    ("sharegpt", lambda tmp: _write(tmp / "sharegpt.json", sharegpt_record())),
    ("messages", lambda tmp: _write(tmp / "plain.json", {"messages": example_messages()})),
]


def _write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(("name", "make"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_every_accepted_format_gets_the_reference_breakdown(tmp_path: Path, name: str, make: Any) -> None:
    path = make(tmp_path)
    expected = score(normalise(json.loads(path.read_text()))).as_dict()
    as_json = tally_score(str(path), "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    breakdown = json.loads(as_json.stdout)
    assert breakdown == expected and breakdown["version"] == SCORER_VERSION and breakdown["points"] > 0
    assert breakdown == score(normalise({"messages": example_messages()})).as_dict()  # whatever the format
    assert points_from_features(breakdown["version"], breakdown["features"]) == breakdown["points"]
    text = tally_score(str(path), cwd=tmp_path)
    assert text.returncode == 0 and text.stdout.startswith(f"{expected['points']} points ({SCORER_VERSION})")
    assert f"novel {expected['features']['novel']}" in text.stdout and "vocabulary" in text.stdout


def test_an_export_scores_each_of_its_conversations(tmp_path: Path) -> None:
    export = EXAMPLES / "conversations.json"
    entries = json.loads(export.read_text())
    result = tally_score(str(export), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    scored = json.loads(result.stdout)
    assert [s["index"] for s in scored] == list(range(1, len(entries) + 1))
    for item, entry in zip(scored, entries, strict=True):
        assert {k: item[k] for k in ("version", "points", "features")} == score(normalise(entry)).as_dict()
    lines = tally_score(str(export), cwd=tmp_path).stdout.splitlines()
    assert len(lines) == len(entries) and all("points" in line for line in lines)


BAD = [  # (file content, what the error line says)
    (b"{", "is not JSON"),
    (b"\xff\xfe{}", "is not JSON"),
    (b'{"title": "no messages"}', "not a known conversation format"),
    (b'{"messages": [{"role": "user", "content": "only a question"}]}', "at least one non-empty user message"),
    (b'{"messages": [{"role": "wizard", "content": "hi"}, {"role": "assistant", "content": "hello"}]}',
     "unknown message role"),
    (b"[]", "an empty export"),
    (b"[" * 100 + b"]" * 100, "nests 100 levels deep"),
]


@pytest.mark.parametrize(("content", "says"), BAD, ids=[b[1] for b in BAD])
def test_bad_input_is_one_error_line(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "input.json"
    path.write_bytes(content)
    result = tally_score(str(path), cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == ExitCode.BAD_INPUT, result.stderr
    assert len(lines) == 1 and lines[0].startswith("tally: error: ") and says in lines[0], result.stderr
    assert result.stdout == ""


def test_an_export_entry_that_cannot_be_scored_is_named_not_fatal(tmp_path: Path) -> None:
    path = _write(tmp_path / "export.json", [sharegpt_record(), {"title": "broken"}])
    result = tally_score(str(path), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    first, second = json.loads(result.stdout)
    assert first["points"] > 0 and "not a known conversation format" in second["problem"]
