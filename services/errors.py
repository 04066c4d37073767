"""Domain exceptions and the one handler that turns every error into the same JSON shape.

    SegellError (500 unless a subclass says otherwise)
    ├── InvalidInput (400)
    ├── Unauthenticated (401)
    ├── Forbidden (403)
    ├── NotFound (404)
    ├── Conflict (409)
    ├── Gone (410)               it existed, and is no longer served
    ├── PayloadTooLarge (413)
    ├── UnsupportedMediaType (415)
    ├── ValidationFailed (422)   the parameters or body are invalid
    └── Unavailable (503)        the chain node cannot be reached

Every error answers ``{"error": {"code": "<snake_case>", "message": "<what to do>", "details": ...}}`` (`ErrorBody`);
`error_responses` documents those answers in the OpenAPI schema.
"""

import logging
import math
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from requests.exceptions import ConnectionError as NodeConnectionError
from requests.exceptions import Timeout as NodeTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from segell.chain.nodes import NodeUnreachable

log = logging.getLogger("segell")


class SegellError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(
        self, message: str, *, code: str | None = None, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers
        if code:
            self.code = code


class TooManyRequests(SegellError):
    """429 with `Retry-After` (and `details.retry_after`), in whole seconds."""

    status_code, code = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: timedelta, code: str = "rate_limited") -> None:
        seconds = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(
            f"{message} Try again in {seconds} s.",
            code=code,
            details={"retry_after": seconds},
            headers={"Retry-After": str(seconds)},
        )


class InvalidInput(SegellError):
    status_code, code = 400, "invalid_input"


class Unauthenticated(SegellError):
    status_code, code = 401, "unauthenticated"


class Forbidden(SegellError):
    status_code, code = 403, "forbidden"


class NotFound(SegellError):
    status_code, code = 404, "not_found"


class Conflict(SegellError):
    status_code, code = 409, "conflict"


class Gone(SegellError):
    status_code, code = 410, "gone"


class PayloadTooLarge(SegellError):
    status_code, code = 413, "payload_too_large"


class UnsupportedMediaType(SegellError):
    status_code, code = 415, "unsupported_media_type"


class ValidationFailed(SegellError):
    status_code, code = 422, "validation_error"

    @classmethod
    def in_body(cls, problem: str) -> "ValidationFailed":
        return cls(f"Invalid request. body: {problem}.", details=[{"location": "body", "message": problem}])


class Unavailable(SegellError):
    status_code, code = 503, "unavailable"


class BadGateway(SegellError):
    """502: a server Segell called for the request (a provider's endpoint) failed or answered wrongly."""

    status_code, code = 502, "bad_gateway"


class GatewayTimeout(SegellError):
    """504: a server Segell called for the request did not answer in time."""

    status_code, code = 504, "gateway_timeout"


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable snake_case identifier: `not_found`, `already_admitted`, ...")
    message: str = Field(description="What went wrong and what to do about it.")
    details: Any = Field(description="Structured context, such as each invalid field of a 422; null when none.")


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


def error_response(exc: SegellError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
    return JSONResponse(
        error_body(exc.code, exc.message, exc.details), exc.status_code, headers={**headers, **(exc.headers or {})}
    )


_RESPONSE_DESCRIPTIONS = {
    400: "The request could not be read, e.g. an upload interrupted before its end.",
    401: "Missing, unknown or revoked API key.",
    403: "The API key may not do this, or its administration is suspended.",
    404: "No such resource, or none this API key may see.",
    409: "The request conflicts with the current state, e.g. an administration code already admitted.",
    410: "It existed, and is no longer served, e.g. the copy of a document its issuer revoked.",
    413: "The request body is larger than the server accepts.",
    415: "The request body is of a media type this operation does not take; the schema lists those it does.",
    422: "Invalid parameters or body; `details` lists each problem.",
    429: "Too many requests; `Retry-After` says in how many seconds to try again.",
    502: "An upstream server (a data provider's endpoint) failed or answered wrongly; `Retry-After` when it may "
    "succeed later.",
    503: "The chain node cannot be reached; try again later.",
    504: "An upstream server (a data provider's endpoint) did not answer in time; `Retry-After` says when to retry.",
}


def error_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the errors an operation can answer, every one with the `ErrorBody` shape."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status_code in status_codes:
        response: dict[str, Any] = {"model": ErrorBody, "description": _RESPONSE_DESCRIPTIONS[status_code]}
        if status_code == 401:
            response["headers"] = {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}
        if status_code in (429, 502, 504):
            response["headers"] = {
                "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "string"}}
            }
        responses[status_code] = response
    return responses


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _allowed_methods(request: Request) -> list[str]:
    routes = request.app.router.routes
    return [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SegellError)
    async def _domain_error(_request: Request, exc: SegellError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(NodeConnectionError)
    @app.exception_handler(NodeTimeout)
    @app.exception_handler(NodeUnreachable)
    async def _node_unreachable(_request: Request, exc: Exception) -> JSONResponse:
        # web3 reaches anvil and remote nodes over `requests`; the embedded chain raises NodeUnreachable itself.
        log.warning("chain node unreachable: %s", exc)
        return error_response(Unavailable("The chain node cannot be reached; try again once it is back."))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"location": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
            for error in exc.errors()
        ]
        summary = "; ".join(f"{p['location']}: {p['message']}" for p in problems)
        return error_response(ValidationFailed(f"Invalid request. {summary}", details=problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI answers 400 to a body that is not UTF-8 but 422 to any other malformed JSON: answer alike.
            return error_response(ValidationFailed.in_body("JSON must be encoded in UTF-8"))
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message, headers = str(exc.detail), exc.headers
        if exc.status_code == 404:
            message = f"No route {request.url.path}; /docs lists them."
        elif exc.status_code == 405:
            # Starlette's Allow names the methods of the first route on the path only.
            allowed = _allowed_methods(request)
            message = f"{request.method} is not allowed on {request.url.path}; use {' or '.join(allowed)}."
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return JSONResponse(error_body(code, message), exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        # Answered from outside every middleware (Starlette's ServerErrorMiddleware), NoSniff included.
        return JSONResponse(
            error_body("internal_error", "Unexpected server error; the server log has the details."),
            500,
            headers={"X-Content-Type-Options": "nosniff"},
        )
