"""What a request may send, checked before any route reads or parses its body.

py-evm raises Python's recursion limit to 100,000 when it is imported, so ``json.loads`` of a body nested 99,000
levels deep (a 200 kB request, no API key needed) overflows the C stack and kills the process instead of raising
``RecursionError``. Bodies are therefore measured before anything parses them. FastAPI's own ``max_body_size``
is not used: it answers from outside the error handlers, in another format, and the body is read here anyway.

Files sent as ``application/octet-stream`` to the routes that hash them as they arrive (`streamed_uploads`) pass
through untouched: they are never parsed, may be far larger than any JSON request, and those routes count them
against their own limit, and so do ``multipart/form-data`` bodies sent to the routes that stream forms
(`streamed_forms`: a resource's file in the open-data catalogue).
"""

import json
from collections.abc import Collection

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from segell.chain.gateway import MAX_JSON_DEPTH, json_depth
from segell.services.errors import PayloadTooLarge, ValidationFailed, error_response

# geth's limit for JSON-RPC over HTTP; every Segell request fits many times over.
MAX_BODY_BYTES = 5 * 1024 * 1024


def _opens_json_array_or_object(body: bytes) -> bool:
    """Whether a JSON parser would nest at all reading `body`: only text whose value starts with ``[`` or ``{``.

    Content-Type alone cannot say: the JSON-RPC endpoints read any body as JSON, whatever its type, as JSON-RPC
    clients (and ``curl -d``) label bodies variously. A body that is not text (a PDF, a certificate, a multipart
    form with a file in it, any binary file) fails ``json.loads`` before it nests, and so does one whose first value
    is not an array or an object; `json_depth` only bounds the nesting, so random bytes were refused as too deep.
    """
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")  # as json.loads decodes bytes
    except UnicodeDecodeError:
        return False
    return text.lstrip(" \t\n\r")[:1] in ("[", "{")


def _nested_too_deep(body: bytes) -> bool:
    return _opens_json_array_or_object(body) and json_depth(body) > MAX_JSON_DEPTH


async def _exceeds_depth(body: bytes) -> bool:
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    # Measuring a large body takes a while: keep it off the event loop.
    return await run_in_threadpool(_nested_too_deep, body)


class RequestBodyLimits:
    """ASGI middleware: 413 for a body over `MAX_BODY_BYTES`, 422 for JSON nested deeper than `MAX_JSON_DEPTH`.

    The nesting is measured only in bodies a JSON parser could nest in (`_opens_json_array_or_object`).

    `streamed_uploads` lists the (method, path) pairs whose ``application/octet-stream`` bodies are left to the route,
    `streamed_forms` those whose ``multipart/form-data`` bodies are.
    """

    def __init__(
        self,
        app: ASGIApp,
        streamed_uploads: Collection[tuple[str, str]] = (),
        streamed_forms: Collection[tuple[str, str]] = (),
    ) -> None:
        self.app = app
        self.streamed_uploads = frozenset(streamed_uploads)
        self.streamed_forms = frozenset(streamed_forms)

    def _is_streamed_upload(self, scope: Scope, content_type: bytes) -> bool:
        route = (scope["method"], scope["path"])
        if route not in self.streamed_uploads and route not in self.streamed_forms:
            return False
        media_type = content_type.decode("latin-1").partition(";")[0].strip().lower()
        if route in self.streamed_forms and media_type == "multipart/form-data":
            return True
        return route in self.streamed_uploads and media_type == "application/octet-stream"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The first of each header, as `Headers.get` reads them.
        declared: bytes | None = None
        content_type: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value if declared is None else declared
            elif name == b"content-type":
                content_type = value if content_type is None else content_type
            elif name == b"transfer-encoding":
                chunked = True
        if not chunked and (declared is None or declared == b"0"):
            # No body to measure: neither a length nor chunks (a GET, mostly).
            await self.app(scope, receive, send)
            return
        if self._is_streamed_upload(scope, content_type or b""):
            await self.app(scope, receive, send)
            return
        too_large = PayloadTooLarge(
            f"The request body is larger than {MAX_BODY_BYTES // 2**20} MiB; send less per request.",
            details={"limit_bytes": MAX_BODY_BYTES},
        )
        length = (declared or b"").decode("latin-1")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            await error_response(too_large)(scope, receive, send)
            return
        body = bytearray()
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more_body = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                await error_response(too_large)(scope, receive, send)
                return
        if await _exceeds_depth(bytes(body)):
            too_deep = ValidationFailed.in_body(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            await error_response(too_deep)(scope, receive, send)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)
