"""Notarising and verifying documents: the ``client.documents`` group of :class:`sdk.Client`."""

from __future__ import annotations

import json as _json
import os
import re
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx

from . import _proof
from ._convert import items, json_object
from ._transport import Transport, segment
from .errors import AnchorTimeoutError
from .models import DocumentCopy, Receipt, Verification

__all__ = ["BATCH_LIMIT", "Documents"]

BATCH_LIMIT = 10_000
"""The most hashes ``POST /v1/documents/batch`` takes at once; :meth:`Documents.notarise_many` sends chunks of it."""
BATCHES_IN_FLIGHT = 2
"""Chunks :meth:`Documents.notarise_many` sends at once."""


class Documents:
    """``client.documents``: the notary. Notarising, revoking and fetching proof bundles need an administration's
    key; public verification needs none.
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def notarise(
        self,
        source: str | os.PathLike[str] | bytes,
        *,
        kind: str | None = None,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        salted: bool = False,
        public: bool = False,
        public_copy: bool = False,
        filename: str | None = None,
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
                guessed. Public verification by hash then names the issuer and the date, not the kind or title.
            public: show the kind and title to public verification by hash even so.
            public_copy: let whoever holds the verification code download the document itself
                (:meth:`download`, and the verification page), until it is revoked. The file is sent and kept by
                the server: ``source`` must be the file, not its hash.
            filename: with ``public_copy``, the name to offer the file under (default: the path's name, else the
                title).
            idempotency_key: a key of your own for this submission; sending it again returns the same receipt
                rather than notarising twice (safe retries).

        Submitting a document the administration already notarised returns the existing receipt.

        Raises:
            PayloadTooLargeError: the file is over the server's size limit; send its hash instead.
            OSError: the file cannot be read.
            ValueError: ``public_copy`` with a hash: a copy needs the file.

        Example::

            receipt = segell.documents.notarise(Path("acta-ple-2026-03.pdf"), kind="minutes", title="Acta del Ple")
            print(receipt.verification_code)
        """
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else {}
        if isinstance(source, str) and (document_hash := _proof.parse_hash(source)) is not None:
            if public_copy:
                raise ValueError("public_copy needs the document itself: pass its path or its bytes, not its hash")
            body: dict[str, Any] = {"hash": document_hash.hex(), "salted": salted}
            if public:
                body["public"] = True
            for name, value in (("kind", kind), ("title", title), ("metadata", metadata)):
                if value is not None:
                    body[name] = value
            return self._transport.call("POST", "/v1/documents", Receipt._from_json, json=body, headers=headers)

        params: dict[str, str] = {"salted": "true" if salted else "false"}
        if public:
            params["public"] = "true"
        if kind is not None:
            params["kind"] = kind
        if title is not None:
            params["title"] = title
        if public_copy:
            params["public_copy"] = "true"
            offered = filename or (Path(source).name if isinstance(source, str | os.PathLike) else None)
            if offered:
                params["filename"] = offered
        headers["Content-Type"] = "application/octet-stream"
        if metadata is not None:
            headers["X-Segell-Metadata"] = _json.dumps(metadata, separators=(",", ":"))
        if isinstance(source, bytes | bytearray | memoryview):
            return self._transport.call(
                "POST", "/v1/documents", Receipt._from_json, content=bytes(source), params=params, headers=headers
            )
        if not isinstance(source, str | os.PathLike):
            raise TypeError(f"expected bytes, a path or a SHA-256 in hex, got {type(source).__name__}")
        with Path(source).open("rb") as stream:
            return self._transport.call(
                "POST", "/v1/documents", Receipt._from_json, content=stream, params=params, headers=headers
            )

    def notarise_many(
        self,
        hashes_or_paths: Iterable[str | os.PathLike[str]],
        *,
        kind: str | None = None,
        salted: bool = False,
        public: bool = False,
    ) -> list[Receipt]:
        """Notarise many documents by hash; return their receipts in the same order.

        Arguments:
            hashes_or_paths: SHA-256 hashes (64 hex digits) or paths of files, which are hashed here, streamed
                from disk: only hashes are sent. Sent in chunks of :data:`BATCH_LIMIT` (10,000), two at a time:
                the server stores one while the next is on its way.
            kind: the kind of every document.
            salted: salt every leaf; see :meth:`notarise`.
            public: show every kind to public verification by hash; see :meth:`notarise`.

        When a chunk fails, the chunks sent before it may have been accepted; calling again with the same
        documents is safe, as a document already notarised answers the receipt it has.

        Example::

            receipts = segell.documents.notarise_many(sorted(Path("certificats").glob("*.pdf")), kind="certificate")
        """
        hashes = [_hash_of(item) for item in hashes_or_paths]

        def send(start: int) -> list[Receipt]:
            body: dict[str, Any] = {"hashes": hashes[start : start + BATCH_LIMIT], "salted": salted}
            if public:
                body["public"] = True
            if kind is not None:
                body["kind"] = kind
            return self._transport.call("POST", "/v1/documents/batch", items(Receipt._from_json), json=body)

        starts = range(0, len(hashes), BATCH_LIMIT)
        if len(starts) <= 1:
            return [receipt for start in starts for receipt in send(start)]
        with ThreadPoolExecutor(BATCHES_IN_FLIGHT) as pool:
            return [receipt for chunk in pool.map(send, starts) for receipt in chunk]

    def get(self, document_id: str) -> Receipt:
        """Fetch a receipt again, e.g. to see whether it has been anchored.

        Raises:
            NotFoundError: this administration has no document with this id.
        """
        return self._transport.call("GET", f"/v1/documents/{segment(document_id)}", Receipt._from_json)

    def bundle(self, document_id: str) -> dict[str, Any]:
        """Download the proof bundle of an anchored document (docs/proof-bundle.md), as parsed JSON.

        Save it next to the document: with the bundle and any node of the chain, anyone can check the document
        without Segell (:func:`sdk.verify_bundle`)::

            Path("acta.pdf.segell.json").write_text(json.dumps(segell.documents.bundle(receipt.id), indent=2))

        Raises:
            ConflictError: with ``code == "not_anchored"`` while the document is pending; see
                :meth:`wait_until_anchored`.
            NotFoundError: this administration has no document with this id.
        """
        return self._transport.call("GET", f"/v1/documents/{segment(document_id)}/bundle", json_object)

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
            receipt = self.get(document_id)
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
        path = f"/v1/documents/{segment(document_id)}/revoke"
        return self._transport.call("POST", path, Receipt._from_json, json={"reason": reason})

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

            result = segell.documents.verify(code="7GQK-2M4B-XW9D-1RTC-N")
            if result.is_authentic:
                print(result.matches[0].administration.name)
        """
        given = [name for name, value in (("hash", hash), ("code", code), ("path", path)) if value is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of hash, code or path (given: {', '.join(given) or 'none'})")
        if code is not None:
            return self._transport.call("GET", "/v1/verify", Verification._from_json, params={"code": code})
        if hash is not None:
            parsed = _proof.parse_hash(hash)
            if parsed is None:
                raise ValueError(f"hash must be a SHA-256 in hex (64 digits), got {hash!r}")
        else:
            assert path is not None
            parsed = _proof.hash_file(path)
        return self._transport.call("GET", "/v1/verify", Verification._from_json, params={"hash": parsed.hex()})

    def bundle_by_code(self, code: str) -> dict[str, Any]:
        """Download the proof bundle of a document by the verification code printed on it, as parsed JSON.

        Needs no API key: whoever holds the code holds the document. It is the bundle the issuer gets from
        :meth:`bundle`; check it with :func:`sdk.verify_bundle`::

            bundle = Client("http://127.0.0.1:8000").documents.bundle_by_code("7GQK-2M4B-XW9D-1RTC-N")

        Raises:
            ConflictError: with ``code == "not_anchored"`` while the document is pending.
            NotFoundError: no document has this code.
            ValidationError: not a verification code; ``code == "invalid_code"`` when one character is mistyped.
        """
        return self._transport.call("GET", f"/v1/verify/{segment(code)}/bundle", json_object)

    def download(self, code: str) -> DocumentCopy:
        """Download a document by the verification code printed on it, when its issuer kept a public copy.

        Needs no API key, as on the verification page. :attr:`VerificationMatch.public_copy` says beforehand
        whether there is one::

            copy = Client("http://127.0.0.1:8000").documents.download("7GQK-2M4B-XW9D-1RTC-N")
            copy.save(Path("."))  # under copy.file_name

        Raises:
            NotFoundError: no document has this code, or (``code == "no_public_copy"``) its issuer kept no copy.
            GoneError: with ``code == "document_revoked"``: the document was revoked, and its copy is no longer
                served.
            ValidationError: not a verification code; ``code == "invalid_code"`` when one character is mistyped.
        """
        return self._transport.download(f"/v1/verify/{segment(code)}/document", _document_copy)


# `filename*=UTF-8''...` (RFC 6266) first, then a plain `filename="..."`.
_FILENAME_STAR = re.compile(r"filename\*\s*=\s*UTF-8''([^;\s]+)", re.IGNORECASE)
_FILENAME = re.compile(r'filename\s*=\s*"([^"]*)"', re.IGNORECASE)


def _document_copy(response: httpx.Response) -> DocumentCopy:
    disposition = response.headers.get("content-disposition", "")
    if match := _FILENAME_STAR.search(disposition):
        name = unquote(match.group(1))
    elif match := _FILENAME.search(disposition):
        name = match.group(1)
    else:
        name = "document"
    media_type = response.headers.get("content-type", "application/octet-stream").partition(";")[0].strip()
    return DocumentCopy(file_name=name, media_type=media_type, content=response.content)


def _hash_of(item: str | os.PathLike[str]) -> str:
    if isinstance(item, str) and (parsed := _proof.parse_hash(item)) is not None:
        return parsed.hex()
    return _proof.hash_file(item).hex()
