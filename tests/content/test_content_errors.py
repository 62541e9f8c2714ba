"""The content errors stand on the category bases of ``ledger.errors``, and keep their old ones."""

from __future__ import annotations

import pytest

from ledger.content import errors
from ledger.content.unixfs import NotAFileError
from ledger.errors import ErrorCategory, ExitCode, TallyError


@pytest.mark.parametrize(
    ("error", "code", "status", "category", "legacy"),
    [
        (errors.InvalidCidError("x"), "invalid-request", 422, ErrorCategory.INPUT, ValueError),
        (errors.UnsupportedCidError("x"), "invalid-request", 422, ErrorCategory.INPUT, ValueError),
        (errors.CarFormatError("x"), "invalid-car", 422, ErrorCategory.INPUT, ValueError),
        (errors.ContentNotFoundError("bafk"), "not-found", 404, ErrorCategory.INPUT, LookupError),
        (errors.ContentErasedError("x"), "content-erased", 410, ErrorCategory.INPUT, errors.ContentError),
        # The gateway answers 503 for a block that fails its hash check: this copy is bad.
        (errors.ContentCorruptedError("bafk"), "unavailable", 503, ErrorCategory.UNAVAILABLE, errors.ContentError),
        (errors.StoreUnavailableError("x"), "unavailable", 503, ErrorCategory.UNAVAILABLE, errors.ContentError),
        (errors.CidMismatchError("a", "b"), "internal-error", 500, ErrorCategory.INTERNAL, errors.ContentError),
        (NotAFileError("x"), "invalid-request", 422, ErrorCategory.INPUT, errors.ContentError),
        (errors.InvalidKeyError("x"), "invalid-request", 422, ErrorCategory.INPUT, ValueError),
        (errors.EnvelopeFormatError("x"), "verification-failed", 422, ErrorCategory.VERIFICATION, ValueError),
        (errors.KeyUnwrapError("x"), "verification-failed", 422, ErrorCategory.VERIFICATION, errors.SealingError),
        (errors.DecryptionError("x"), "verification-failed", 422, ErrorCategory.VERIFICATION, errors.SealingError),
    ],
)
def test_each_error_resolves_to_its_category(
    error: errors.ContentError, code: str, status: int, category: ErrorCategory, legacy: type[Exception]
) -> None:
    assert isinstance(error, errors.ContentError) and isinstance(error, TallyError)
    assert isinstance(error, legacy)
    assert (error.code, error.status, error.category) == (code, status, category)
    assert error.exit_code in set(ExitCode)


def test_messages_and_extensions_name_the_cid() -> None:
    missing = errors.ContentNotFoundError("bafkqaaa", "not stored here")
    assert str(missing) == "content not found: bafkqaaa (not stored here)"
    assert missing.cid == "bafkqaaa" and missing.extensions == {"cid": "bafkqaaa"}
    assert str(errors.ContentCorruptedError("bafkqaaa")) == "content corrupted: bafkqaaa"
    mismatch = errors.CidMismatchError("bafkexpected", "bafkgot")
    assert mismatch.extensions == {"expected": "bafkexpected", "got": "bafkgot"}
    # The `ContentError(cid, why)` form raised outside this package.
    assert str(errors.ContentError("bafkqaaa", "block missing from the CAR")) == (
        "bafkqaaa (block missing from the CAR)"
    )
