"""One identity for a deployment (ledger.identity): the first host records its keys in the shared
database, and a host whose keys differ refuses to start, saying which key, printing no secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_keys import keys

from ledger.identity import ANCHOR, MASTER_KEY, OPERATOR, IdentityMismatchError, check_identity, master_key_fingerprint
from ledger.migrate import upgrade
from tally.settings import Settings
from tally.wiring import check_deployment_identity, open_ledger
from tests.api.conftest import CONTRACT

OPERATOR_HEX = "11" * 32
OTHER_HEX = "22" * 32
MASTER_HEX = "ab" * 32


def settings_of(home: Path, db_url: str, **changes: str) -> Settings:
    values = {"home": home, "database_url": db_url, "contract_address": CONTRACT, "operator_key": OPERATOR_HEX,
              "master_key": MASTER_HEX, **changes}
    return Settings(**values)  # type: ignore[arg-type]


def test_the_first_host_records_and_the_others_must_match(db_url: str, tmp_path: Path) -> None:
    upgrade(db_url)
    first = settings_of(tmp_path / "a", db_url, anchor_key=OTHER_HEX)
    ledger = open_ledger(first)
    check_deployment_identity(first, ledger, anchoring=True)
    with ledger.sessions() as session:
        recorded = check_identity(session, {}, now=0)
    assert recorded == {OPERATOR: keys.PrivateKey(bytes.fromhex(OPERATOR_HEX)).public_key.to_checksum_address(),
                        ANCHOR: keys.PrivateKey(bytes.fromhex(OTHER_HEX)).public_key.to_checksum_address(),
                        MASTER_KEY: master_key_fingerprint(bytes.fromhex(MASTER_HEX))}
    assert MASTER_HEX not in str(recorded)
    # Another host with the same keys starts; an API replica without the anchor key too.
    check_deployment_identity(settings_of(tmp_path / "b", db_url, anchor_key=OTHER_HEX), ledger, anchoring=True)
    check_deployment_identity(settings_of(tmp_path / "c", db_url), ledger, anchoring=False)
    for changes, anchoring, named in [({"operator_key": OTHER_HEX}, False, "operator key"),
                                      ({"master_key": "cd" * 32}, False, "master key"),
                                      ({}, True, "anchor key")]:
        with pytest.raises(IdentityMismatchError) as refused:
            check_deployment_identity(settings_of(tmp_path / "d", db_url, **changes), ledger, anchoring=anchoring)
        assert named in str(refused.value) and "cd" * 32 not in str(refused.value)
    # Public mode is an identity too: a host without privacy would store plaintext beside envelopes.
    with pytest.raises(IdentityMismatchError, match="master key"):
        check_deployment_identity(settings_of(tmp_path / "e", db_url, privacy="false"), ledger, anchoring=False)


def test_a_host_with_another_key_refuses_to_start_in_one_line(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    first = settings_of(tmp_path / "a", pg_url)
    check_deployment_identity(first, open_ledger(first), anchoring=False)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    # The second host reads its keys from secret files (as compose mounts them), one of them wrong.
    (secrets / "tally_operator_key").write_text(OPERATOR_HEX + "\n")
    (secrets / "tally_master_key").write_text("cd" * 32 + "\n")
    env = {**os.environ, "TALLY_HOME": str(tmp_path / "b"), "TALLY_DATABASE_URL": pg_url,
           "TALLY_SECRETS_DIR": str(secrets), "TALLY_CONTRACT_ADDRESS": CONTRACT,
           "TALLY_RPC_URL": "http://127.0.0.1:9", "TALLY_PORT": "0"}
    done = subprocess.run([sys.executable, "-m", "tally.cli", "serve", "--no-jobs"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tally: error: ") and "master key" in lines[0], done.stderr
    assert "cd" * 32 not in done.stderr + done.stdout and OPERATOR_HEX not in done.stderr + done.stdout
    # With the right file it gets past the check (and is stopped by a bad port instead of serving).
    (secrets / "tally_master_key").write_text(MASTER_HEX)
    assert settings_of(tmp_path / "b", pg_url).master_key is not None
    os.environ["TALLY_SECRETS_DIR"] = str(secrets)
    try:
        from_files = Settings(home=tmp_path / "b", database_url=pg_url)
    finally:
        del os.environ["TALLY_SECRETS_DIR"]
    assert from_files.master_key is not None and from_files.master_key.get_secret_value() == MASTER_HEX
    check_deployment_identity(from_files, open_ledger(from_files), anchoring=False)
