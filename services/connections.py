"""How long a connection may take and how many the server holds: the uvicorn configuration of `segell up`.

uvicorn closes a kept-alive connection idle for `timeout_keep_alive`, and nothing else: a client that connects and
sends nothing, sends half a request head, or stops half-way through a body holds its connection (and a file
descriptor) forever. 20,200 such connections exhausted the process's descriptors and `/health` stopped answering.
`SegellHttpProtocol` adds the missing deadlines to uvicorn's httptools protocol, and a cap on connections that answers
503 while descriptors remain. uvicorn's own `limit_concurrency` is not used: it answers in plain text, and only once a
request head has arrived, so idle connections over the cap still pile up, each holding a descriptor.

    head          from accepting a connection (or from the end of the previous response on it) to the end of the
                  request head: `http_head_timeout`, then 408 if part of a head came, else a silent close
    body          longest silence while a request body is arriving: `http_body_timeout`, then 408 (or a close once
                  the response has started)
    keep-alive    idle time between requests on one connection: `http_keep_alive_timeout`
    head size     at most `MAX_HEAD_BYTES` (64 KiB) of request line and headers, then 431
    connections   at most `max_connections` at once; the next one is answered 503 at once and closed

`server_config` builds the one `uvicorn.Config` that `segell up` and the test server both run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sys
from dataclasses import dataclass
from typing import Any, Final

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from segell.services.errors import error_body
from segell.services.settings import Settings

log = logging.getLogger("segell")

# Descriptors kept for everything but client connections: the database, the chain node's sockets and pipes, the
# sandboxes' nodes, files being written, log files.
RESERVED_FILE_DESCRIPTORS: Final = 256
# A connection being served may open one more descriptor (an upload's temporary file, a socket to a sandbox's node).
DESCRIPTORS_PER_CONNECTION: Final = 2
# The longest request head (request line and headers) read: nginx's default buffers take 32 KiB.
MAX_HEAD_BYTES: Final = 64 * 1024
# How long a refused connection stays open to read what the client still sends, so that closing it does not reset
# the connection before the client has read the 503.
REFUSED_LINGER_SECONDS: Final = 1.0
# Seconds between two warnings in the log that connections are being refused.
REFUSAL_WARNING_INTERVAL: Final = 10.0


@dataclass
class ConnectionLimits:
    """What every connection of one server reads (the limits) and shares (the refused connections still open)."""

    head_timeout: float
    body_timeout: float
    max_connections: int
    # Refused connections lingering at once, at most: in a flood, half the cap. The descriptors left above the cap
    # then hold them and what the connections being served open.
    max_lingering: int
    lingering: int = 0
    last_refusal_warning: float = -math.inf


def _response(status: bytes, code: str, message: str, extra_headers: bytes = b"") -> bytes:
    body = json.dumps(error_body(code, message)).encode()
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"content-type: application/json\r\n"
        b"x-content-type-options: nosniff\r\n" + extra_headers + b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


_REQUEST_TIMEOUT: Final = _response(
    b"408 Request Timeout", "request_timeout", "The request did not arrive in time; send it again, without pausing."
)
_HEAD_TOO_LARGE: Final = _response(
    b"431 Request Header Fields Too Large",
    "request_head_too_large",
    f"The request line and headers take more than {MAX_HEAD_BYTES // 1024} KiB; send less.",
)
_TOO_MANY_CONNECTIONS: Final = _response(
    b"503 Service Unavailable",
    "too_many_connections",
    "The server holds as many connections as it can; try again in a moment.",
    b"retry-after: 1\r\n",
)


class SegellHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines for the request head and body, and a cap on connections.

    The deadlines and the cap come from the `ConnectionLimits` in ``config.segell_limits`` (see `server_config`).
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.limits: ConnectionLimits = config.segell_limits  # type: ignore[attr-defined]
        self.head_timeout = self.limits.head_timeout
        self.body_timeout = self.limits.body_timeout
        self.head_timer: asyncio.TimerHandle | None = None
        self.body_timer: asyncio.TimerHandle | None = None
        self.head_started = False  # a byte of the current request head has arrived
        self.head_bytes = 0  # received since the last request head ended
        self.body_pending = False  # the current request's body has not all arrived
        self.refused = False
        self.lingering = False

    # -- connection -------------------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse()
            return
        self.head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        if self.lingering:
            self.lingering = False
            self.limits.lingering -= 1
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # read and dropped until the client closes or the linger ends
        if self.body_pending:
            self._arm_body_timer()
        else:
            self.head_bytes += len(data)
        super().data_received(data)
        # llhttp keeps no limit on a head: without one a client could send gigabytes of headers within the timeout.
        if not self.body_pending and self.head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self.transport.write(_HEAD_TOO_LARGE)
            self.logger.info("Closed a connection whose request head exceeded %d bytes.", MAX_HEAD_BYTES)
            self._close()

    def _refuse(self) -> None:
        """Answer 503 before any request, stop writing, and close once the client has finished sending."""
        self.refused = True
        limits, now = self.limits, self.loop.time()
        if now - limits.last_refusal_warning >= REFUSAL_WARNING_INTERVAL:
            limits.last_refusal_warning = now
            self.logger.warning(
                "Refusing connections: %d are open, the most this server holds.", limits.max_connections
            )
        self.transport.write(_TOO_MANY_CONNECTIONS)
        if limits.lingering >= limits.max_lingering or not self.transport.can_write_eof():
            # A flood: descriptors matter more than a client that may miss its 503.
            self.transport.close()
            return
        self.transport.write_eof()
        self.lingering = True
        limits.lingering += 1
        self.loop.call_later(REFUSED_LINGER_SECONDS, self.transport.close)

    def _cancel_timers(self) -> None:
        for timer in (self.head_timer, self.body_timer):
            if timer is not None:
                timer.cancel()
        self.head_timer = self.body_timer = None

    # -- request head -----------------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_started = True
        if self.head_timer is None:  # a request sent before the previous one was answered (pipelining)
            self.head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def on_response_complete(self) -> None:
        next_request_arrived = bool(self.pipeline)
        super().on_response_complete()
        # The connection waits for its next request head from now: a client sending only blank lines, which reset
        # uvicorn's keep-alive timer without starting a request, is closed all the same.
        if not next_request_arrived and self.head_timer is None and not self.transport.is_closing():
            self.head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def on_headers_complete(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        self.head_started = False
        self.head_bytes = 0
        # llhttp calls on_message_complete right after this for a request without a body.
        self.body_pending = True
        self._arm_body_timer()
        super().on_headers_complete()

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        answering = self.cycle is not None and not self.cycle.response_complete
        if self.head_started and not answering:
            self.transport.write(_REQUEST_TIMEOUT)
        self.logger.info("Closed a connection whose request head did not arrive in %s s.", self.head_timeout)
        self._close()

    # -- request body -----------------------------------------------------------------------------------------------

    def on_message_complete(self) -> None:
        self.body_pending = False
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None
        super().on_message_complete()

    def _arm_body_timer(self) -> None:
        if self.body_timer is not None:
            self.body_timer.cancel()
        self.body_timer = self.loop.call_later(self.body_timeout, self._body_timed_out)

    def _body_timed_out(self) -> None:
        self.body_timer = None
        if self.transport.is_closing() or not self.body_pending:
            return
        if self.flow.read_paused:
            # Reading is paused because the application has not taken what arrived: the wait is ours, not the client's.
            self._arm_body_timer()
            return
        if self.cycle is not None and not self.cycle.response_started:
            self.transport.write(_REQUEST_TIMEOUT)
        self.logger.info("Closed a connection whose request body stalled for %s s.", self.body_timeout)
        self._close()

    def _close(self) -> None:
        if self.cycle is not None and not self.cycle.response_complete:
            # The application's next receive() gets http.disconnect, and whatever it sends is dropped.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()


def raise_open_file_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (where it can); return the soft limit."""
    if sys.platform == "win32":
        return 8192  # Windows has no RLIMIT_NOFILE: a fixed budget
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # macOS refuses more than OPEN_MAX (10,240) even when the hard limit says unlimited.
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 10_240)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open file limit from %d to %d: %s", soft, target, exc)
    return int(soft) if soft != resource.RLIM_INFINITY else 1_000_000


def connection_cap(settings: Settings, open_file_limit: int) -> int:
    """The connections the server holds at once: `max_connections`, never more than the descriptors allow."""
    allowed = max(1, (open_file_limit - RESERVED_FILE_DESCRIPTORS) // DESCRIPTORS_PER_CONNECTION)
    if settings.max_connections is None:
        return allowed
    if settings.max_connections > allowed:
        log.warning(
            "SEGELL_MAX_CONNECTIONS=%d needs more file descriptors than the limit of %d allows: serving at most %d",
            settings.max_connections,
            open_file_limit,
            allowed,
        )
        return allowed
    return settings.max_connections


def server_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration Segell runs with: `SegellHttpProtocol` over httptools, and uvloop where it exists.

    httptools, and uvloop (not on Windows), take a fifth less CPU per request than h11 and asyncio.
    """
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="auto",
        http=SegellHttpProtocol,
        timeout_keep_alive=settings.http_keep_alive_timeout,  # type: ignore[arg-type]
        ws="none",  # the API has no WebSocket routes: an upgrade request is answered as plain HTTP
        **options,
    )
    max_connections = connection_cap(settings, raise_open_file_limit())
    # uvicorn hands each connection's protocol only the Config: the limits travel on it.
    config.segell_limits = ConnectionLimits(  # type: ignore[attr-defined]
        head_timeout=settings.http_head_timeout,
        body_timeout=settings.http_body_timeout,
        max_connections=max_connections,
        max_lingering=max(1, max_connections // 2),
    )
    return config
