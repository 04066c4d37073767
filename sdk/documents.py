"""Notarising and verifying documents: the ``client.documents`` group of :class:`sdk.Client`."""

from __future__ import annotations

import builtins  # the group has a method named `list`
import json as _json
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from . import _proof
from ._convert import items, json_object
from ._transport import Transport, segment
from .errors import AnchorTimeoutError, NotFoundError
from .models import BundleSet, DocumentCopy, DocumentPage, DocumentStatus, Receipt, Verification

__all__ = ["BATCH_LIMIT", "BUNDLES_LIMIT", "PAGE_LIMIT", "BundleExport", "Documents"]

BATCH_LIMIT = 10_000
"""The most hashes ``POST /v1/documents/batch`` takes at once; :meth:`Documents.notarise_many` sends chunks of it."""
BATCHES_IN_FLIGHT = 2
"""Chunks :meth:`Documents.notarise_many` sends at once."""
BUNDLES_LIMIT = 1000
"""The most ids, and the most hashes, ``POST /v1/documents/bundles`` takes at once; :meth:`Documents.bundles` sends
chunks of it."""
PAGE_LIMIT = 1000
"""The most receipts a page of :meth:`Documents.list` holds."""

Moment = datetime | date | str
"""A date or a date and time for the filters of :meth:`Documents.list`: a :class:`datetime.datetime` (without a time
zone it is taken as UTC), a :class:`datetime.date`, or RFC 3339 text (``"2026-03-01"``,
``"2026-03-01T09:30:00+01:00"``)."""


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

    def list(
        self,
        *,
        kind: str | None = None,
        status: DocumentStatus | None = None,
        since: Moment | None = None,
        until: Moment | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> DocumentPage:
        """One page of the administration's documents, newest first.

        Arguments:
            kind: only documents of this kind.
            status: only ``"pending"``, ``"anchored"`` or ``"revoked"`` documents.
            since: only documents accepted at or after this moment; a date alone is its midnight in UTC.
            until: only documents accepted before this moment; a date alone takes that whole day (UTC).
            limit: receipts per page, 1 to :data:`PAGE_LIMIT` (1,000).
            cursor: the ``next_cursor`` of the previous page, with the same filters; none for the first page.

        Raises:
            ValidationError: a filter or the cursor is not valid (``code == "invalid_cursor"`` for the cursor).

        Example::

            page = segell.documents.list(kind="minutes", since=date(2026, 3, 1))
            while True:
                for receipt in page.items:
                    print(receipt.created_at, receipt.verification_code, receipt.status)
                if page.next_cursor is None:
                    break
                page = segell.documents.list(kind="minutes", since=date(2026, 3, 1), cursor=page.next_cursor)
        """
        params = _filters(kind=kind, since=since, until=until)
        params["limit"] = str(limit)
        if status is not None:
            params["status"] = status
        if cursor is not None:
            params["cursor"] = cursor
        return self._transport.call("GET", "/v1/documents", DocumentPage._from_json, params=params)

    def iterate(
        self,
        *,
        kind: str | None = None,
        status: DocumentStatus | None = None,
        since: Moment | None = None,
        until: Moment | None = None,
        page_size: int = PAGE_LIMIT,
    ) -> Iterator[Receipt]:
        """Every document the filters take, newest first, over as many pages as it takes (:meth:`list`).

        Pages are fetched as the iteration reaches them, ``page_size`` receipts each. Documents accepted while it
        runs are newer than its first page, and so not among those it yields.

        Example::

            pending = [receipt.id for receipt in segell.documents.iterate(status="pending")]
        """
        cursor: str | None = None
        while True:
            page = self.list(kind=kind, status=status, since=since, until=until, limit=page_size, cursor=cursor)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def bundles(self, ids: Iterable[str] = (), hashes: Iterable[str] = ()) -> BundleSet:
        """The proof bundles of many documents at once, by receipt id and by SHA-256, as parsed JSON.

        Documents not anchored yet are named in ``pending``, and ids or hashes the administration has no document
        for in ``missing``, rather than raising. Sent in requests of :data:`BUNDLES_LIMIT` ids and as many
        hashes.

        Example::

            found = segell.documents.bundles(ids=[receipt.id for receipt in receipts])
            for bundle in found.items:
                Path(f"{bundle['receipt']['id']}.segell.json").write_text(json.dumps(bundle, indent=2))
        """
        wanted_ids, wanted_hashes = list(ids), [_hash_text(h) for h in hashes]
        found: list[dict[str, Any]] = []
        pending: list[str] = []
        missing: list[str] = []
        seen: set[str] = set()
        for start in range(0, max(len(wanted_ids), len(wanted_hashes)), BUNDLES_LIMIT):
            body = {
                "ids": wanted_ids[start : start + BUNDLES_LIMIT],
                "hashes": wanted_hashes[start : start + BUNDLES_LIMIT],
            }
            chunk = self._transport.call("POST", "/v1/documents/bundles", BundleSet._from_json, json=body)
            for bundle in chunk.items:
                receipt_id = str(bundle["receipt"]["id"])
                if receipt_id not in seen:
                    seen.add(receipt_id)
                    found.append(bundle)
            pending += [receipt_id for receipt_id in chunk.pending if receipt_id not in seen]
            seen.update(chunk.pending)
            missing += chunk.missing
        return BundleSet(items=tuple(found), pending=tuple(pending), missing=tuple(missing))

    def wait_for_bundles(
        self, document_ids: Sequence[str], timeout: float = 120.0, *, poll_interval: float = 0.25
    ) -> builtins.list[dict[str, Any]]:
        """Wait until every document is anchored and return their proof bundles, in the order of ``document_ids``.

        It asks for the bundles of the documents still pending (:meth:`bundles`), in a few requests however many
        they are, every ``poll_interval`` seconds at most: a batch of documents anchored together comes back in
        one answer.

        Arguments:
            document_ids: receipt ids, e.g. those :meth:`notarise_many` returned.
            timeout: seconds to wait at most.
            poll_interval: the longest pause between two rounds of asking; the first pauses are shorter.

        Raises:
            AnchorTimeoutError: some documents were still pending after ``timeout`` seconds.
            NotFoundError: the administration has no document with one of the ids.

        Example::

            receipts = segell.documents.notarise_many(paths)
            bundles = segell.documents.wait_for_bundles([receipt.id for receipt in receipts])
        """
        deadline = time.monotonic() + timeout
        interval = min(0.05, poll_interval)
        found: dict[str, dict[str, Any]] = {}
        waiting = list(dict.fromkeys(document_ids))
        while True:
            answer = self.bundles(ids=waiting)
            if answer.missing:
                raise NotFoundError(
                    404,
                    "not_found",
                    f"No document {answer.missing[0]} for this administration"
                    + (f" (nor {len(answer.missing) - 1} more)." if len(answer.missing) > 1 else "."),
                    {"missing": list(answer.missing)},
                )
            found.update((str(bundle["receipt"]["id"]), bundle) for bundle in answer.items)
            waiting = list(answer.pending)
            if not waiting:
                return [found[document_id] for document_id in document_ids]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AnchorTimeoutError(
                    f"{len(waiting)} of {len(found) + len(waiting)} documents are still pending after {timeout:g} "
                    f"seconds (the first: {waiting[0]}). Anchoring runs in batches: wait longer, or check that the "
                    "server's anchoring worker is running.",
                    document_id=waiting[0],
                    status="pending",
                )
            time.sleep(min(interval, remaining))
            interval = min(interval * 2, poll_interval)

    @contextmanager
    def export_bundles(
        self, *, kind: str | None = None, since: Moment | None = None, until: Moment | None = None
    ) -> Iterator[BundleExport]:
        """Stream the proof bundles of the administration's anchored documents, newest first, as they arrive.

        A context manager: iterate over what it gives for each bundle (parsed JSON); its ``pending`` says how many
        documents the filters take that are not anchored yet, and so not exported. The filters are those of
        :meth:`list`.

        Example::

            with segell.documents.export_bundles(since="2026-03-01") as export:
                for bundle in export:
                    save(bundle)
            print(f"{export.pending} still pending")
        """
        params = _filters(kind=kind, since=since, until=until)
        with self._transport.stream("GET", "/v1/documents/bundles", params=params) as response:
            yield BundleExport(response)

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
        return self._transport.download(f"/v1/verify/{segment(code)}/document", DocumentCopy._from_response)


class BundleExport:
    """Proof bundles as :meth:`Documents.export_bundles` streams them: iterate over it for each bundle (parsed JSON).

    Attributes:
        pending: how many documents the export's filters take that are not anchored yet, and so not in it.
    """

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.pending = int(response.headers.get("X-Segell-Pending", "0"))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for line in self._response.iter_lines():
            if line.strip():
                yield json_object(_json.loads(line))


def _moment(value: Moment) -> str:
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _filters(*, kind: str | None, since: Moment | None, until: Moment | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if kind is not None:
        params["kind"] = kind
    if since is not None:
        params["since"] = _moment(since)
    if until is not None:
        params["until"] = _moment(until)
    return params


def _hash_text(value: str) -> str:
    parsed = _proof.parse_hash(value)
    if parsed is None:
        raise ValueError(f"hashes must be SHA-256 digests in hex (64 digits), got {value!r}")
    return parsed.hex()


def _hash_of(item: str | os.PathLike[str]) -> str:
    if isinstance(item, str) and (parsed := _proof.parse_hash(item)) is not None:
        return parsed.hex()
    return _proof.hash_file(item).hex()
