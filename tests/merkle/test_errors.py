"""The Merkle errors stand on the category bases of ``ledger.errors``, and keep their old ones."""

from __future__ import annotations

import pytest

from ledger.errors import ErrorCategory, ExitCode, TallyError
from ledger.merkle import _abi, errors


@pytest.mark.parametrize(
    ("error", "code", "category", "legacy"),
    [
        (errors.InclusionRootMismatchError("x", expected=b"a", calculated=b"b"), "verification-failed",
         ErrorCategory.VERIFICATION, ValueError),
        (errors.ConsistencyProofSizeError("x", expected=1, got=2), "verification-failed",
         ErrorCategory.VERIFICATION, ValueError),
        (errors.IndexOutOfRangeError("x"), "verification-failed", ErrorCategory.VERIFICATION, ValueError),
        (errors.InvalidTreeError("x"), "invalid-request", ErrorCategory.INPUT, ValueError),
        (errors.LeafNotFoundError("x"), "invalid-request", ErrorCategory.INPUT, KeyError),
        (errors.ConcurrentAppendError("x"), "internal-error", ErrorCategory.INTERNAL, RuntimeError),
        (_abi.AbiError("x"), "invalid-request", ErrorCategory.INPUT, ValueError),
    ],
)
def test_each_error_resolves_to_its_category(
    error: errors.MerkleError, code: str, category: ErrorCategory, legacy: type[Exception]
) -> None:
    assert isinstance(error, errors.MerkleError) and isinstance(error, TallyError)
    assert isinstance(error, legacy)
    assert (error.code, error.category) == (code, category)
    assert error.exit_code in set(ExitCode)


def test_proof_errors_are_verification_failures_with_their_details() -> None:
    mismatch = errors.FirstRootMismatchError("first root differs", expected=b"\x01", calculated=b"\x02")
    assert isinstance(mismatch, errors.ConsistencyProofError) and isinstance(mismatch, errors.RootMismatchError)
    assert mismatch.exit_code is ExitCode.VERIFICATION_FAILED
    assert (mismatch.expected, mismatch.calculated, str(mismatch)) == (b"\x01", b"\x02", "first root differs")
