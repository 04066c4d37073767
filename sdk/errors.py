"""Exceptions raised by the Segell SDK.

Every exception the client raises derives from :class:`SegellError`, so one
``except SegellError`` is enough for code that only needs to know that a call failed::

    SegellError
    ├── TransportError                  the request never got an answer (refused, timed out, ...)
    ├── UnexpectedResponseError         the server answered 2xx with a body the SDK cannot read
    ├── RPCError                        a JSON-RPC node answered with an error (verify_bundle)
    ├── TrustStoreError                 the trust store file cannot be read, written or understood
    ├── AnchorTimeoutError              documents.wait_until_anchored gave up; also a TimeoutError
    └── APIError                        the server answered with an error status
        ├── BadRequestError             400
        ├── AuthenticationError         401  missing, unknown or revoked API key
        ├── PermissionDeniedError       403  the key's role may not do this, or a citizen's code is wrong
        ├── NotFoundError               404
        ├── ConflictError               409  e.g. an administration code already admitted, a bundle
        │                                    asked for before anchoring (code "not_anchored")
        ├── GoneError                   410  e.g. the copy of a document its issuer revoked
        ├── PayloadTooLargeError        413
        ├── ValidationError             422  the request body or parameters are invalid
        ├── RateLimitError              429  too many requests for now; ``retry_after`` seconds to wait
        └── ServerError                 5xx
            └── ServiceUnavailableError 503  e.g. the chain node is unreachable

:class:`APIError` carries the server's error envelope
``{"error": {"code", "message", "details"}}`` as attributes.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "AnchorTimeoutError",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "GoneError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "RPCError",
    "SegellError",
    "ServerError",
    "ServiceUnavailableError",
    "TransportError",
    "TrustStoreError",
    "UnexpectedResponseError",
    "ValidationError",
]


class SegellError(Exception):
    """Base class for every error raised by the Segell SDK."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TransportError(SegellError):
    """The request did not reach the server or got no answer.

    Attributes:
        url: the URL that was requested.
    """

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class UnexpectedResponseError(SegellError):
    """A successful response whose body does not have the documented shape.

    Usually the client is pointed at something that is not a Segell server, or at a
    server of an incompatible version.

    Attributes:
        status_code: the HTTP status of the response.
        url: the URL that was requested.
    """

    def __init__(self, message: str, *, status_code: int, url: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.url = url


class RPCError(SegellError):
    """A JSON-RPC endpoint answered a request with an error object.

    Verification failures are never raised: this is the node failing (e.g. ``-32603`` from Segell's ``/rpc``
    when its own node is down), or refusing a method it should answer.

    Attributes:
        code: the JSON-RPC error code, e.g. ``-32603``.
        url: the JSON-RPC endpoint.
        data: the error's ``data`` member, or ``None``.
    """

    def __init__(self, message: str, *, code: int, url: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.url = url
        self.data = data


class TrustStoreError(SegellError):
    """The trust store (the notaries pinned with ``segell trust add``) cannot be read, written or understood.

    Attributes:
        path: the trust store file.
    """

    def __init__(self, message: str, *, path: os.PathLike[str] | str) -> None:
        super().__init__(message)
        self.path = path


class AnchorTimeoutError(SegellError, TimeoutError):
    """A notarised document was still not anchored when the wait ran out.

    Attributes:
        document_id: the receipt id that was waited for.
        status: its last known status, e.g. ``"pending"``.
    """

    def __init__(self, message: str, *, document_id: str, status: str) -> None:
        super().__init__(message)
        self.document_id = document_id
        self.status = status


class APIError(SegellError):
    """The server answered with an error status.

    Attributes:
        status_code: the HTTP status, e.g. ``404``.
        code: the machine-readable error code, e.g. ``"administration_not_found"``.
        message: what went wrong and what to do about it, meant for people.
        details: extra structured information (validation errors, ...) or ``None``.
    """

    def __init__(self, status_code: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.details = details

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.status_code}, {self.code})"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, code={self.code!r}, "
            f"message={self.message!r}, details={self.details!r})"
        )


class BadRequestError(APIError):
    """HTTP 400: the request is malformed."""


class AuthenticationError(APIError):
    """HTTP 401: the API key is missing, unknown or revoked."""


class PermissionDeniedError(APIError):
    """HTTP 403: the API key is valid but its role may not perform this call, or a citizen's code is wrong
    (``code == "wrong_code"``)."""


class NotFoundError(APIError):
    """HTTP 404: the resource does not exist (or is not visible to this key)."""


class ConflictError(APIError):
    """HTTP 409: the request conflicts with the current state, e.g. a duplicate code."""


class GoneError(APIError):
    """HTTP 410: it existed and is no longer served, e.g. the copy of a document its issuer revoked."""


class PayloadTooLargeError(APIError):
    """HTTP 413: the request body is larger than the server accepts."""


class ValidationError(APIError):
    """HTTP 422: the request body or parameters are invalid; see ``details``."""


class RateLimitError(APIError):
    """HTTP 429: too many requests for now; ``retry_after`` says how many seconds to wait (``None``: not said)."""

    @property
    def retry_after(self) -> int | None:
        """Seconds to wait before asking again, from ``details["retry_after"]``; ``None`` when not said."""
        seconds = self.details.get("retry_after") if isinstance(self.details, dict) else None
        return seconds if isinstance(seconds, int) and not isinstance(seconds, bool) else None


class ServerError(APIError):
    """HTTP 5xx: the server failed to handle a valid request."""


class ServiceUnavailableError(ServerError):
    """HTTP 503: a dependency of the server (chain node, database) is unavailable."""


_ERROR_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    413: PayloadTooLargeError,
    422: ValidationError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def _error_class_for(status_code: int) -> type[APIError]:
    if status_code in _ERROR_BY_STATUS:
        return _ERROR_BY_STATUS[status_code]
    if status_code >= 500:
        return ServerError
    return APIError
