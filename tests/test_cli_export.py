"""`tally export` against a real `tally serve`: every contribution after an id into a JSON Lines
file that appears only once complete, pages followed to the end, and each failure one line."""

from __future__ import annotations

import json
import time
from pathlib import Path

from eth_keys import keys

from ledger.errors import ExitCode
from tally.client import submit_conversations
from tests.api.conftest import OPERATOR_KEY
from tests.support.conversations import passage
from tests.support.server import API_ONLY, tally_server
from tests.test_cli import one_line_error, tally

CONSUMER_KEY = "consumer-s3cret"


def conversation(n: int) -> dict[str, object]:
    return {"messages": [
        {"role": "user", "content": f"Question {n}: what does a data consumer receive from Tally, and why?"},
        {"role": "assistant", "content": f"Answer {n}: the canonical conversation and what its contributor "
                                         f"signed, so that its use can be paid. {passage(f'export {n}')}"}]}


def test_export_writes_every_contribution_after_an_id_and_each_failure_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"TALLY_HOME": str(home), "TALLY_OPERATOR_KEY": OPERATOR_KEY.to_hex(), **API_ONLY,
           "TALLY_USAGE_API_KEY": CONSUMER_KEY}
    with tally_server(home, env=env) as url:
        accepted = submit_conversations(url, [conversation(n) for n in range(5)], keys.PrivateKey(bytes([7]) * 32),
                                        first_nonce=1, issued_at=int(time.time()))
        assert all(isinstance(a, dict) for a in accepted), accepted
        ids = [a["id"] for a in accepted]  # type: ignore[index]

        out = tmp_path / "all.jsonl"
        done = tally("export", "--out", str(out), "--api", url, env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"out": str(out), "contributions": 5, "lastId": ids[-1]}
        assert CONSUMER_KEY not in done.stdout + done.stderr
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        assert [line["id"] for line in lines] == ids and lines[0]["conversation"]["messages"]

        later = tmp_path / "later.jsonl"
        assert tally("export", "--out", str(later), "--after", str(ids[2]), "--api", url, env=env).returncode == 0
        assert [json.loads(line)["id"] for line in later.read_text().splitlines()] == ids[3:]

        assert "exists" in one_line_error(tally("export", "--out", str(out), "--api", url, env=env))
        fresh = tmp_path / "fresh.jsonl"
        no_key = {k: v for k, v in env.items() if k != "TALLY_USAGE_API_KEY"}
        assert "TALLY_USAGE_API_KEY" in one_line_error(tally("export", "--out", str(fresh), "--api", url, env=no_key))
        wrong = one_line_error(tally("export", "--out", str(fresh), "--api", url,
                                     env={**env, "TALLY_USAGE_API_KEY": "wrong"}))
        assert "401" in wrong and "data-consumer API key is required" in wrong
        assert not fresh.exists() and not fresh.with_name("fresh.jsonl.partial").exists()
    gone = one_line_error(tally("export", "--out", str(fresh), "--api", url, env=env), ExitCode.UNAVAILABLE)
    assert "cannot reach" in gone and not fresh.exists()
