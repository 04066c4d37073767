"""The HTTP client for the Segell API."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from ._version import __version__
from .errors import APIError, TransportError, UnexpectedResponseError, _error_class_for
from .models import (
    Administration,
    AdmittedAdministration,
    ApiKeyInfo,
    Health,
    Identity,
    IssuedApiKey,
)

__all__ = ["DEFAULT_BASE_URL", "Client"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"

_T = TypeVar("_T")


class Client:
    """A synchronous client for one Segell server.

    Arguments:
        base_url: where the server runs; ``segell up`` listens on ``http://127.0.0.1:8000`` by default.
        api_key: the ``sgl_<id>_<secret>`` key sent as a bearer token. Only ``health()`` works without one.
        timeout: seconds to wait for the server on each request.
        transport: the ``httpx`` transport to send requests through, e.g.
            ``httpx.HTTPTransport(retries=3)`` or one configured for a proxy or client certificates.

    An unparseable ``base_url`` raises :class:`ValueError`. Every method raises a subclass of
    :class:`sdk.SegellError` on failure: :class:`sdk.TransportError` when the server cannot be
    reached and an :class:`sdk.APIError` subclass when it answers with an error.

    Usage::

        from sdk import Client

        with Client("http://127.0.0.1:8000", api_key=governance_key) as segell:
            admitted = segell.admit_administration("L01080193", "Ajuntament de Barcelona")
            print(admitted.api_key.key)  # shown only once: hand it to the administration
            for administration in segell.list_administrations():
                print(administration.code, administration.status)
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": f"segell-sdk/{__version__}"}
        if api_key is not None:
            headers["Authorization"] = f"Bearer {api_key}"
        self._timeout = timeout
        try:
            self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout, transport=transport)
        except httpx.InvalidURL as exc:
            raise ValueError(f"Invalid Segell base URL {base_url!r}: {exc}") from exc

    @property
    def base_url(self) -> str:
        """The server's base URL, without a trailing slash."""
        return str(self._http.base_url).rstrip("/")

    def close(self) -> None:
        """Close the connections to the server. The client cannot be used afterwards."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # -- server ---------------------------------------------------------------------------------

    def health(self) -> Health:
        """Report the state of the server, its chain, contracts and database. Needs no API key.

        A reachable server that has lost a component answers with ``status == "degraded"``
        rather than an error::

            health = client.health()
            if not health.is_ok:
                print("chain at", health.chain.rpc_url, "database ok:", health.database.ok)
        """
        # The server answers 503 with the same body when degraded: that is a report, not a failure.
        return self._call("GET", "/health", Health._from_json, report_statuses=frozenset({503}))

    def me(self) -> Identity:
        """Report who the API key belongs to: its role and, for an administration, which one."""
        return self._call("GET", "/v1/me", Identity._from_json)

    # -- administrations (governance) -----------------------------------------------------------

    def admit_administration(self, code: str, name: str) -> AdmittedAdministration:
        """Admit an administration to the consortium and issue its first API key. Governance only.

        Arguments:
            code: the administration's public code, e.g. ``"L01080193"``.
            name: its display name, e.g. ``"Ajuntament de Barcelona"``.

        The returned ``api_key.key`` is shown only once.

        Raises:
            ConflictError: an administration with this code already exists.
            ValidationError: the code or name is not acceptable; see ``details``.
        """
        return self._call(
            "POST",
            "/v1/administrations",
            AdmittedAdministration._from_json,
            json={"code": code, "name": name},
        )

    def list_administrations(self) -> list[Administration]:
        """List every administration, active or suspended. Governance only."""
        return self._call("GET", "/v1/administrations", _items(Administration._from_json))

    def get_administration(self, code: str) -> Administration:
        """Fetch one administration by code. Governance, or that administration's own key.

        Raises:
            NotFoundError: no administration has this code.
        """
        return self._call("GET", f"/v1/administrations/{_segment(code)}", Administration._from_json)

    def suspend_administration(self, code: str) -> Administration:
        """Suspend an administration: its accounts can no longer anchor. Governance only."""
        path = f"/v1/administrations/{_segment(code)}/suspend"
        return self._call("POST", path, Administration._from_json)

    def reinstate_administration(self, code: str) -> Administration:
        """Reinstate a suspended administration. Governance only."""
        path = f"/v1/administrations/{_segment(code)}/reinstate"
        return self._call("POST", path, Administration._from_json)

    # -- API keys (governance) ------------------------------------------------------------------

    def issue_api_key(self, code: str) -> IssuedApiKey:
        """Issue another API key for an administration. Governance only.

        The returned ``key`` is shown only once::

            issued = client.issue_api_key("L01080193")
            store_secret(issued.key)
        """
        path = f"/v1/administrations/{_segment(code)}/api-keys"
        return self._call("POST", path, IssuedApiKey._from_json)

    def list_api_keys(self, code: str) -> list[ApiKeyInfo]:
        """List an administration's API keys, revoked ones included, without secrets. Governance only."""
        path = f"/v1/administrations/{_segment(code)}/api-keys"
        return self._call("GET", path, _items(ApiKeyInfo._from_json))

    def revoke_api_key(self, code: str, key_id: str) -> ApiKeyInfo:
        """Revoke one of an administration's API keys; it stops working at once. Governance only.

        Raises:
            NotFoundError: the administration has no key with this id.
        """
        path = f"/v1/administrations/{_segment(code)}/api-keys/{_segment(key_id)}"
        return self._call("DELETE", path, ApiKeyInfo._from_json)

    # -- plumbing -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], _T],
        *,
        json: dict[str, Any] | None = None,
        report_statuses: frozenset[int] = frozenset(),
    ) -> _T:
        url = f"{self.base_url}{path}"
        try:
            response = self._http.request(method, path, json=json)
        except httpx.TimeoutException as exc:
            raise TransportError(
                f"The Segell server at {self.base_url} did not answer {method} {path} within "
                f"{self._timeout:g} seconds ({type(exc).__name__}). Check that it is running "
                "(`segell status`) or raise the client's timeout.",
                url=url,
            ) from exc
        except httpx.TransportError as exc:
            raise TransportError(
                f"Cannot reach the Segell server at {self.base_url} ({str(exc) or type(exc).__name__}). "
                "Start one with `segell up`, or point SEGELL_URL (the client's base_url) "
                "at a running server.",
                url=url,
            ) from exc

        if response.is_error:
            if response.status_code in report_statuses:
                try:
                    return parse(response.json())
                except (ValueError, KeyError, TypeError):
                    pass  # not the report: an ordinary error body
            raise _api_error(response)
        try:
            return parse(response.json())
        except (ValueError, KeyError, TypeError) as exc:
            raise UnexpectedResponseError(
                f"{method} {url} answered HTTP {response.status_code} with a body this client cannot read "
                f"({type(exc).__name__}: {exc}). Is {self.base_url} a Segell server of a compatible version?",
                status_code=response.status_code,
                url=url,
            ) from exc


def _items(parse: Callable[[Any], _T]) -> Callable[[Any], list[_T]]:
    def parse_items(data: Any) -> list[_T]:
        return [parse(item) for item in data["items"]]

    return parse_items


def _segment(value: str) -> str:
    if not value:
        raise ValueError("an administration code or key id must not be empty")
    # Quoting "/" too keeps a value from reaching another route.
    return quote(value, safe="")


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
