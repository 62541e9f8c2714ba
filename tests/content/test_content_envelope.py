"""Envelope encryption: the stored object is ciphertext, only the right master key opens it, and
destroying the wrapped data key (crypto-shredding) makes the object unreadable."""

from __future__ import annotations

import hashlib
import json

import pytest

from ledger.content import envelope
from ledger.content.errors import (
    DecryptionError,
    EnvelopeFormatError,
    InvalidKeyError,
    KeyUnwrapError,
    SealingError,
)

CONVERSATION = json.dumps(
    {"v": 1, "model": None, "messages": [{"role": "user", "content": "Ünïcode, please"},
                                         {"role": "assistant", "content": "Sure: 😀"}]},
    ensure_ascii=False, separators=(",", ":"),
).encode("utf-8")


@pytest.fixture
def master() -> bytes:
    return envelope.generate_master_key()


def test_round_trip_restores_exact_bytes(master: bytes) -> None:
    sealed, wrapped = envelope.seal(CONVERSATION, master)
    assert envelope.open(sealed, wrapped, master) == CONVERSATION
    assert len(sealed) == len(CONVERSATION) + envelope.ENVELOPE_OVERHEAD
    assert len(wrapped) == envelope.WRAPPED_KEY_SIZE
    assert sealed[0] == wrapped[0] == envelope.VERSION


def test_envelope_is_ciphertext(master: bytes) -> None:
    sealed, _ = envelope.seal(CONVERSATION, master)
    assert b"assistant" not in sealed and b"Unicode" not in sealed
    # Two seals of the same bytes share nothing: fresh data key and nonce each time.
    again, _ = envelope.seal(CONVERSATION, master)
    assert again != sealed
    assert hashlib.sha256(sealed).digest() != hashlib.sha256(CONVERSATION).digest()


def test_wrong_master_key_cannot_open(master: bytes) -> None:
    sealed, wrapped = envelope.seal(CONVERSATION, master)
    with pytest.raises(KeyUnwrapError):
        envelope.open(sealed, wrapped, envelope.generate_master_key())


def test_tampering_is_detected(master: bytes) -> None:
    sealed, wrapped = envelope.seal(CONVERSATION, master)
    for i in (1, 13, len(sealed) - 1):  # nonce, ciphertext, tag
        tampered = bytearray(sealed)
        tampered[i] ^= 0x80
        with pytest.raises(DecryptionError):
            envelope.open(bytes(tampered), wrapped, master)
    bad_wrap = bytearray(wrapped)
    bad_wrap[20] ^= 1
    with pytest.raises(KeyUnwrapError):
        envelope.open(sealed, bytes(bad_wrap), master)


def test_another_objects_key_cannot_open(master: bytes) -> None:
    sealed, _ = envelope.seal(CONVERSATION, master)
    _, other_wrapped = envelope.seal(b"another conversation", master)
    with pytest.raises(DecryptionError):
        envelope.open(sealed, other_wrapped, master)


def test_shredded_key_leaves_no_way_back(master: bytes) -> None:
    sealed, wrapped = envelope.seal(CONVERSATION, master)
    del wrapped  # erasure on request: the only copy of the wrapped key is destroyed
    # What remains (the envelope and the master key) does not decrypt: every candidate data key
    # we can produce fails the GCM tag.
    for _ in range(3):
        _, guess = envelope.seal(b"", master)
        with pytest.raises(SealingError):
            envelope.open(sealed, guess, master)


def test_rewrap_for_master_key_rotation(master: bytes) -> None:
    sealed, wrapped = envelope.seal(CONVERSATION, master)
    new_master = envelope.generate_master_key()
    rewrapped = envelope.rewrap(wrapped, master, new_master)
    assert envelope.open(sealed, rewrapped, new_master) == CONVERSATION
    with pytest.raises(KeyUnwrapError):
        envelope.open(sealed, rewrapped, master)


def test_bad_inputs(master: bytes) -> None:
    with pytest.raises(InvalidKeyError):
        envelope.seal(CONVERSATION, b"short")
    sealed, wrapped = envelope.seal(CONVERSATION, master)
    with pytest.raises(EnvelopeFormatError):
        envelope.open(b"\x02" + sealed[1:], wrapped, master)
    with pytest.raises(EnvelopeFormatError):
        envelope.open(sealed[:10], wrapped, master)
    with pytest.raises(EnvelopeFormatError):
        envelope.open(sealed, wrapped[:-1], master)


def test_empty_plaintext(master: bytes) -> None:
    sealed, wrapped = envelope.seal(b"", master)
    assert envelope.open(sealed, wrapped, master) == b""
