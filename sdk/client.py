"""The HTTP client for the Segell API."""

from __future__ import annotations

import json as _json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar
from urllib.parse import quote

import httpx

from . import _proof
from ._version import __version__
from .errors import AnchorTimeoutError, APIError, TransportError, UnexpectedResponseError, _error_class_for
from .models import (
    Administration,
    AdmittedAdministration,
    ApiKeyInfo,
    Health,
    Identity,
    IssuedApiKey,
    Receipt,
    Verification,
)

__all__ = ["BATCH_LIMIT", "DEFAULT_BASE_URL", "Client"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
BATCH_LIMIT = 10_000
"""The most hashes ``POST /v1/documents/batch`` takes at once; :meth:`Client.notarise_many` sends chunks of it."""

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

    # -- notary (an administration's key) --------------------------------------------------------

    def notarise(
        self,
        source: str | os.PathLike[str] | bytes,
        *,
        kind: str | None = None,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        salted: bool = False,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Notarise one document and return its receipt (``status == "pending"`` until anchored).

        Arguments:
            source: the document as ``bytes``; its path (``str`` or ``os.PathLike``), streamed from disk, never
                read whole; or its SHA-256 as 64 hex digits (``0x`` optional), in which case the document itself
                never leaves this machine. A ``str`` of 64 hex digits is always taken as a hash: pass a
                :class:`pathlib.Path` for a file named like one.
            kind: the kind of document, e.g. ``"resolution"`` or ``"certificate"``.
            title: a title shown by public verification.
            metadata: a JSON object kept with the receipt.
            salted: hide the hash in the tree behind 32 random bytes, for documents whose content could be
                guessed.
            idempotency_key: a key of your own for this submission; sending it again returns the same receipt
                rather than notarising twice (safe retries).

        Submitting a document the administration already notarised returns the existing receipt.

        Raises:
            PayloadTooLargeError: the file is over the server's size limit; send its hash instead.
            OSError: the file cannot be read.

        Example::

            receipt = segell.notarise(Path("acta-ple-2026-03.pdf"), kind="minutes", title="Acta del Ple")
            print(receipt.verification_code)
        """
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
        if isinstance(source, str) and (document_hash := _proof.parse_hash(source)) is not None:
            body: dict[str, Any] = {"hash": document_hash.hex(), "salted": salted}
            for name, value in (("kind", kind), ("title", title), ("metadata", metadata)):
                if value is not None:
                    body[name] = value
            return self._call("POST", "/v1/documents", Receipt._from_json, json=body, headers=headers)

        params: dict[str, str] = {"salted": "true" if salted else "false"}
        if kind is not None:
            params["kind"] = kind
        if title is not None:
            params["title"] = title
        headers["Content-Type"] = "application/octet-stream"
        if metadata is not None:
            headers["X-Segell-Metadata"] = _json.dumps(metadata, separators=(",", ":"))
        if isinstance(source, bytes | bytearray | memoryview):
            return self._call(
                "POST", "/v1/documents", Receipt._from_json, content=bytes(source), params=params, headers=headers
            )
        if not isinstance(source, str | os.PathLike):
            raise TypeError(f"expected bytes, a path or a SHA-256 in hex, got {type(source).__name__}")
        with Path(source).open("rb") as stream:
            return self._call(
                "POST", "/v1/documents", Receipt._from_json, content=stream, params=params, headers=headers
            )

    def notarise_many(
        self,
        hashes_or_paths: Iterable[str | os.PathLike[str]],
        *,
        kind: str | None = None,
        salted: bool = False,
    ) -> list[Receipt]:
        """Notarise many documents by hash; return their receipts in the same order.

        Arguments:
            hashes_or_paths: SHA-256 hashes (64 hex digits) or paths of files, which are hashed here, streamed
                from disk: only hashes are sent. Sent in chunks of :data:`BATCH_LIMIT` (10,000).
            kind: the kind of every document.
            salted: salt every leaf; see :meth:`notarise`.

        Example::

            receipts = segell.notarise_many(sorted(Path("certificats").glob("*.pdf")), kind="certificate")
        """
        hashes = [_hash_of(item) for item in hashes_or_paths]
        receipts: list[Receipt] = []
        for start in range(0, len(hashes), BATCH_LIMIT):
            body: dict[str, Any] = {"hashes": hashes[start : start + BATCH_LIMIT], "salted": salted}
            if kind is not None:
                body["kind"] = kind
            receipts.extend(self._call("POST", "/v1/documents/batch", _items(Receipt._from_json), json=body))
        return receipts

    def status(self, document_id: str) -> Receipt:
        """Fetch a receipt again, e.g. to see whether it has been anchored.

        Raises:
            NotFoundError: this administration has no document with this id.
        """
        return self._call("GET", f"/v1/documents/{_segment(document_id)}", Receipt._from_json)

    def bundle(self, document_id: str) -> dict[str, Any]:
        """Download the proof bundle of an anchored document (docs/proof-bundle.md), as parsed JSON.

        Save it next to the document: with the bundle and any node of the chain, anyone can check the document
        without Segell (:func:`sdk.verify_bundle`)::

            Path("acta.pdf.segell.json").write_text(json.dumps(segell.bundle(receipt.id), indent=2))

        Raises:
            ConflictError: with ``code == "not_anchored"`` while the document is pending; see
                :meth:`wait_until_anchored`.
            NotFoundError: this administration has no document with this id.
        """
        return self._call("GET", f"/v1/documents/{_segment(document_id)}/bundle", _json_object)

    def wait_until_anchored(self, document_id: str, timeout: float = 30.0) -> Receipt:
        """Poll a receipt until its root is on chain; return the anchored (or revoked) receipt.

        Arguments:
            document_id: the receipt id.
            timeout: seconds to wait at most.

        Raises:
            AnchorTimeoutError: still pending after ``timeout`` seconds (it is a ``TimeoutError`` too).
        """
        deadline = time.monotonic() + timeout
        interval = 0.05
        while True:
            receipt = self.status(document_id)
            if receipt.status != "pending":
                return receipt
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AnchorTimeoutError(
                    f"Document {document_id} is still {receipt.status} after {timeout:g} seconds. Anchoring "
                    "runs in batches: wait longer, or check that the server's anchoring worker is running.",
                    document_id=document_id,
                    status=receipt.status,
                )
            time.sleep(min(interval, remaining))
            interval = min(interval * 2, 1.0)

    def revoke(self, document_id: str, reason: str) -> Receipt:
        """Revoke an anchored document on chain, for ``reason``; verification then answers ``revoked``.

        Raises:
            ConflictError: the document is not anchored yet, or already revoked.
            NotFoundError: this administration has no document with this id.
        """
        path = f"/v1/documents/{_segment(document_id)}/revoke"
        return self._call("POST", path, Receipt._from_json, json={"reason": reason})

    def verify(
        self,
        hash: str | None = None,
        code: str | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> Verification:
        """Ask Segell's public verification about a document. Needs no API key.

        Give exactly one of:

        - ``hash``: the document's SHA-256 in hex;
        - ``code``: the verification code printed on it (case, spaces and hyphens do not matter);
        - ``path``: the document's file; it is hashed here and only the hash is sent.

        To check without trusting Segell, use :func:`sdk.verify_bundle` with the proof bundle instead.

        Example::

            result = segell.verify(code="7GQK-2M4B-XW9D-1RTC-K")
            if result.is_authentic:
                print(result.matches[0].administration.name)
        """
        given = [name for name, value in (("hash", hash), ("code", code), ("path", path)) if value is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of hash, code or path (given: {', '.join(given) or 'none'})")
        if code is not None:
            return self._call("GET", "/v1/verify", Verification._from_json, params={"code": code})
        if hash is not None:
            parsed = _proof.parse_hash(hash)
            if parsed is None:
                raise ValueError(f"hash must be a SHA-256 in hex (64 digits), got {hash!r}")
        else:
            assert path is not None
            parsed = _proof.hash_file(path)
        return self._call("GET", "/v1/verify", Verification._from_json, params={"hash": parsed.hex()})

    # -- plumbing -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], _T],
        *,
        json: dict[str, Any] | None = None,
        content: bytes | IO[bytes] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        report_statuses: frozenset[int] = frozenset(),
    ) -> _T:
        url = f"{self.base_url}{path}"
        try:
            response = self._http.request(
                method,
                path,
                json=json,
                content=content,  # a binary file is streamed in chunks, with its Content-Length
                params=params,
                headers=headers,
            )
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


def _json_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return data


def _hash_of(item: str | os.PathLike[str]) -> str:
    if isinstance(item, str) and (parsed := _proof.parse_hash(item)) is not None:
        return parsed.hex()
    return _proof.hash_file(item).hex()


def _segment(value: str) -> str:
    if not value:
        raise ValueError("an administration code, key id or document id must not be empty")
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
