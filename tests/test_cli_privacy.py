"""`tally redact` shows a conversation as it is submitted, personal data replaced; `tally submit`
signs and sends that form and says what it replaced, never the values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from ledger.conversation import content_hash
from ledger.errors import ExitCode
from ledger.personal_data import redact_for_submission
from tests.api.conftest import OPERATOR_KEY
from tests.support.server import API_ONLY, ROOT, tally_server
from tests.test_cli import one_line_error, tally

VALUES = ["ana.rossi@gmail.com", "+44 20 7946 1234", "93.184.216.34"]
PERSONAL: dict[str, Any] = {"title": "Travel plans", "conversations": [
    {"from": "human", "value": f"Book it for {VALUES[0]}, phone {VALUES[1]}"},
    {"from": "gpt", "value": f"Done. The booking server was {VALUES[2]}."}]}
REDACTED = {"v": 1, "model": None, "messages": [
    {"role": "user", "content": "Book it for [email], phone [phone]"},
    {"role": "assistant", "content": "Done. The booking server was [ip]."}]}
REPLACED = "email in message 0, phone in message 0, ip in message 1"


def write(tmp_path: Path, name: str, value: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return path


def test_redact_shows_the_conversation_as_submitted(tmp_path: Path) -> None:
    shown = tally("redact", str(write(tmp_path, "c.json", PERSONAL)), env={})
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == ["[0] user: Book it for [email], phone [phone]",
                                         "[1] assistant: Done. The booking server was [ip].",
                                         f"replaced: {REPLACED}"]
    assert not any(v in shown.stdout + shown.stderr for v in VALUES)


def test_redact_json_is_what_submit_signs(tmp_path: Path) -> None:
    shown = tally("redact", str(write(tmp_path, "c.json", PERSONAL)), "--json", env={})
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == REDACTED == redact_for_submission(PERSONAL)[0]
    assert shown.stderr.strip() == f"replaced: {REPLACED}"
    clean = tally("redact", str(ROOT / "examples" / "chatgpt-conversation.json"), "--json", env={})
    assert clean.returncode == 0 and clean.stderr.strip() == "no personal data found"
    assert content_hash(json.loads(clean.stdout)) == content_hash(
        json.loads((ROOT / "examples" / "chatgpt-conversation.json").read_text()))


def test_redact_an_export_gives_an_array_and_names_what_it_leaves_out(tmp_path: Path) -> None:
    broken = {"title": "empty", "mapping": {}, "current_node": "x"}
    export = write(tmp_path, "conversations.json", [PERSONAL, broken])
    shown = tally("redact", str(export), "--json", env={})
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == [REDACTED]
    assert "2. cannot be submitted, left out" in shown.stderr and f"replaced: {REPLACED}" in shown.stderr


def test_redact_refuses_what_is_not_a_conversation(tmp_path: Path) -> None:
    garbage = tmp_path / "g.json"
    garbage.write_text("{not json")
    assert "is not JSON" in one_line_error(tally("redact", str(garbage), env={}))
    empty = write(tmp_path, "e.json", {"messages": []})
    assert "at least one non-empty user message" in one_line_error(tally("redact", str(empty), env={}),
                                                                    ExitCode.BAD_INPUT)


def test_submit_sends_the_redacted_form_and_says_what_it_replaced(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"TALLY_HOME": str(home), "TALLY_OPERATOR_KEY": OPERATOR_KEY.to_hex(), "TALLY_PRIVACY": "false",
           "TALLY_KEY_PASSPHRASE": "correct horse", **API_ONLY}
    keyfile = tmp_path / "me.json"
    assert tally("keys", "new", "--out", str(keyfile), env=env).returncode == 0
    conversation = write(tmp_path, "c.json", PERSONAL)
    with tally_server(home, env=env) as url:
        submitted = tally("submit", str(conversation), "--key", str(keyfile), "--api", url, env=env)
        assert submitted.returncode == 0, submitted.stderr
        assert submitted.stdout.splitlines()[0] == f"personal data replaced before signing: {REPLACED}"
        assert f"contentHash {content_hash(REDACTED)}" in submitted.stdout
        assert not any(v in submitted.stdout + submitted.stderr for v in VALUES)
        stored = httpx.get(f"{url}/v1/contributions/{content_hash(REDACTED)}").raise_for_status().json()
        raw = httpx.get(f"{url}/ipfs/{stored['cid']}", headers={"accept": "application/vnd.ipld.raw"})
        assert raw.content == json.dumps(REDACTED, separators=(",", ":"), sort_keys=True).encode()

        # With --json, stdout is the API's answer alone; what was replaced goes to stderr.
        other = {"conversations": [
            {"from": "human", "value": "Which sourdough hydration suits a beginner? Reply to bo.lund@web.de please."},
            {"from": "gpt", "value": "Start around 65 to 70 percent: the dough is easier to shape, and you can raise "
                                     "it once folding and proofing feel familiar."}]}
        as_json = tally("submit", str(write(tmp_path, "d.json", other)), "--key", str(keyfile), "--api", url,
                        "--json", env=env)
        assert as_json.returncode == 0, as_json.stderr
        assert json.loads(as_json.stdout)["points"]
        assert as_json.stderr.strip() == "personal data replaced before signing: email in message 0"
