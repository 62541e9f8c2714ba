"""Refusals that only HTTP has: media types, body sizes, API keys, content negotiation.

They derive from ``ledger.errors.TallyError`` like every domain error, so the app's one handler
renders them all as problem+json.
"""

from __future__ import annotations

from ledger.errors import ErrorCategory, InvalidInputError, TallyError


class MalformedJsonError(InvalidInputError):
    code = "malformed-json"
    status = 400


class UnsupportedMediaTypeError(InvalidInputError):
    code = "unsupported-media-type"
    status = 415


class BodyTooLargeError(InvalidInputError):
    code = "body-too-large"
    status = 413


class NotAcceptableError(InvalidInputError):
    code = "not-acceptable"
    status = 406


class MethodNotAllowedError(InvalidInputError):
    code = "method-not-allowed"
    status = 405


class UnauthorizedError(TallyError):
    code = "unauthorized"
    status = 401
    category = ErrorCategory.INPUT


