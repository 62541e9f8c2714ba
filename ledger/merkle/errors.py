"""Errors raised by the Merkle code.

A failed verification raises a precise, named error instead of returning ``False``, so a caller
(or an outside checker reading a log) learns *what* failed, in the words of RFC 9162 §2.1.3.2 and
§2.1.4.2. The hierarchy has two axes:

* what was being verified: every error :func:`ledger.merkle.log.verify_inclusion` raises is an
  :class:`InclusionProofError`, every error :func:`~ledger.merkle.log.verify_consistency` raises is
  a :class:`ConsistencyProofError`;
* what was wrong: :class:`ProofSizeError` (the proof has the wrong number of hashes, e.g. garbage
  before or after it, or it is empty where one is needed), :class:`HashSizeError` (an input that
  must be a 32-byte hash is not), :class:`RootMismatchError` (the proof was well formed but
  recomputes another root: a flipped bit, a wrong leaf, a wrong root), :class:`IndexOutOfRangeError`
  (``index >= size``) and :class:`TreeSizeError` (``first > second`` or a negative size).

The concrete classes combine one of each, so ``except RootMismatchError`` and
``except InclusionProofError`` both catch :class:`InclusionRootMismatchError`. All are
:class:`ProofError`, a :class:`~ledger.errors.VerificationFailure` (and still a
:class:`ValueError`). The errors that are not about proofs stand on the category bases of
:mod:`ledger.errors` too: a malformed tree or an unknown leaf is bad input, a concurrent append
an invariant the caller broke.
"""

from __future__ import annotations

from ledger.errors import InvalidInputError, InvariantError, TallyError, VerificationFailure


class MerkleError(TallyError):
    """Base of every error of :mod:`ledger.merkle`; the category comes from each subclass."""


class ProofError(MerkleError, VerificationFailure, ValueError):
    """A proof did not verify."""


# --- what was being verified ---------------------------------------------------------------


class InclusionProofError(ProofError):
    """An inclusion proof (RFC 9162 §2.1.3) did not verify."""


class ConsistencyProofError(ProofError):
    """A consistency proof (RFC 9162 §2.1.4) did not verify."""


# --- what was wrong ------------------------------------------------------------------------


class ProofSizeError(ProofError):
    """The proof does not have the number of hashes the tree sizes call for."""

    def __init__(self, message: str, *, expected: int, got: int) -> None:
        super().__init__(message)
        self.expected = expected
        self.got = got


class HashSizeError(ProofError):
    """A value that must be a 32-byte hash (leaf hash, root or proof element) is not."""


class RootMismatchError(ProofError):
    """The proof recomputes a root other than the one it was checked against."""

    def __init__(self, message: str, *, expected: bytes, calculated: bytes) -> None:
        super().__init__(message)
        self.expected = expected
        self.calculated = calculated


class IndexOutOfRangeError(InclusionProofError):
    """The leaf index is outside the tree (``index >= size``, or < 0): RFC 9162 §2.1.3.2 step 1."""


class TreeSizeError(ConsistencyProofError):
    """The tree sizes cannot be proven consistent: ``first > second``, or a negative size."""


# --- combinations: one of each axis --------------------------------------------------------


class InclusionProofSizeError(InclusionProofError, ProofSizeError):
    """An inclusion proof has the wrong number of hashes."""


class ConsistencyProofSizeError(ConsistencyProofError, ProofSizeError):
    """A consistency proof has the wrong number of hashes (e.g. it is empty but must not be)."""


class InclusionHashSizeError(InclusionProofError, HashSizeError):
    """The leaf hash, the root or a proof element of an inclusion proof is not 32 bytes."""


class ConsistencyHashSizeError(ConsistencyProofError, HashSizeError):
    """A root or a proof element of a consistency proof is not 32 bytes."""


class InclusionRootMismatchError(InclusionProofError, RootMismatchError):
    """The inclusion proof leads to another root (RFC 9162 §2.1.3.2 step 5)."""


class FirstRootMismatchError(ConsistencyProofError, RootMismatchError):
    """The consistency proof does not give the first (older) root (RFC 9162 §2.1.4.2 step 7)."""


class SecondRootMismatchError(ConsistencyProofError, RootMismatchError):
    """The consistency proof does not give the second (newer) root (RFC 9162 §2.1.4.2 step 7)."""


# --- not about proofs ----------------------------------------------------------------------


class InvalidTreeError(MerkleError, InvalidInputError, ValueError):
    """A tree dump (or stored tree) is malformed or its hashes do not match its values."""


class LeafNotFoundError(MerkleError, InvalidInputError, KeyError):
    """The value asked for is not a leaf of the tree."""


class ConcurrentAppendError(MerkleError, InvariantError, RuntimeError):
    """Another transaction appended to the stored log since this one read its size."""
