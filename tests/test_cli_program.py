"""`tally program` against a real `tally serve`: a program defined with the admin key, a member
enrolled by the admin and one by its own signature, a leave, and each refusal one line."""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account

from ledger.errors import ExitCode
from tests.api.conftest import OPERATOR_KEY
from tests.support.keystores import quick_keystore
from tests.support.server import API_ONLY, tally_server
from tests.test_cli import one_line_error, tally

ADMIN_KEY = "admin-s3cret"
MEMBER = Account.from_key(b"\x09" * 32)
OTHER = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"


def test_program_commands_define_enrol_show_and_leave(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"TALLY_HOME": str(home), "TALLY_OPERATOR_KEY": OPERATOR_KEY.to_hex(), **API_ONLY,
           "TALLY_ADMIN_API_KEY": ADMIN_KEY, "TALLY_KEY_PASSPHRASE": "pass"}
    keyfile = tmp_path / "member.json"
    quick_keystore(keyfile, MEMBER.key, "pass")
    with tally_server(home, env=env) as url:
        defined = tally("program", "define", "creators", "--period", "week", "--minimum", "500",
                        "--start", "2026-12-07", "--api", url, env=env)
        assert defined.returncode == 0, defined.stderr
        assert "defined" in defined.stdout and ADMIN_KEY not in defined.stdout + defined.stderr
        assert tally("program", "enrol", "creators", OTHER, "--api", url, env=env).returncode == 0
        signed = tally("program", "enrol", "creators", "--key", str(keyfile), "--api", url, env=env)
        assert signed.returncode == 0, signed.stderr
        shown = json.loads(tally("program", "show", "creators", "--json", "--api", url, env=env).stdout)
        assert sorted(shown["members"]) == sorted([OTHER, MEMBER.address]) and shown["minimum"] == "500"
        assert tally("program", "leave", "creators", OTHER, "--api", url, env=env).returncode == 0
        assert "not a member" in one_line_error(tally("program", "leave", "creators", OTHER, "--api", url, env=env))
        other = one_line_error(tally("program", "define", "creators", "--period", "day", "--minimum", "5",
                                     "--start", "2026-12-07", "--api", url, env=env))
        assert "409" in other and "program-exists" in other
        bad = one_line_error(tally("program", "define", "x", "--period", "week", "--minimum", "5",
                                   "--start", "07/12/2026", "--api", url, env=env))
        assert "start" in bad
        no_key = {k: v for k, v in env.items() if k != "TALLY_ADMIN_API_KEY"}
        assert "TALLY_ADMIN_API_KEY" in one_line_error(tally("program", "enrol", "creators", OTHER, "--api", url,
                                                             env=no_key))
        listed = tally("program", "list", "--api", url, env=env)
        assert listed.returncode == 0 and "creators: minimum 500 points" in listed.stdout
    gone = one_line_error(tally("program", "list", "--api", url, env=env), ExitCode.UNAVAILABLE)
    assert "cannot reach" in gone
