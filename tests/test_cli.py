"""The `tally` command as a person uses it: keys, submit, status, seal, db upgrade; and its errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ledger.errors import ExitCode
from tests.api.conftest import OPERATOR_KEY
from tests.support.server import API_ONLY, ROOT, tally_server

FIXTURES = ROOT / "tests" / "fixtures"


def tally(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tally.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **env}, stdin=subprocess.DEVNULL)


def one_line_error(result: subprocess.CompletedProcess[str], exit_code: int = ExitCode.BAD_INPUT) -> str:
    assert result.returncode == exit_code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tally: error: "), result.stderr
    return lines[0]


def test_keys_submit_status_and_seal(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"TALLY_HOME": str(home), "TALLY_OPERATOR_KEY": OPERATOR_KEY.to_hex(), **API_ONLY}
    keyfile = tmp_path / "me.json"
    with_pass = {**env, "TALLY_KEY_PASSPHRASE": "correct horse"}
    created = tally("keys", "new", "--out", str(keyfile), env=with_pass)
    assert created.returncode == 0, created.stderr
    address = json.loads(created.stdout)["address"]
    assert "correct horse" not in keyfile.read_text() and oct(keyfile.stat().st_mode)[-3:] == "600"
    assert "exists" in one_line_error(tally("keys", "new", "--out", str(keyfile), env=with_pass))
    assert "TALLY_KEY_PASSPHRASE" in one_line_error(tally("keys", "new", "--out", str(tmp_path / "x.json"), env=env))

    with tally_server(home, env=env) as url:
        submitted = tally("submit", str(FIXTURES / "chatgpt_regenerated.json"), "--key", str(keyfile), "--api", url,
                          "--json", env=with_pass)
        assert submitted.returncode == 0, submitted.stderr
        body = json.loads(submitted.stdout)
        assert body["contributor"] == address and body["contentHash"].startswith("0xd2bbd428")
        again = tally("submit", str(FIXTURES / "chatgpt_regenerated.json"), "--key", str(keyfile), "--api", url,
                      env=with_pass)
        assert "409 Already contributed" in one_line_error(again)
        wrong = tally("submit", str(FIXTURES / "chatgpt_regenerated.json"), "--key", str(keyfile), "--api", url,
                      env={**env, "TALLY_KEY_PASSPHRASE": "wrong"})
        assert "cannot decrypt" in one_line_error(wrong)
        garbage = tmp_path / "garbage.json"
        garbage.write_text("{not json")
        assert "is not JSON" in one_line_error(tally("submit", str(garbage), "--key", str(keyfile), "--api", url,
                                                     env=with_pass))
        assert "cannot reach" in one_line_error(tally(
            "submit", str(FIXTURES / "chatgpt_regenerated.json"), "--key", str(keyfile), "--api",
            "http://127.0.0.1:9", env=with_pass), ExitCode.UNAVAILABLE)

    status = json.loads(tally("status", "--json", env=env).stdout)
    assert status["pendingContributions"] == 1 and status["epochs"] == []
    report = json.loads(tally("report", "accruals", "--json", env=env).stdout)
    (top,) = report["accounts"]
    assert top["account"] == address and top["contributions"] == 1
    assert top["clients"] == [{"address": "127.0.0.1", "contributions": 1}]
    sealed = tally("seal", "--snapshot", env=env)
    assert sealed.returncode == 0 and json.loads(sealed.stdout)["epoch"] == 1
    # --snapshot: this epoch's manifest names a full balances snapshot, though it is not the 32nd.
    from ledger.content import LocalBlockStore

    blocks = LocalBlockStore(home / "blocks")
    manifest = json.loads(blocks.get(json.loads(sealed.stdout)["manifestCid"]))
    snapshot = json.loads(blocks.get(manifest["balances"]["snapshot"]))
    assert snapshot["epoch"] == 1 and snapshot["values"] == [[address, top["points"]]]
    assert json.loads(tally("seal", env=env).stdout)["sealed"] is None  # nothing new
    status = json.loads(tally("status", "--json", env=env).stdout)
    assert [e["state"] for e in status["epochs"]] == ["sealed"] and status["pendingContributions"] == 0
    assert tally("db", "upgrade", env=env).stdout.strip() == "database schema is up to date"


def test_bad_settings_end_with_one_line(tmp_path: Path) -> None:
    env = {"TALLY_HOME": str(tmp_path), "TALLY_ISSUED_AT_WINDOW": "soon"}
    assert "issued_at_window" in one_line_error(tally("status", env=env))
    env = {"TALLY_HOME": str(tmp_path), "TALLY_OPERATOR_KEY": "0xnotakey", **API_ONLY}
    error = one_line_error(tally("serve", "--no-jobs", env=env))
    assert "TALLY_OPERATOR_KEY" in error and "notakey" not in error


def test_exit_codes_say_what_failed(tmp_path: Path) -> None:
    """2: bad usage or input; 3: a service is unreachable (here the database); the help says so."""
    env = {"TALLY_HOME": str(tmp_path), **API_ONLY}
    missing = one_line_error(tally("submit", str(tmp_path / "nope.json"), "--key", str(tmp_path / "k.json"), env=env))
    assert "nope.json" in missing
    down = {**env, "TALLY_DATABASE_URL": "postgresql+psycopg://tally:s3cret-pw@127.0.0.1:9/tally"}
    error = one_line_error(tally("status", env=down), ExitCode.UNAVAILABLE)
    assert "database cannot be reached" in error and "s3cret-pw" not in error
    usage = tally("status", "--no-such-option", env=env)
    assert usage.returncode == ExitCode.BAD_INPUT
    helped = tally("--help", env=env)
    assert helped.returncode == 0 and "Exit codes: 0 ok; 1 verification failed" in " ".join(helped.stdout.split())


def test_serve_and_status_with_an_unreachable_database_exit_3_with_one_line(tmp_path: Path) -> None:
    """`serve` upgrades the schema first: an unreachable database ends it before it listens."""
    from tests.support.server import free_port

    env = {"TALLY_HOME": str(tmp_path), **API_ONLY,
           "TALLY_DATABASE_URL": f"postgresql+psycopg://tally:s3cret-pw@127.0.0.1:{free_port()}/tally"}
    for args in (("serve", "--port", str(free_port())), ("status",)):
        error = one_line_error(tally(*args, env=env), ExitCode.UNAVAILABLE)
        assert "database cannot be reached" in error and "s3cret-pw" not in error


def test_an_audit_whose_chain_node_is_unreachable_is_a_service_error_not_a_failed_audit(tmp_path: Path) -> None:
    env = {"TALLY_HOME": str(tmp_path)}
    error = one_line_error(tally("audit", "--rpc", "http://127.0.0.1:9/secret-key", "--ipfs", "http://127.0.0.1:9",
                                 "--contract", "0x" + "00" * 19 + "01", env=env), ExitCode.UNAVAILABLE)
    assert "secret-key" not in error


def test_submit_an_export_lists_it_then_submits_the_chosen_ones_in_a_batch(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"TALLY_HOME": str(home), "TALLY_OPERATOR_KEY": OPERATOR_KEY.to_hex(), **API_ONLY,
           "TALLY_KEY_PASSPHRASE": "correct horse"}
    keyfile = tmp_path / "me.json"
    assert tally("keys", "new", "--out", str(keyfile), env=env).returncode == 0
    export = str(ROOT / "examples" / "conversations.json")
    single = str(ROOT / "examples" / "chatgpt-conversation.json")
    with tally_server(home, env=env) as url:
        listed = tally("submit", export, "--key", str(keyfile), "--api", url, env=env)
        assert "an export of 2 conversations" in one_line_error(listed)
        rows = listed.stdout.splitlines()
        assert len(rows) == 2 and "Explain Merkle trees simply" in rows[0] and "4 messages" in rows[0]
        assert rows[1].split()[:2] == ["2", "2025-11-26"] and "a41e0c5d-92f7-4b0a-b3c6-1e8d5f2a9c07" in rows[1]
        assert "no conversation whose title contains" in one_line_error(
            tally("submit", export, "--key", str(keyfile), "--api", url, "--title", "sourdough", env=env))
        assert "holds one" in one_line_error(tally("submit", single, "--key", str(keyfile), "--api", url, "--all",
                                                   env=env))
        chosen = tally("submit", export, "--key", str(keyfile), "--api", url, "--id", "1", "--title", "RAINY",
                       "--json", env=env)
        assert chosen.returncode == 0, chosen.stderr
        answers = json.loads(chosen.stdout)
        assert [a["messages"] for a in answers] == [4, 2] and all(a["status"] == "pending" for a in answers)
        # Again: both are refused as already contributed, each on its own line; the command exits 2.
        again = tally("submit", export, "--key", str(keyfile), "--api", url, "--all", env=env)
        assert "2 of 2 conversations were refused" in one_line_error(again)
        assert again.stdout.count("409 Already contributed") == 2
        one = tally("submit", single, "--key", str(keyfile), "--api", url, env=env)
        assert one.returncode == 0, one.stderr
        lines = one.stdout.splitlines()
        assert lines[0].startswith("contribution 3 accepted:")
        assert any(line.startswith("next: ") and " proof 3 " in line and "--wait" in line for line in lines)
        assert any(line.startswith("then: ") and "verify bundle proof.json" in line and single in line
                   for line in lines)
        not_yet = tally("proof", "3", "--api", url, "--out", str(tmp_path / "p.json"), env=env)
        assert "not final on-chain yet" in one_line_error(not_yet, ExitCode.UNAVAILABLE)
        assert not (tmp_path / "p.json").exists()


def test_an_audit_of_a_malformed_or_missing_contract_is_a_usage_error(tmp_path: Path) -> None:
    env = {"TALLY_HOME": str(tmp_path)}
    chain = ("--rpc", "http://127.0.0.1:9", "--ipfs", "http://127.0.0.1:9")  # never reached: usage comes first
    for malformed in ("0x...", "0x" + "ab" * 19, "0xAbCdEf" + "0" * 34, "5FbDB2315678afecb367f032d93F642f64180aa3"):
        error = one_line_error(tally("audit", *chain, "--contract", malformed, env=env))
        assert error.startswith("tally: error: Invalid value for '--contract'") and "Traceback" not in error
    error = one_line_error(tally("audit", *chain, env=env))
    assert f"no deployment record at {tmp_path / 'deployment.json'}" in error and "pass --contract" in error
    (tmp_path / "deployment.json").write_text("{not json")
    assert "unreadable" in one_line_error(tally("audit", *chain, env=env))
    assert "TALLY_CONTRACT_ADDRESS" in one_line_error(tally("audit", *chain, env={**env,
                                                                                  "TALLY_CONTRACT_ADDRESS": "0x..."}))
    assert "'--from-block'" in one_line_error(tally("audit", *chain, "--contract", "0x" + "00" * 20, "--from-block",
                                                  "-1", env=env))
