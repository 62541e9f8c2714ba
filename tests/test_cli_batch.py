"""`tally submit` of an export's selection against a real `tally serve`: signed once with a
ContributionBatch per request of limits.maxBatch, one line per conversation, exit 2 if any was
refused while the others are accepted."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx

from ledger.errors import ExitCode
from tests.api.conftest import OPERATOR_KEY
from tests.conftest import ROOT
from tests.support.conversations import passage
from tests.support.server import API_ONLY, tally_server
from tests.test_cli import one_line_error, tally


def export_of(titles: list[str]) -> list[dict[str, Any]]:
    """A ChatGPT export holding one conversation per title, each of its own (no near-duplicates)."""
    template = json.loads((ROOT / "examples" / "conversations.json").read_text())[1]
    out = []
    for n, title in enumerate(titles):
        conversation = copy.deepcopy(template)
        conversation["title"] = title
        conversation["id"] = conversation["conversation_id"] = f"batch-{n}"
        answer = conversation["mapping"][conversation["current_node"]]["message"]["content"]
        answer["parts"] = [f"Answer {n} for {title}: {passage(f'cli batch {n}')}"]
        out.append(conversation)
    return out


def test_submit_signs_a_selection_once_per_chunk_and_exits_2_if_any_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"TALLY_HOME": str(home), "TALLY_OPERATOR_KEY": OPERATOR_KEY.to_hex(), **API_ONLY,
           "TALLY_KEY_PASSPHRASE": "correct horse", "TALLY_MAX_BATCH": "2"}
    helped = " ".join(tally("submit", "--help", env=env).stdout.split())
    assert "one EIP-712 ContributionBatch signature" in helped and "Exit code 2 if any conversation was refused" \
        in helped
    keyfile = tmp_path / "me.json"
    assert tally("keys", "new", "--out", str(keyfile), env=env).returncode == 0
    export = tmp_path / "conversations.json"
    export.write_text(json.dumps(export_of(["alpha one", "Alpha two", "beta", "ALPHA three", "gamma"])))
    with tally_server(home, env=env) as url:
        # --title: three match; with limits.maxBatch 2, two requests, one signature each.
        by_title = tally("submit", str(export), "--key", str(keyfile), "--api", url, "--title", "alpha", env=env)
        assert by_title.returncode == 0, by_title.stderr
        lines = by_title.stdout.splitlines()
        assert "signing conversations 1 to 2 once (one ContributionBatch signature)" in lines[0]
        assert "signing conversations 3 to 3 once" in lines[1]
        accepted = [line for line in lines if " accepted: " in line]
        assert len(accepted) == 3 and all("receipt and batch consent checked" in line for line in accepted)
        with httpx.Client(base_url=url) as client:
            ids = [int(line.split()[2]) for line in accepted]
            consents = [client.get(f"/v1/contributions/{i}").json()["consent"] for i in ids]
        assert [c["batch"]["count"] for c in consents] == [2, 2, 1]
        assert consents[0]["signature"] == consents[1]["signature"] != consents[2]["signature"]
        assert consents[0]["nonce"] == consents[1]["nonce"] != consents[2]["nonce"]

        # --id, repeatable, by index or by the export's id.
        by_id = tally("submit", str(export), "--key", str(keyfile), "--api", url, "--id", "3", "--id", "batch-4",
                      "--json", env=env)
        assert by_id.returncode == 0, by_id.stderr
        answers = json.loads(by_id.stdout)
        assert len(answers) == 2 and answers[0]["consent"]["batch"]["contentsRoot"] == \
            answers[1]["consent"]["batch"]["contentsRoot"]

        # --all now: every one already contributed, each refused on its own line; exit 2.
        again = tally("submit", str(export), "--key", str(keyfile), "--api", url, "--all", env=env)
        assert "5 of 5 conversations were refused" in one_line_error(again, ExitCode.BAD_INPUT)
        assert again.stdout.count("409 Already contributed") == 5

    # A selection where one is refused and the others accepted still exits 2, naming the count.
    fresh_home = tmp_path / "fresh"
    env = {**env, "TALLY_HOME": str(fresh_home)}
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps(export_of(["one", "two", "three"])))
    with tally_server(fresh_home, env=env) as url:
        assert tally("submit", str(mixed), "--key", str(keyfile), "--api", url, "--id", "2", env=env).returncode == 0
        some = tally("submit", str(mixed), "--key", str(keyfile), "--api", url, "--all", env=env)
        assert "1 of 3 conversations were refused" in one_line_error(some, ExitCode.BAD_INPUT)
        assert some.stdout.count(" accepted: ") == 2 and "   2. refused: 409 Already contributed" in some.stdout
