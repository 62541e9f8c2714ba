"""Named errors of the content layer, each on the category base of ``ledger.errors``.

Every failure a caller may want to tell apart has its own class, all under `ContentError`, so that
code above (the API, the pin job) can catch the family or one member without parsing messages. The
second base says what a caller can do about it (DESIGN.md §8): fix the input (`InvalidCidError`,
`CarFormatError`), look elsewhere (`ContentNotFoundError`), retry later (`StoreUnavailableError`,
and `ContentCorruptedError`: the gateway answers 503 for a block that fails its hash check, since
another copy may be good), or stop and alert (`CidMismatchError`). The Python bases kept as
mixins (`ValueError`, `LookupError`) let older ``except ValueError`` code keep working.
"""

from __future__ import annotations

from typing import Any

from ledger.errors import (
    InvalidInputError,
    InvariantError,
    NotFoundError,
    TallyError,
    UnavailableError,
    VerificationFailure,
)


class ContentError(TallyError):
    """Base class of every error raised by `ledger.content`; the category comes from the second
    base of each subclass.

    Takes an optional second positional ``detail``, written after the message in parentheses, the
    form ``ContentError(cid, why)`` that callers outside this package raise.
    """

    def __init__(self, message: str = "", detail: str = "", /, **extensions: Any) -> None:
        super().__init__(message + (f" ({detail})" if detail else ""), **extensions)


class InvalidCidError(ContentError, InvalidInputError, ValueError):
    """The string is not a CID we can read (bad multibase, CID version, codec or multihash)."""


class UnsupportedCidError(InvalidCidError):
    """A well-formed CID whose codec or hash function this store does not verify.

    We only accept what we can check: sha2-256 multihashes of `raw` and `dag-pb` blocks (and
    `dag-cbor`/`dag-json` blocks as opaque bytes in the block store). Serving an unverifiable block
    would break the "every block checked against its CID" rule.
    """


class ContentNotFoundError(ContentError, NotFoundError, LookupError):
    """A block of the DAG is not in the store (or the node did not find it in time)."""

    def __init__(self, cid: str, detail: str = "") -> None:
        self.cid = cid
        super().__init__(f"content not found: {cid}", detail, cid=cid)


class ContentCorruptedError(ContentError, UnavailableError):
    """A block's bytes do not hash to its CID, or a DAG node does not decode as dag-pb/UnixFS.

    Raised instead of returning the bytes: corrupted content is never served. Its category is
    "unavailable" (503), as the gateway has always answered: this copy is bad, another may not be.
    """

    def __init__(self, cid: str, detail: str = "") -> None:
        self.cid = cid
        super().__init__(f"content corrupted: {cid}", detail, cid=cid)


class StoreUnavailableError(ContentError, UnavailableError):
    """The store cannot be reached or answered with an error that is not about the content.

    For the IPFS store: connection refused, timeouts, HTTP 5xx unrelated to a missing block, auth
    failures. Callers (the scheduled pin job) treat it as transient and retry later.
    """


class VarintError(ContentError, InvalidInputError, ValueError):
    """Bytes that should hold an unsigned varint (multiformats, protobuf, CARv1) do not: truncated,
    or longer than 64 bits. Readers of a bigger format turn it into their own error."""


class CborError(ContentError, InvalidInputError, ValueError):
    """A CBOR head that is truncated or has an indefinite or reserved length (`ledger.content.cbor`);
    readers of a bigger format turn it into their own error."""


class CarFormatError(ContentError, InvalidInputError, ValueError):
    """Bytes that should be a CARv1 archive are not one (bad header, truncated section, bad CID).

    The only error `ledger.content.car.decode_car` raises, whatever the bytes.
    """

    code = "invalid-car"


class SealingError(ContentError):
    """Base class of the errors of `ledger.content.envelope` (per-object encryption)."""


class InvalidKeyError(SealingError, InvalidInputError, ValueError):
    """A master key (or data key) that is not 32 bytes: AES-256 only."""


class EnvelopeFormatError(SealingError, VerificationFailure, ValueError):
    """Bytes that are not a sealed envelope or wrapped key of a version we know (bad version byte,
    too short)."""


class KeyUnwrapError(SealingError, VerificationFailure):
    """The wrapped data key does not open with this master key: wrong master key, or the wrapped
    key was altered. Nothing about the content is revealed."""


class DecryptionError(SealingError, VerificationFailure):
    """The envelope does not decrypt with the unwrapped data key: the envelope was altered, or the
    wrapped key belongs to another object. AES-GCM's tag makes both a hard failure."""


class ContentErasedError(ContentError, NotFoundError):
    """The object's data key was destroyed on request (crypto-shredding): the ciphertext may still
    exist on IPFS, but it can never be decrypted again. For the layer that keeps wrapped keys.

    HTTP 410 Gone rather than 404: the object existed and is gone for good, so a client should
    stop asking.
    """

    code = "content-erased"
    status = 410


class CidMismatchError(ContentError, InvariantError):
    """The IPFS node computed another CID than `cid_of` for the same bytes: its importer settings
    differ from Kubo's defaults (chunker, raw leaves, hash, layout): nothing safe to record."""

    def __init__(self, expected: str, got: str) -> None:
        self.expected = expected
        self.got = got
        super().__init__(f"the node stored {got}, expected {expected}", expected=expected, got=got)
