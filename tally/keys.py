"""Loading and creating keys: the operator's signing key and contributors' keystores.

Keys live in encrypted Web3 Secret Storage files (eth-account keystores). Their passphrases
come from the environment or a prompt and are never printed or logged.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from eth_account import Account
from eth_keys.datatypes import PrivateKey
from pydantic import SecretStr

import anchoring  # noqa: F401 (puts back the recursion limit eth-account raises: see there)
from ledger.errors import InvalidInputError
from tally.settings import Settings


class KeyLoadError(InvalidInputError):
    """A key that cannot be loaded (missing file, wrong passphrase, malformed key)."""


def write_keystore(path: Path, private_key: bytes, passphrase: str) -> str:
    """Encrypt ``private_key`` into ``path`` (mode 0600) and return its address."""
    keystore = Account.encrypt(private_key, passphrase)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(keystore, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return str(Account.from_key(private_key).address)


def read_keystore(path: Path, passphrase: str) -> PrivateKey:
    try:
        keystore = json.loads(path.read_text())
    except FileNotFoundError:
        raise KeyLoadError(f"no key file at {path}") from None
    except (OSError, ValueError) as exc:
        raise KeyLoadError(f"{path} is not a keystore file: {exc}") from None
    try:
        raw = Account.decrypt(keystore, passphrase)
    except ValueError:
        raise KeyLoadError(f"cannot decrypt {path}: wrong passphrase or damaged file") from None
    return PrivateKey(bytes(raw))


def new_private_key() -> bytes:
    return secrets.token_bytes(32)


def _configured_key(name: str, raw: SecretStr | None, keyfile: Path | None,
                    passphrase: SecretStr | None) -> PrivateKey | None:
    """A key set as TALLY_<name>_KEY (hex) or TALLY_<name>_KEYFILE + _PASSPHRASE, if any."""
    if raw is not None:
        try:
            return PrivateKey(bytes.fromhex(raw.get_secret_value().removeprefix("0x")))
        except Exception:
            # Never echo the value: it is (meant to be) a private key.
            raise KeyLoadError(f"TALLY_{name}_KEY is not a 32-byte hex private key") from None
    if keyfile is not None:
        if passphrase is None:
            raise KeyLoadError(f"TALLY_{name}_KEYFILE is set but TALLY_{name}_PASSPHRASE is not")
        return read_keystore(keyfile, passphrase.get_secret_value())
    return None


def operator_key(settings: Settings) -> PrivateKey:
    """The operator's key from settings; on the embedded default, created on first use.

    The embedded default keeps a generated keystore in TALLY_HOME with its passphrase in a
    0600 file beside it: a development convenience. Production sets TALLY_OPERATOR_KEYFILE
    with TALLY_OPERATOR_PASSPHRASE, or TALLY_OPERATOR_KEY.
    """
    configured = _configured_key("OPERATOR", settings.operator_key, settings.operator_keyfile,
                                 settings.operator_passphrase)
    if configured is not None:
        return configured
    keyfile = settings.home / "operator-key.json"
    passfile = settings.home / "operator-key.pass"
    if not keyfile.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        passphrase = secrets.token_urlsafe(24)
        fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(passphrase)
        write_keystore(keyfile, new_private_key(), passphrase)
    return read_keystore(keyfile, passfile.read_text().strip())


def anchor_key(settings: Settings) -> PrivateKey:
    """The key that sends anchor transactions: its own settings, else the operator's key."""
    configured = _configured_key("ANCHOR", settings.anchor_key, settings.anchor_keyfile, settings.anchor_passphrase)
    if configured is not None:
        return configured
    return operator_key(settings)


def master_key(settings: Settings) -> bytes | None:
    """The privacy-mode master key, or None in public mode. Embedded default: generated once
    into TALLY_HOME/master.key (mode 0600)."""
    if not settings.privacy:
        return None
    if settings.master_key is not None:
        try:
            key = bytes.fromhex(settings.master_key.get_secret_value().removeprefix("0x"))
        except ValueError:
            raise KeyLoadError("TALLY_MASTER_KEY is not hex") from None
        if len(key) != 32:
            raise KeyLoadError("TALLY_MASTER_KEY must be 32 bytes (64 hex digits)")
        return key
    path = settings.home / "master.key"
    if not path.exists():
        settings.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError:
        raise KeyLoadError(f"{path} does not hold a hex key") from None
    if len(key) != 32:
        raise KeyLoadError(f"{path} does not hold a 32-byte key")
    return key
