"""How every part of :class:`sdk.Client` reaches the server: one ``httpx.Client`` and the error mapping."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any, TypeVar
from urllib.parse import quote

import httpx

from ._version import __version__
from .errors import APIError, TransportError, UnexpectedResponseError, _error_class_for

__all__ = ["Transport", "bearer", "segment"]

_T = TypeVar("_T")


class Transport:
    """The connection a :class:`sdk.Client` and its groups (``client.documents``, ...) share.

    It sends a request, turns an error status into the matching :class:`sdk.APIError` and a success into a
    typed result with the parser it is given.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float,
        transport: httpx.BaseTransport | None,
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": f"segell-sdk/{__version__}"}
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key}"
        self.timeout = timeout
        try:
            self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout, transport=transport)
        except httpx.InvalidURL as exc:
            raise ValueError(f"Invalid Segell base URL {base_url!r}: {exc}") from exc

    @property
    def base_url(self) -> str:
        """The server's base URL, without a trailing slash."""
        return str(self._http.base_url).rstrip("/")

    @property
    def authorization(self) -> dict[str, str]:
        """The ``Authorization`` header of the client's API key, empty without one (for web3.py)."""
        return {name: value for name, value in self._http.headers.items() if name.lower() == "authorization"}

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], _T],
        *,
        json: dict[str, Any] | None = None,
        content: bytes | IO[bytes] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes]] | None = None,
        data: Mapping[str, str] | None = None,
        report_statuses: frozenset[int] = frozenset(),
    ) -> _T:
        """Send one request; return ``parse`` of the JSON answer, or raise the :class:`sdk.SegellError` it calls for.

        ``report_statuses`` are error statuses whose body is still the result (``/health`` answers 503 degraded).
        """
        url = f"{self.base_url}{path}"
        response = self._send(
            method, path, json=json, content=content, params=params, headers=headers, files=files, data=data
        )
        if response.is_error:
            if response.status_code in report_statuses:
                try:
                    return parse(response.json())
                except (ValueError, KeyError, TypeError):
                    pass  # not the report: an ordinary error body
            raise _api_error(response)
        return _parsed(parse, response.json, method, url, response.status_code, self.base_url)

    def download(
        self,
        path: str,
        parse: Callable[[httpx.Response], _T],
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> _T:
        """GET a file (any media type); return ``parse`` of the successful response, or raise its error."""
        response = self._send("GET", path, params=params, headers={"Accept": "*/*", **(headers or {})})
        if response.is_error:
            raise _api_error(response)
        return _parsed(parse, lambda: response, "GET", f"{self.base_url}{path}", response.status_code, self.base_url)

    def _send(self, method: str, path: str, **options: Any) -> httpx.Response:
        try:
            # A binary `content` is streamed in chunks, with its Content-Length; `files` is multipart/form-data,
            # with `data` as its other fields.
            return self._http.request(method, path, **options)
        except httpx.TransportError as exc:
            raise self._unreachable(exc, method, path) from exc

    @contextmanager
    def stream(self, method: str, path: str, *, params: Mapping[str, str] | None = None) -> Iterator[httpx.Response]:
        """Send one request and hand over its response while the body is still arriving (to read it as it comes);
        an error status raises the :class:`sdk.APIError` it calls for, and a connection lost on the way a
        :class:`sdk.TransportError`."""
        try:
            with self._http.stream(method, path, params=params) as response:
                if response.is_error:
                    response.read()
                    raise _api_error(response)
                yield response
        except httpx.TransportError as exc:
            raise self._unreachable(exc, method, path) from exc

    def _unreachable(self, exc: httpx.TransportError, method: str, path: str) -> TransportError:
        url = f"{self.base_url}{path}"
        if isinstance(exc, httpx.TimeoutException):
            return TransportError(
                f"The Segell server at {self.base_url} did not answer {method} {path} within "
                f"{self.timeout:g} seconds ({type(exc).__name__}). Check that it is running "
                "(`segell status`) or raise the client's timeout.",
                url=url,
            )
        return TransportError(
            f"Cannot reach the Segell server at {self.base_url} ({str(exc) or type(exc).__name__}). "
            "Start one with `segell up`, or point SEGELL_URL (the client's base_url) "
            "at a running server.",
            url=url,
        )


def _parsed(parse: Callable[[Any], _T], read: Callable[[], Any], method: str, url: str, status: int, base: str) -> _T:
    try:
        return parse(read())
    except (ValueError, KeyError, TypeError) as exc:
        raise UnexpectedResponseError(
            f"{method} {url} answered HTTP {status} with a body this client cannot read "
            f"({type(exc).__name__}: {exc}). Is {base} a Segell server of a compatible version?",
            status_code=status,
            url=url,
        ) from exc


def segment(value: str) -> str:
    """``value`` as one segment of a URL path."""
    if not value:
        raise ValueError("an administration code, key id or document id must not be empty")
    # Quoting "/" too keeps a value from reaching another route.
    return quote(value, safe="")


def bearer(token: str) -> dict[str, str]:
    """The header that sends ``token`` (a citizen's) instead of the client's API key."""
    return {"Authorization": f"Bearer {token}"}


def _api_error(response: httpx.Response) -> APIError:
    """Build the exception for an error response, whatever its body."""
    status = response.status_code
    error_class = _error_class_for(status)
    try:
        body = response.json()
    except ValueError:
        body = None

    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = error.get("code")
        return error_class(
            status,
            code if isinstance(code, str) else f"http_{status}",
            error["message"],
            error.get("details"),
        )

    # Not Segell's error envelope: a proxy, another server, or a framework default.
    request = response.request
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        message = detail
    else:
        text = response.text.strip()
        excerpt = f": {text[:200]!r}" if text else ""
        message = (
            f"{request.method} {request.url} answered HTTP {status} {response.reason_phrase} "
            f"without a Segell error body{excerpt}"
        )
    return error_class(status, f"http_{status}", message, detail if detail is not None else None)
