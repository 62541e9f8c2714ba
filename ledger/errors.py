"""The one root of Tally's errors, and the categories callers act on.

Every error the domain raises derives from ``TallyError``. Each class carries a stable ``code``
(the slug of its RFC 9457 problem type, ``/problems/<code>``, DESIGN.md §8) and an HTTP status
hint, so the API renders any of them as problem+json in one handler, and a ``category`` that the
CLI turns into its exit code. Messages say what was wrong; the keyword arguments of the
constructor are the problem's extension members (``existing``, ``field``, ``epoch``...), so a
client reads the details without parsing text.

Categories, and the exit codes of the ``tally`` command:

=============  ===========================================================  =====
category       meaning                                                      exit
=============  ===========================================================  =====
verification   a proof, a root or an audit disagrees (or an invariant of    1
               the ledger itself does)
input          the request, a file or an argument is wrong: fix it, retry   2
unavailable    a service (database, chain node, IPFS) cannot be reached     3
=============  ===========================================================  =====
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Any, ClassVar


class ErrorCategory(StrEnum):
    """What a caller can do about an error."""

    INPUT = "input"
    VERIFICATION = "verification"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


class ExitCode(IntEnum):
    """The exit codes of the ``tally`` command (documented in the README and ``tally --help``)."""

    OK = 0
    VERIFICATION_FAILED = 1
    BAD_INPUT = 2
    UNAVAILABLE = 3


EXIT_CODES: dict[ErrorCategory, ExitCode] = {
    ErrorCategory.VERIFICATION: ExitCode.VERIFICATION_FAILED,
    ErrorCategory.INTERNAL: ExitCode.VERIFICATION_FAILED,
    ErrorCategory.INPUT: ExitCode.BAD_INPUT,
    ErrorCategory.UNAVAILABLE: ExitCode.UNAVAILABLE,
}


class TallyError(Exception):
    """Base of every error Tally raises on purpose.

    ``code`` and ``status`` are class attributes: one class, one problem type. Keyword arguments
    become ``extensions``, the extra members of the problem+json body.
    """

    code: ClassVar[str] = "internal-error"
    status: ClassVar[int] = 500
    category: ClassVar[ErrorCategory] = ErrorCategory.INTERNAL

    def __init__(self, message: str = "", /, **extensions: Any) -> None:
        super().__init__(message)
        self.extensions: dict[str, Any] = extensions

    @property
    def detail(self) -> str:
        return str(self)

    @property
    def exit_code(self) -> ExitCode:
        return EXIT_CODES[self.category]


class InvalidInputError(TallyError):
    """The request or the data is wrong; nothing was written. ``field`` names the culprit."""

    code = "invalid-request"
    status = 422
    category = ErrorCategory.INPUT


class InvalidFieldError(InvalidInputError):
    """One field of a request is missing, has the wrong type or is out of range."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])
        self.field = field


class NotFoundError(TallyError):
    """No such resource (contribution, epoch, object, balance)."""

    code = "not-found"
    status = 404
    category = ErrorCategory.INPUT


class ConflictError(TallyError):
    """The request contradicts what the ledger already holds (a duplicate, a reused nonce or ref)."""

    code = "conflict"
    status = 409
    category = ErrorCategory.INPUT


class UnavailableError(TallyError):
    """A service this operation needs (database, chain node, IPFS) cannot be reached; retry later."""

    code = "unavailable"
    status = 503
    category = ErrorCategory.UNAVAILABLE


class VerificationFailure(TallyError):
    """A proof, a root or a published number does not check out."""

    code = "verification-failed"
    status = 422
    category = ErrorCategory.VERIFICATION


class InvariantError(TallyError):
    """The ledger's own state contradicts itself or the chain: stop and alert, never paper over."""

    code = "internal-error"
    status = 500
    category = ErrorCategory.INTERNAL


class RateLimitedError(TallyError):
    """Too many requests (or failed attempts) from this client or contributor: retry after
    `retryAfter` seconds (also the `Retry-After` header, set by the API's handler from ``headers``)."""

    code = "rate-limited"
    status = 429
    category = ErrorCategory.INPUT

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retryAfter=retry_after)
        self.headers = {"Retry-After": str(retry_after)}
