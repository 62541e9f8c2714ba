"""Per-object envelope encryption: AES-256-GCM with a random data key wrapped by a master key.

Each stored conversation is encrypted with its own random 256-bit data key; the data key is
encrypted ("wrapped") with the master key from the configuration and kept in the database next to
the contribution. The CID is that of the envelope (ciphertext), `contentHash` stays that of the
plaintext. Destroying the wrapped key (crypto-shredding) makes every copy of the envelope, on any
IPFS node or backup, permanently unreadable, which is how erasure on request is honoured on a
store that cannot guarantee deletion.

Algorithms: AES-256-GCM (NIST SP 800-38D) for both layers, through the `cryptography` package.

Envelope, version 1 (`seal` output, what goes to IPFS)::

    0x01 ‖ nonce (12 bytes) ‖ AES-256-GCM(data_key, nonce, plaintext, aad = 0x01 ‖ nonce)
    (ciphertext, same length as the plaintext, then the 16-byte tag)    -- 29 bytes of overhead

Wrapped data key, version 1 (kept in the database)::

    0x01 ‖ nonce (12 bytes) ‖ AES-256-GCM(master_key, nonce, data_key, aad = b"tally/data-key/v1")
    (32 bytes of encrypted key, then the 16-byte tag)                     -- 61 bytes in all

Why AES-GCM rather than RFC 3394 AES key wrap for the data key: a 128-bit tag instead of 64 bits,
and an associated-data label so a wrapped key can never be mistaken for an envelope (or the
reverse). Nonces are random: each data key encrypts exactly one message, and the master key's
random-nonce budget (2^32 wraps, NIST SP 800-38D §8.3) far exceeds the number of contributions; use
`rewrap` to move to a new master key long before that. The version byte lets a later format (a
master key id, another AEAD) coexist with this one.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.content.errors import (
    DecryptionError,
    EnvelopeFormatError,
    InvalidKeyError,
    KeyUnwrapError,
    SealingError,
)

__all__ = [
    "ENVELOPE_OVERHEAD",
    "VERSION",
    "WRAPPED_KEY_SIZE",
    "DecryptionError",
    "EnvelopeFormatError",
    "InvalidKeyError",
    "KeyUnwrapError",
    "SealingError",
    "generate_master_key",
    "open",
    "rewrap",
    "seal",
    "unwrap_key",
    "wrap_key",
]

VERSION = 1
KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16
ENVELOPE_OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE
WRAPPED_KEY_SIZE = 1 + NONCE_SIZE + KEY_SIZE + TAG_SIZE
_WRAP_LABEL = b"tally/data-key/v1"


def generate_master_key() -> bytes:
    """A fresh random AES-256 master key (for `tally` setup and tests)."""
    return AESGCM.generate_key(bit_length=256)


def _aead(key: bytes, what: str) -> AESGCM:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
        raise InvalidKeyError(f"the {what} must be {KEY_SIZE} bytes (AES-256)")
    return AESGCM(bytes(key))


def wrap_key(data_key: bytes, master_key: bytes) -> bytes:
    """Encrypt a data key under the master key (format in the module docstring)."""
    if len(data_key) != KEY_SIZE:
        raise InvalidKeyError(f"the data key must be {KEY_SIZE} bytes")
    nonce = os.urandom(NONCE_SIZE)
    return bytes([VERSION]) + nonce + _aead(master_key, "master key").encrypt(
        nonce, data_key, _WRAP_LABEL
    )


def unwrap_key(wrapped_key: bytes, master_key: bytes) -> bytes:
    """Recover a data key; `KeyUnwrapError` if the master key is not the one that wrapped it."""
    aead = _aead(master_key, "master key")
    if len(wrapped_key) != WRAPPED_KEY_SIZE or wrapped_key[0] != VERSION:
        raise EnvelopeFormatError("not a version-1 wrapped data key")
    nonce = wrapped_key[1 : 1 + NONCE_SIZE]
    try:
        return aead.decrypt(nonce, wrapped_key[1 + NONCE_SIZE :], _WRAP_LABEL)
    except InvalidTag:
        raise KeyUnwrapError("the wrapped data key does not open with this master key") from None


def seal(plaintext: bytes, master_key: bytes) -> tuple[bytes, bytes]:
    """Encrypt `plaintext` under a new random data key.

    Returns `(envelope, wrapped_data_key)`: store the envelope (its CID is `cid_of(envelope)`),
    keep the wrapped key in the database; forget the data key.
    """
    master = _aead(master_key, "master key")  # fail on a bad master key before any work
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_SIZE)
    header = bytes([VERSION]) + nonce
    envelope = header + AESGCM(data_key).encrypt(nonce, plaintext, header)
    wrap_nonce = os.urandom(NONCE_SIZE)
    wrapped = bytes([VERSION]) + wrap_nonce + master.encrypt(wrap_nonce, data_key, _WRAP_LABEL)
    return envelope, wrapped


def open(envelope: bytes, wrapped_key: bytes, master_key: bytes) -> bytes:
    """Decrypt an envelope made by `seal`; the exact plaintext bytes, or a `SealingError`:
    `KeyUnwrapError` (wrong master key), `DecryptionError` (envelope altered or not this key's),
    `EnvelopeFormatError` (not our format), `InvalidKeyError` (master key not 32 bytes).

    Named `open` as in "open the envelope"; inside this module the builtin is not needed.
    """
    data_key = unwrap_key(wrapped_key, master_key)
    if len(envelope) < ENVELOPE_OVERHEAD or envelope[0] != VERSION:
        raise EnvelopeFormatError("not a version-1 sealed envelope")
    header = envelope[: 1 + NONCE_SIZE]
    try:
        return AESGCM(data_key).decrypt(header[1:], envelope[len(header) :], header)
    except InvalidTag:
        raise DecryptionError("the envelope does not decrypt with its data key") from None


def rewrap(wrapped_key: bytes, old_master_key: bytes, new_master_key: bytes) -> bytes:
    """Re-encrypt a data key under a new master key (master key rotation); the envelope on IPFS,
    and so its CID, do not change."""
    return wrap_key(unwrap_key(wrapped_key, old_master_key), new_master_key)
