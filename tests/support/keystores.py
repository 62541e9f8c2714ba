"""Keystores for tests that run the CLI many times."""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account

QUICK_SCRYPT_N = 2**10
"""scrypt's work factor in these keystores. The CLI reads it from the file, as any Web3 Secret
Storage reader does; `tally keys new` writes eth-account's default (2^18, about a second to open
on these machines), which would make each command of a long CLI test a second slower."""


def quick_keystore(path: Path, private_key: bytes, passphrase: str) -> str:
    """Encrypt ``private_key`` into ``path`` with a cheap scrypt; its address."""
    path.write_text(json.dumps(Account.encrypt(private_key, passphrase, iterations=QUICK_SCRYPT_N)))
    return str(Account.from_key(private_key).address)
