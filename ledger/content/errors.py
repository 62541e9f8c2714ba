"""Named errors of the content layer.

Every failure a caller may want to tell apart has its own class, all under `ContentError`, so that
code above (the API, the pin job) can catch the family or one member without parsing messages.
"""

from __future__ import annotations


class ContentError(Exception):
    """Base class of every error raised by `ledger.content`."""


class InvalidCidError(ContentError, ValueError):
    """The string is not a CID we can read (bad multibase, CID version, codec or multihash)."""


class UnsupportedCidError(InvalidCidError):
    """A well-formed CID whose codec or hash function this store does not verify.

    We only accept what we can check: sha2-256 multihashes of `raw` and `dag-pb` blocks (and
    `dag-cbor`/`dag-json` blocks as opaque bytes in the block store). Serving an unverifiable block
    would break the "every block checked against its CID" rule.
    """


class ContentNotFoundError(ContentError, LookupError):
    """A block of the DAG is not in the store (or the node did not find it in time)."""

    def __init__(self, cid: str, detail: str = "") -> None:
        self.cid = cid
        super().__init__(f"content not found: {cid}" + (f" ({detail})" if detail else ""))


class ContentCorruptedError(ContentError):
    """A block's bytes do not hash to its CID, or a DAG node does not decode as dag-pb/UnixFS.

    Raised instead of returning the bytes: corrupted content is never served.
    """

    def __init__(self, cid: str, detail: str = "") -> None:
        self.cid = cid
        super().__init__(f"content corrupted: {cid}" + (f" ({detail})" if detail else ""))


class StoreUnavailableError(ContentError):
    """The store cannot be reached or answered with an error that is not about the content.

    For the IPFS store: connection refused, timeouts, HTTP 5xx unrelated to a missing block, auth
    failures. Callers (the scheduled pin job) treat it as transient and retry later.
    """


class CarFormatError(ContentError, ValueError):
    """Bytes that should be a CARv1 archive are not one (bad header, truncated section, bad CID)."""


class SealingError(ContentError):
    """Base class of the errors of `ledger.content.envelope` (per-object encryption)."""


class InvalidKeyError(SealingError, ValueError):
    """A master key (or data key) that is not 32 bytes: AES-256 only."""


class EnvelopeFormatError(SealingError, ValueError):
    """Bytes that are not a sealed envelope or wrapped key of a version we know (bad version byte,
    too short)."""


class KeyUnwrapError(SealingError):
    """The wrapped data key does not open with this master key: wrong master key, or the wrapped
    key was altered. Nothing about the content is revealed."""


class DecryptionError(SealingError):
    """The envelope does not decrypt with the unwrapped data key: the envelope was altered, or the
    wrapped key belongs to another object. AES-GCM's tag makes both a hard failure."""


class ContentErasedError(ContentError):
    """The object's data key was destroyed on request (crypto-shredding): the ciphertext may still
    exist on IPFS, but it can never be decrypted again. For the layer that keeps wrapped keys."""


class CidMismatchError(ContentError):
    """The IPFS node computed another CID than `cid_of` for the same bytes: its importer settings
    differ from Kubo's defaults (chunker, raw leaves, hash, layout): nothing safe to record."""

    def __init__(self, expected: str, got: str) -> None:
        self.expected = expected
        self.got = got
        super().__init__(f"the node stored {got}, expected {expected}")
