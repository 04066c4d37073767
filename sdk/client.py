"""The HTTP client for the Segell API."""

from __future__ import annotations

import json as _json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote

import httpx

from . import _proof
from ._version import __version__
from .certificates import (
    Certificate,
    CertificateAuthorityInfo,
    CertificateLogEntry,
    CertificateProfile,
    CertificateState,
    CertificateStatus,
    IssuedCertificate,
    RevocationReason,
)
from .citizen_auth import Citizen, CitizenToken, OtpChallenge, SmsMessage, TotpEnrolment, _confirmed_at
from .contracts import (
    ContractCall,
    ContractDetails,
    ContractEvent,
    ContractTransaction,
    DeployedContract,
    SandboxContract,
)
from .errors import AnchorTimeoutError, APIError, RPCError, TransportError, UnexpectedResponseError, _error_class_for
from .models import (
    Administration,
    AdmittedAdministration,
    ApiKeyInfo,
    DeploymentInfo,
    Health,
    Identity,
    IssuedApiKey,
    Receipt,
    Verification,
)
from .sandboxes import ExportedAccount, Sandbox, SandboxBackend, SandboxSnapshot
from .signatures import SignatureValidation, SignedDocument

if TYPE_CHECKING:
    from web3 import Web3

__all__ = ["BATCH_LIMIT", "DEFAULT_BASE_URL", "Client"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
BATCH_LIMIT = 10_000
"""The most hashes ``POST /v1/documents/batch`` takes at once; :meth:`Client.notarise_many` sends chunks of it."""
BATCHES_IN_FLIGHT = 2
"""Chunks :meth:`Client.notarise_many` sends at once."""

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

        from segell.sdk import Client

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
                print("head block:", health.chain.head_block, "database ok:", health.database.ok)
        """
        # The server answers 503 with the same body when degraded: that is a report, not a failure.
        return self._call("GET", "/health", Health._from_json, report_statuses=frozenset({503}))

    def deployment(self) -> DeploymentInfo:
        """Read what the deployment publishes at ``/.well-known/segell.json``: its chain and contracts. No API key.

        Pin it to verify its proof bundles (what ``segell trust add URL`` does)::

            TrustStore(default_trust_store_path()).pin(client.deployment().pinned(client.base_url))
        """
        return self._call("GET", "/.well-known/segell.json", DeploymentInfo._from_json)

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

    # -- governance keys (governance) -------------------------------------------------------------

    def list_governance_keys(self) -> list[ApiKeyInfo]:
        """List the governance API keys, revoked ones included, without secrets. Governance only."""
        return self._call("GET", "/v1/governance/api-keys", _items(ApiKeyInfo._from_json))

    def rotate_governance_key(self, key_id: str) -> IssuedApiKey:
        """Replace a governance key: a new one is issued and ``key_id`` stops working at once. Governance only.

        The returned ``key`` is shown only once. To rotate the key this client uses::

            issued = client.rotate_governance_key(client.me().key_id)
            Path(".segell/governance.key").write_text(issued.key + "\n")

        Raises:
            NotFoundError: no governance key has this id.
            ConflictError: with ``code == "api_key_revoked"``, the key is already revoked.
        """
        path = f"/v1/governance/api-keys/{_segment(key_id)}/rotate"
        return self._call("POST", path, IssuedApiKey._from_json)

    def revoke_governance_key(self, key_id: str) -> ApiKeyInfo:
        """Revoke a governance key; it stops working at once. Governance only.

        Raises:
            NotFoundError: no governance key has this id.
            ConflictError: with ``code == "last_governance_key"``, it is the last active one (rotate it instead).
        """
        return self._call("DELETE", f"/v1/governance/api-keys/{_segment(key_id)}", ApiKeyInfo._from_json)

    # -- notary (an administration's key) --------------------------------------------------------

    def notarise(
        self,
        source: str | os.PathLike[str] | bytes,
        *,
        kind: str | None = None,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        salted: bool = False,
        public: bool = False,
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
            if public:
                body["public"] = True
            for name, value in (("kind", kind), ("title", title), ("metadata", metadata)):
                if value is not None:
                    body[name] = value
            return self._call("POST", "/v1/documents", Receipt._from_json, json=body, headers=headers)

        params: dict[str, str] = {"salted": "true" if salted else "false"}
        if public:
            params["public"] = "true"
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

            receipts = segell.notarise_many(sorted(Path("certificats").glob("*.pdf")), kind="certificate")
        """
        hashes = [_hash_of(item) for item in hashes_or_paths]

        def send(start: int) -> list[Receipt]:
            body: dict[str, Any] = {"hashes": hashes[start : start + BATCH_LIMIT], "salted": salted}
            if public:
                body["public"] = True
            if kind is not None:
                body["kind"] = kind
            return self._call("POST", "/v1/documents/batch", _items(Receipt._from_json), json=body)

        starts = range(0, len(hashes), BATCH_LIMIT)
        if len(starts) <= 1:
            return [receipt for start in starts for receipt in send(start)]
        with ThreadPoolExecutor(BATCHES_IN_FLIGHT) as pool:
            return [receipt for chunk in pool.map(send, starts) for receipt in chunk]

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

    # -- sandbox contracts (an administration's key) ----------------------------------------------

    def deploy_contract(
        self,
        sandbox_id: str,
        sources: Mapping[str, str] | str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        *,
        contract: str | None = None,
        args: list[Any] | Mapping[str, Any] | None = None,
        value: int | None = None,
    ) -> DeployedContract:
        """Compile Solidity with the server's pinned solc and deploy one contract in a sandbox, from its owner.

        Arguments:
            sandbox_id: the sandbox, e.g. ``"sbx_0123456789abcdef"``.
            sources: ``{"path.sol": text}``, or the path of a ``.sol`` file, or several paths (sent by their
                names relative to their common folder, so that relative imports between them work).
                ``@openzeppelin/contracts/...`` imports are served by the server.
            contract: which contract to deploy, ``Name`` or ``path.sol:Name``; needed only when several can be.
            args: the constructor's arguments, in order or by name (see :meth:`call_contract`).
            value: wei sent to a payable constructor.

        Compiling takes a few seconds the first time (the server then caches it by the sources' hash): give the
        client a ``timeout`` of a minute or more.

        Raises:
            ValidationError: ``code == "compilation_failed"`` with every compiler error (file, line, column,
                message) in ``details``; ``"invalid_arguments"`` for constructor arguments of the wrong type.
            ConflictError: the constructor reverted, or the sandbox was deleted or has expired.
            NotFoundError: no such sandbox for this administration.

        Example::

            permits = segell.deploy_contract(sandbox.id, Path("Permits.sol"), args=[owner])
            print(permits.address, permits.deployment.gas_used)
        """
        body: dict[str, Any] = {"sources": _solidity_sources(sources)}
        if contract is not None:
            body["contract"] = contract
        if args is not None:
            body["constructor_args"] = list(args) if not isinstance(args, Mapping) else dict(args)
        if value is not None:
            body["value"] = str(value)
        path = f"/v1/sandboxes/{_segment(sandbox_id)}/contracts"
        return self._call("POST", path, DeployedContract._from_json, json=body)

    def list_contracts(self, sandbox_id: str) -> list[SandboxContract]:
        """The sandbox's Segell contracts (registry, notary) and those deployed in it through the API."""
        path = f"/v1/sandboxes/{_segment(sandbox_id)}/contracts"
        return self._call("GET", path, _items(SandboxContract._from_json))

    def get_contract(self, sandbox_id: str, address: str) -> ContractDetails:
        """One contract of a sandbox with its ABI, function signatures and sources."""
        path = f"/v1/sandboxes/{_segment(sandbox_id)}/contracts/{_segment(address)}"
        return self._call("GET", path, ContractDetails._from_json)

    def call_contract(
        self,
        sandbox_id: str,
        address: str,
        function: str,
        args: list[Any] | Mapping[str, Any] | None = None,
        *,
        sender: str | None = None,
        value: int | None = None,
    ) -> ContractCall:
        """Run a contract function with ``eth_call``: nothing is sent and nothing changes.

        Arguments:
            function: its name, or its signature (``"issue(uint256,address)"``) to choose among overloads.
            args: in order (a list) or by parameter name (a dict). Integers as ``int`` or decimal strings;
                addresses, ``bytes`` and ``bytesN`` as ``0x``-hex; lists for arrays; dicts or lists for structs.
            sender: the ``msg.sender`` the contract sees; the sandbox owner's account by default.

        Outputs come back as the API's JSON: integers as decimal strings, structs as dicts::

            segell.call_contract(sandbox.id, permits.address, "permit", [7]).result
            # {'holder': '0x...', 'kind': '0x...', 'expires': '1900000000', 'revoked': False}

        Raises:
            ValidationError: ``code`` ``unknown_function``, ``ambiguous_function`` or ``invalid_arguments``,
                with a message naming what to send.
            ConflictError: ``code == "execution_reverted"`` with the decoded reason or custom error in
                ``details``.
        """
        body: dict[str, Any] = {"function": function, "args": _contract_args(args)}
        if sender is not None:
            body["from"] = sender
        if value is not None:
            body["value"] = str(value)
        path = f"/v1/sandboxes/{_segment(sandbox_id)}/contracts/{_segment(address)}/call"
        return self._call("POST", path, ContractCall._from_json, json=body)

    def send_contract_transaction(
        self,
        sandbox_id: str,
        address: str,
        function: str,
        args: list[Any] | Mapping[str, Any] | None = None,
        *,
        value: int | None = None,
    ) -> ContractTransaction:
        """Send a transaction calling a contract function from the sandbox owner's account and wait until mined.

        Arguments are as for :meth:`call_contract`. The result has the transaction hash, block, status, gas
        used and the decoded events::

            sent = segell.send_contract_transaction(sandbox.id, permits.address, "issue", [7, holder])
            print(sent.events[0].event, sent.events[0].args)

        Raises:
            ConflictError: ``code == "execution_reverted"``: the contract refused, reason in ``details``.
        """
        body: dict[str, Any] = {"function": function, "args": _contract_args(args)}
        if value is not None:
            body["value"] = str(value)
        path = f"/v1/sandboxes/{_segment(sandbox_id)}/contracts/{_segment(address)}/transact"
        return self._call("POST", path, ContractTransaction._from_json, json=body)

    def contract_events(
        self,
        sandbox_id: str,
        address: str,
        name: str | None = None,
        *,
        from_block: int = 0,
        to_block: int | None = None,
    ) -> list[ContractEvent]:
        """A contract's decoded events between two blocks (inclusive; up to the head by default), one kind or all."""
        params: dict[str, str] = {"from_block": str(from_block)}
        if name is not None:
            params["name"] = name
        if to_block is not None:
            params["to_block"] = str(to_block)
        path = f"/v1/sandboxes/{_segment(sandbox_id)}/contracts/{_segment(address)}/events"
        return self._call("GET", path, _items(ContractEvent._from_json), params=params)

    # -- certificates (an administration's key; status, log and CAs are public) ---------------------

    def issue_certificate(
        self,
        profile: CertificateProfile,
        *,
        name: str | None = None,
        national_id: str | None = None,
        email: str | None = None,
        position: str | None = None,
        csr: str | bytes | None = None,
        passphrase: str | None = None,
        validity_days: int | None = None,
        citizen_token: str | None = None,
    ) -> IssuedCertificate:
        """Obtain a certificate from Segell's certificate authority for the administration.

        The administration acts as the certificate's registration authority: the certificate names it.

        Arguments:
            profile: ``"employee"`` (a public employee: ``name`` and ``national_id`` required), ``"seal"`` (the
                administration's own seal) or ``"citizen"`` (``name``, ``national_id`` and ``citizen_token``
                required).
            national_id: stored by the server only as a salted hash; it does not appear in the certificate.
            citizen_token: citizen certificates only: the token the citizen got by logging in with this
                administration (:meth:`verify_otp`, :meth:`verify_totp`). The certificate names that citizen's
                pseudonym; the first one binds the citizen to ``national_id``, later ones must agree.
            email: put in the certificate's subjectAltName.
            position: an employee's position, put in the subject's title.
            csr: a PEM certificate signing request, to certify a key you hold. Without it the server generates
                the key and returns it once as ``pkcs12``, protected by ``passphrase`` (or by a generated one,
                returned once in ``passphrase``).
            validity_days: 1 to 1825; two years by default.

        The certificate is logged with the notary before it is returned (``log_verification_code``).

        Raises:
            ValidationError: a missing or invalid field; ``message`` names it.
            AuthenticationError: a citizen certificate without ``citizen_token``, or with a token that does not
                verify or expired (``code`` ``citizen_token_required``, ``invalid_token``, ``token_expired``).
            PermissionDeniedError: a token from a login with another administration
                (``citizen_of_another_administration``), or of another citizen than the one bound to
                ``national_id`` (``citizen_mismatch``).

        Example::

            token = segell.verify_otp("+34600123456", code).access_token  # the citizen logs in
            issued = segell.issue_certificate(
                "citizen", name="Pere Soler", national_id="47111222K", citizen_token=token
            )
            issued = segell.issue_certificate("seal")
            Path("seal.p12").write_bytes(issued.pkcs12)
            print(issued.serial, issued.passphrase)
        """
        body: dict[str, Any] = {"profile": profile}
        optional = {"name": name, "national_id": national_id, "email": email, "position": position}
        body.update({key: value for key, value in optional.items() if value is not None})
        if csr is not None:
            body["csr"] = csr.decode() if isinstance(csr, bytes) else csr
        if passphrase is not None:
            body["passphrase"] = passphrase
        if validity_days is not None:
            body["validity_days"] = validity_days
        if citizen_token is not None:
            body["citizen_token"] = citizen_token
        return self._call("POST", "/v1/certificates", IssuedCertificate._from_json, json=body)

    def list_certificates(
        self,
        *,
        profile: CertificateProfile | None = None,
        status: CertificateState | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Certificate]:
        """The administration's certificates, newest first, optionally of one profile or status."""
        params = {"limit": str(limit), "offset": str(offset)}
        if profile is not None:
            params["profile"] = profile
        if status is not None:
            params["status"] = status
        return self._call("GET", "/v1/certificates", _items(Certificate._from_json), params=params)

    def get_certificate(self, serial: str) -> Certificate:
        """One of the administration's certificates by serial (40 hex digits), with its PEM.

        Raises:
            NotFoundError: no such certificate for this administration.
        """
        return self._call("GET", f"/v1/certificates/{_segment(serial)}", Certificate._from_json)

    def revoke_certificate(self, serial: str, reason: RevocationReason = "unspecified") -> Certificate:
        """Revoke a certificate with an RFC 5280 reason; the CRL is issued again at once and the revocation logged.

        Raises:
            ConflictError: ``code == "already_revoked"``.
            NotFoundError: no such certificate for this administration.
        """
        path = f"/v1/certificates/{_segment(serial)}/revoke"
        return self._call("POST", path, Certificate._from_json, json={"reason": reason})

    def certificate_status(self, serial: str | int) -> CertificateStatus:
        """Is a certificate valid, revoked or expired? Needs no API key. ``serial`` as an int or in hex."""
        text = f"{serial:x}" if isinstance(serial, int) else serial
        return self._call("GET", f"/v1/certificates/status/{_segment(text)}", CertificateStatus._from_json)

    def certificate_log(self, certificate: str | int | bytes) -> CertificateLogEntry:
        """A certificate's entries in the public certificate log. Needs no API key.

        Arguments:
            certificate: its serial (an int, or hex), or the certificate itself as PEM or DER ``bytes``: then
                the server looks it up byte for byte, so a certificate it never issued is not found.

        Raises:
            NotFoundError: the certificate was not issued (and logged) by this certificate authority.
        """
        if isinstance(certificate, bytes):
            headers = {"Content-Type": "application/octet-stream"}
            return self._call(
                "POST", "/v1/certificates/log", CertificateLogEntry._from_json, content=certificate, headers=headers
            )
        text = f"{certificate:x}" if isinstance(certificate, int) else certificate
        return self._call("GET", f"/v1/certificates/log/{_segment(text)}", CertificateLogEntry._from_json)

    def certificate_log_bundle(self, serial: str, *, revocation: bool = False) -> dict[str, Any]:
        """The proof bundle of a certificate's log entry (or of its revocation's), for :func:`sdk.verify_bundle`.

        Raises:
            ConflictError: ``code == "not_anchored"`` for a few seconds after the entry was made.
        """
        suffix = "/revocation/bundle" if revocation else "/bundle"
        return self._call("GET", f"/v1/certificates/log/{_segment(serial)}{suffix}", _json_object)

    def certificate_authority(self) -> CertificateAuthorityInfo:
        """The root and issuing CA certificates (PEM) and the URLs of their CRLs. Needs no API key."""
        return self._call("GET", "/v1/ca", CertificateAuthorityInfo._from_json)

    # -- sandboxes (an administration's key) ------------------------------------------------------

    def create_sandbox(
        self,
        name: str,
        *,
        ttl_seconds: int | None = None,
        backend: SandboxBackend | None = None,
        node_admin: bool = False,
    ) -> Sandbox:
        """Create a sandbox: a chain of its own with the Segell contracts deployed and your administration admitted.

        Arguments:
            name: what it is for, e.g. ``"permits-poc"``.
            ttl_seconds: seconds until it is removed (the server's default, one hour, when None).
            backend: ``"anvil"`` (the default where the server has it) or ``"embedded"``.
            node_admin: let its JSON-RPC endpoint pass ``anvil_*``/``evm_*``/``hardhat_*`` methods.

        Raises:
            ConflictError: ``code == "sandbox_quota_exhausted"`` when the administration runs as many as it may,
                ``"sandbox_lifetime_exceeded"`` for a ``ttl_seconds`` past the server's maximum lifetime, or
                ``"backend_unavailable"`` when anvil is asked for and not installed.

        Example::

            sandbox = segell.create_sandbox("permits-poc", ttl_seconds=3600)
            w3 = segell.sandbox_web3(sandbox.id)
            print(sandbox.contracts.notary, w3.eth.block_number)
        """
        body: dict[str, Any] = {"name": name, "node_admin": node_admin}
        if ttl_seconds is not None:
            body["ttl_seconds"] = ttl_seconds
        if backend is not None:
            body["backend"] = backend
        return self._call("POST", "/v1/sandboxes", Sandbox._from_json, json=body)

    def list_sandboxes(self, *, include_ended: bool = False) -> list[Sandbox]:
        """Your administration's running sandboxes (and deleted and expired ones with ``include_ended``)."""
        params = {"include_ended": "true"} if include_ended else None
        return self._call("GET", "/v1/sandboxes", _items(Sandbox._from_json), params=params)

    def get_sandbox(self, sandbox_id: str) -> Sandbox:
        """One sandbox with its head block, transaction count, uptime, expiry and snapshots."""
        return self._call("GET", f"/v1/sandboxes/{_segment(sandbox_id)}", Sandbox._from_json)

    def delete_sandbox(self, sandbox_id: str) -> Sandbox:
        """Delete a sandbox: its node stops and its chain and snapshots are erased."""
        return self._call("DELETE", f"/v1/sandboxes/{_segment(sandbox_id)}", Sandbox._from_json)

    def extend_sandbox(self, sandbox_id: str, seconds: int) -> Sandbox:
        """Add ``seconds`` to a sandbox's time to live (``ConflictError`` beyond the server's maximum lifetime)."""
        path = f"/v1/sandboxes/{_segment(sandbox_id)}/extend"
        return self._call("POST", path, Sandbox._from_json, json={"seconds": seconds})

    def snapshot_sandbox(self, sandbox_id: str, name: str | None = None) -> SandboxSnapshot:
        """Save the sandbox's chain as it is now; :meth:`revert_sandbox` brings it back, as often as needed."""
        body = {"name": name} if name is not None else {}
        path = f"/v1/sandboxes/{_segment(sandbox_id)}/snapshots"
        return self._call("POST", path, SandboxSnapshot._from_json, json=body)

    def list_sandbox_snapshots(self, sandbox_id: str) -> list[SandboxSnapshot]:
        """The snapshots of a sandbox, oldest first."""
        path = f"/v1/sandboxes/{_segment(sandbox_id)}/snapshots"
        return self._call("GET", path, _items(SandboxSnapshot._from_json))

    def revert_sandbox(self, sandbox_id: str, snapshot_id: str) -> Sandbox:
        """Bring the sandbox's chain back to a snapshot; the blocks made since are gone."""
        path = f"/v1/sandboxes/{_segment(sandbox_id)}/snapshots/{_segment(snapshot_id)}/revert"
        return self._call("POST", path, Sandbox._from_json)

    def reset_sandbox(self, sandbox_id: str) -> Sandbox:
        """Bring the sandbox's chain back to how it was created: contracts deployed, nothing else."""
        return self._call("POST", f"/v1/sandboxes/{_segment(sandbox_id)}/reset", Sandbox._from_json)

    def export_sandbox_accounts(self, sandbox_id: str) -> list[ExportedAccount]:
        """The sandbox's funded accounts with their private keys, for your own tools (``Account.from_key``)."""
        path = f"/v1/sandboxes/{_segment(sandbox_id)}/accounts/export"
        return self._call("POST", path, lambda data: [ExportedAccount._from_json(item) for item in data["accounts"]])

    def sandbox_rpc(self, sandbox_id: str, method: str, params: list[Any] | None = None) -> Any:
        """Send one JSON-RPC request to a sandbox's chain and return its ``result``.

        Raises:
            RPCError: the node answered with an error, or refused the method (``code == -32601``).
        """
        url = f"{self.base_url}/v1/sandboxes/{_segment(sandbox_id)}/rpc"
        request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}
        answer = self._call("POST", f"/v1/sandboxes/{_segment(sandbox_id)}/rpc", _json_object, json=request)
        error = answer.get("error")
        if isinstance(error, dict):
            raise RPCError(
                str(error.get("message", error)), code=int(error.get("code", 0)), url=url, data=error.get("data")
            )
        return answer.get("result")

    def sandbox_web3(self, sandbox_id: str) -> Web3:
        """A ``web3.Web3`` on the sandbox's chain, through the API with this client's key.

        Needs the ``web3`` extra (``pip install 'segell-sdk[web3]'``); raises ``ImportError`` without it.

        Example::

            w3 = segell.sandbox_web3(sandbox.id)
            account = Account.from_key(segell.export_sandbox_accounts(sandbox.id)[0].private_key)
            w3.eth.get_balance(account.address)
        """
        try:  # web3 is an optional extra: the rest of the SDK does not need it
            from web3 import HTTPProvider, Web3
        except ImportError as error:
            raise ImportError(
                "Client.sandbox_web3 needs web3.py: install it with `pip install 'segell-sdk[web3]'`"
            ) from error

        headers = {name: value for name, value in self._http.headers.items() if name.lower() == "authorization"}
        url = f"{self.base_url}/v1/sandboxes/{_segment(sandbox_id)}/rpc"
        return Web3(HTTPProvider(url, request_kwargs={"headers": headers, "timeout": self._timeout}))

    # -- citizen authentication (an administration's key; citizen calls take the citizen's token) ---

    def request_otp(self, phone: str, *, client_address: str | None = None) -> OtpChallenge:
        """Send a one-time code to a citizen's mobile number. An administration's key.

        Arguments:
            phone: the number in international E.164 form, e.g. ``"+34600123456"``.
            client_address: the citizen's IP address as your app sees it, for the per-address rate limits.

        A code sent before to the same number stops working. In the sandbox the message goes to the outbox
        (:meth:`otp_outbox`).

        Raises:
            ValidationError: the number is not in E.164 form.
            APIError: HTTP 429 (``rate_limited`` or ``locked_out``) when too many codes were asked for;
                ``details["retry_after"]`` says how many seconds to wait.

        Example::

            segell.request_otp("+34600123456")
            token = segell.verify_otp("+34600123456", input("Code: "))
        """
        return self._call("POST", "/v1/auth/otp", OtpChallenge._from_json, json=_login(phone, None, client_address))

    def verify_otp(self, phone: str, code: str, *, client_address: str | None = None) -> CitizenToken:
        """Check the code a citizen typed and return their token. An administration's key.

        Raises:
            BadRequestError: the code is wrong (``details["attempts_left"]``).
            NotFoundError: no code is pending for the number (expired, used, replaced, never sent).
            APIError: HTTP 429 when too many codes were tried; ``details["retry_after"]`` says how long to wait.
        """
        body = _login(phone, code, client_address)
        return self._call("POST", "/v1/auth/otp/verify", CitizenToken._from_json, json=body)

    def verify_totp(self, phone: str, code: str, *, client_address: str | None = None) -> CitizenToken:
        """Log a citizen in with their number and a code of their authenticator app. An administration's key.

        Raises:
            BadRequestError: the code is wrong, or was already used.
            NotFoundError: no authenticator is enrolled for the number.
            APIError: HTTP 429 when too many codes were tried.
        """
        body = _login(phone, code, client_address)
        return self._call("POST", "/v1/auth/totp/verify", CitizenToken._from_json, json=body)

    def otp_outbox(
        self, *, administration: str | None = None, phone: str | None = None, limit: int = 100
    ) -> list[SmsMessage]:
        """The sandbox SMS gateway's messages, newest first: governance reads all, an administration its own.

        Arguments:
            administration: governance only, one administration's messages.
            phone: only the messages to this number.
            limit: at most this many (1 to 1000).
        """
        params = {"limit": str(limit)}
        if administration is not None:
            params["administration"] = administration
        if phone is not None:
            params["phone"] = phone
        return self._call("GET", "/v1/auth/otp/outbox", _items(SmsMessage._from_json), params=params)

    def citizen(self, token: str) -> Citizen:
        """Who a citizen token belongs to (sent with ``token``, not the client's API key)."""
        return self._call("GET", "/v1/citizens/me", Citizen._from_json, headers=_bearer(token))

    def enrol_totp(self, token: str) -> TotpEnrolment:
        """Start enrolling an authenticator app for the citizen whose token this is.

        Replacing an active authenticator needs a token from a TOTP login (:class:`ConflictError` otherwise).

        Example::

            enrolment = segell.enrol_totp(token.access_token)
            show_qr(enrolment.otpauth_uri)
            segell.confirm_totp(token.access_token, input("First code: "))
        """
        return self._call("POST", "/v1/citizens/me/totp", TotpEnrolment._from_json, headers=_bearer(token))

    def confirm_totp(self, token: str, code: str) -> datetime:
        """Confirm the pending enrolment with the first code the app shows; returns when it became active."""
        return self._call(
            "POST",
            "/v1/citizens/me/totp/confirm",
            _confirmed_at,
            json={"code": code},
            headers=_bearer(token),
        )

    def json_web_keys(self) -> list[dict[str, Any]]:
        """The public keys that sign citizen tokens (``/.well-known/jwks.json``); needs no key."""
        return self._call("GET", "/.well-known/jwks.json", lambda data: [_json_object(key) for key in data["keys"]])

    # -- signatures (an administration's key; validation is public) -------------------------------

    def sign(
        self,
        document: str | os.PathLike[str] | bytes,
        *,
        sign_as: Literal["employee", "seal"],
        certificate: str | None = None,
        format: Literal["auto", "pades", "cades"] = "auto",
        filename: str | None = None,
    ) -> SignedDocument:
        """Sign a document with one of the administration's certificates; the signed output is notarised.

        A PDF is signed as PAdES: it gets a visible stamp with the verification code, the verification page's
        URL and a QR code of it. Any other file gets a detached CAdES signature (``.p7s``).

        Arguments:
            document: the file's path, or its bytes.
            sign_as: ``"employee"`` or ``"seal"`` (the administration's own seal).
            certificate: the serial of the certificate to sign with; omitted: the seal, or the only employee
                certificate.
            format: ``"auto"`` (PAdES for PDFs), ``"pades"`` or ``"cades"``.
            filename: the name the server records (defaults to the path's name).

        Raises:
            NotFoundError: no such certificate for this administration.
            ConflictError: the certificate is revoked or expired, or there is none to sign with.
            ValidationError: ``sign_as`` does not match the certificate, or several employees could sign.

        Example::

            signed = segell.sign(Path("resolucio.pdf"), sign_as="seal")
            signed.save(Path("resolucio-signed.pdf"))
            print(signed.verification_code, signed.verification_url)
        """
        if isinstance(document, bytes | bytearray | memoryview):
            name, data = filename or "document", bytes(document)
        else:
            name, data = filename or Path(document).name, Path(document).read_bytes()
        form: dict[str, str] = {"as": sign_as, "format": format}
        if certificate is not None:
            form["certificate"] = certificate
        return self._call("POST", "/v1/signatures", SignedDocument._from_json, files={"file": (name, data)}, data=form)

    def validate_signature(
        self,
        document: str | os.PathLike[str] | bytes,
        signature: str | os.PathLike[str] | bytes | None = None,
    ) -> SignatureValidation:
        """Validate a signed PDF, or a file and its detached CMS signature. Needs no API key.

        The answer uses the ETSI EN 319 102-1 indications; a signature whose signed output was notarised
        carries the notary's proof of when it existed, which keeps it valid after its certificate is revoked
        or expires.

        Example::

            report = segell.validate_signature(Path("resolucio-signed.pdf"))
            for signature in report.signatures:
                print(signature.indication, signature.sub_indication, signature.message)
        """

        def read(source: str | os.PathLike[str] | bytes) -> bytes:
            if isinstance(source, bytes | bytearray | memoryview):
                return bytes(source)
            return Path(source).read_bytes()

        files = {"file": ("document", read(document))}
        if signature is not None:
            files["signature"] = ("signature.p7s", read(signature))
        return self._call("POST", "/v1/signatures/validate", SignatureValidation._from_json, files=files)

    # -- verification page (public) ---------------------------------------------------------------

    def bundle_by_code(self, code: str) -> dict[str, Any]:
        """Download the proof bundle of a document by the verification code printed on it, as parsed JSON.

        Needs no API key: whoever holds the code holds the document. It is the bundle the issuer gets from
        :meth:`bundle`; check it with :func:`sdk.verify_bundle`::

            bundle = Client("http://127.0.0.1:8000").bundle_by_code("7GQK-2M4B-XW9D-1RTC-K")

        Raises:
            ConflictError: with ``code == "not_anchored"`` while the document is pending.
            NotFoundError: no document has this code.
            ValidationError: not a verification code; ``code == "invalid_code"`` when one character is mistyped.
        """
        return self._call("GET", f"/v1/verify/{_segment(code)}/bundle", _json_object)

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
        files: Mapping[str, tuple[str, bytes]] | None = None,
        data: Mapping[str, str] | None = None,
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
                files=files,  # multipart/form-data, with `data` as its other fields
                data=data,
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


def _contract_args(args: list[Any] | Mapping[str, Any] | None) -> list[Any] | dict[str, Any]:
    if args is None:
        return []
    return dict(args) if isinstance(args, Mapping) else list(args)


def _solidity_sources(
    sources: Mapping[str, str] | str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> dict[str, str]:
    if isinstance(sources, Mapping):
        return {str(name): str(text) for name, text in sources.items()}
    paths = [Path(sources)] if isinstance(sources, str | os.PathLike) else [Path(item) for item in sources]
    if not paths:
        raise ValueError("give at least one Solidity file")
    resolved = [path.resolve() for path in paths]
    root = Path(os.path.commonpath([path.parent for path in resolved]))
    return {path.relative_to(root).as_posix(): path.read_text(encoding="utf-8") for path in resolved}


def _login(phone: str, code: str | None, client_address: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"phone": phone}
    if code is not None:
        body["code"] = code
    if client_address is not None:
        body["client_address"] = client_address
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


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
