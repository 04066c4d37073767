"""The HTTP client for the Segell API."""

from __future__ import annotations

from types import TracebackType

import httpx

from ._transport import Transport
from .administrations import Administrations, GovernanceKeys
from .certificates import Certificates
from .citizen_auth import CitizenAuth, Citizens
from .contracts import Contracts
from .documents import Documents
from .interop import CitizenAccess, Interop
from .models import DeploymentInfo, Health, Identity
from .participation import Participation
from .sandboxes import Sandboxes
from .signatures import Signatures
from .transparency import Transparency

__all__ = ["DEFAULT_BASE_URL", "Client"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Client:
    """A synchronous client for one Segell server, its methods grouped by domain.

    Arguments:
        base_url: where the server runs; ``segell up`` listens on ``http://127.0.0.1:8000`` by default.
        api_key: the ``sgl_<id>_<secret>`` key sent as a bearer token. The public methods (``health()``,
            ``documents.verify()``, ``certificates.status()``, ...) work without one.
        timeout: seconds to wait for the server on each request.
        transport: the ``httpx`` transport to send requests through, e.g.
            ``httpx.HTTPTransport(retries=3)`` or one configured for a proxy or client certificates.

    The groups share the client's connection:

    ==========================  ==============================================================================
    ``client.documents``        notarise, notarise_many, get, list, iterate, bundle, bundles, wait_for_bundles,
                                export_bundles, wait_until_anchored, revoke, verify, bundle_by_code
                                (:class:`sdk.Documents`)
    ``client.certificates``     issue, list, get, revoke, status, log, log_bundle, authority
                                (:class:`sdk.Certificates`)
    ``client.signatures``       sign, validate (:class:`sdk.Signatures`)
    ``client.sandboxes``        create, list, get, delete, extend, snapshot, list_snapshots, revert, reset,
                                export_accounts, rpc, web3 (:class:`sdk.Sandboxes`)
    ``client.contracts``        deploy, list, get, call, send, events (:class:`sdk.Contracts`)
    ``client.auth``             request_otp, verify_otp, verify_totp, otp_outbox, json_web_keys
                                (:class:`sdk.CitizenAuth`)
    ``client.citizens``         me, enrol_totp, confirm_totp, with a citizen's token (:class:`sdk.Citizens`)
    ``client.interop``          services, register_service, upload_records, request_authorisation,
                                authorisations, decide_authorisation, request, exchange, evidence,
                                bind_citizen; once-only: mark_reusable, request_document, document_request,
                                fetch_document, document_evidence (:class:`sdk.Interop`)
    ``client.access``           log, export, anchor: who accessed a citizen's data; document_requests,
                                preview_document, decide_document_request: the requests for their
                                documents; with their token (:class:`sdk.CitizenAccess`)
    ``client.administrations``  admit, list, get, suspend, reinstate, issue_api_key, list_api_keys,
                                revoke_api_key (:class:`sdk.Administrations`)
    ``client.governance_keys``  list, rotate, revoke (:class:`sdk.GovernanceKeys`)
    ``client.transparency``     submit, list, get, accesses, received, received_file (:class:`sdk.Transparency`)
    ``client.participation``    process, inclusion, check_ballot, verify_tally (:class:`sdk.Participation`)
    ==========================  ==============================================================================

    An unparseable ``base_url`` raises :class:`ValueError`. Every method raises a subclass of
    :class:`sdk.SegellError` on failure: :class:`sdk.TransportError` when the server cannot be
    reached and an :class:`sdk.APIError` subclass when it answers with an error.

    Usage::

        from segell.sdk import Client

        with Client("http://127.0.0.1:8000", api_key=governance_key) as segell:
            admitted = segell.administrations.admit("L01080193", "Ajuntament de Barcelona")
            print(admitted.api_key.key)  # shown only once: hand it to the administration
            for administration in segell.administrations.list():
                print(administration.code, administration.status)
    """

    documents: Documents
    """Notarising, revoking and verifying documents; their proof bundles."""
    certificates: Certificates
    """Certificates of Segell's certificate authority, their status and their log."""
    signatures: Signatures
    """Signing documents with the administration's certificates; validating signatures."""
    sandboxes: Sandboxes
    """The administration's own chains, with the Segell contracts."""
    contracts: Contracts
    """Solidity compiled, deployed and called in a sandbox."""
    auth: CitizenAuth
    """Logging citizens in: one-time codes by SMS, authenticator apps."""
    citizens: Citizens
    """What a logged-in citizen does, with their token."""
    interop: Interop
    """Data exchanged between administrations with a legal purpose: catalogue, authorisations, exchanges, and
    citizens' documents obtained once-only."""
    access: CitizenAccess
    """Who accessed a logged-in citizen's data, and why: the access log, its export, the anchor of an access; and
    the requests for their documents, to preview and consent to or refuse."""
    administrations: Administrations
    """The consortium's administrations and their API keys (governance)."""
    governance_keys: GovernanceKeys
    """The governance API keys (governance)."""
    transparency: Transparency
    """Mandatory publications (Llei 19/2014) submitted once, and their recipients' reads."""
    participation: Participation
    """Participation processes: a voter's ballot check and the recount of a tally from published data and the chain."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._transport = Transport(base_url, api_key, timeout=timeout, transport=transport)
        self.documents = Documents(self._transport)
        self.certificates = Certificates(self._transport)
        self.signatures = Signatures(self._transport)
        self.sandboxes = Sandboxes(self._transport)
        self.contracts = Contracts(self._transport)
        self.auth = CitizenAuth(self._transport)
        self.citizens = Citizens(self._transport)
        self.interop = Interop(self._transport)
        self.access = CitizenAccess(self._transport)
        self.administrations = Administrations(self._transport)
        self.governance_keys = GovernanceKeys(self._transport)
        self.transparency = Transparency(self._transport)
        self.participation = Participation(self._transport)

    @property
    def base_url(self) -> str:
        """The server's base URL, without a trailing slash."""
        return self._transport.base_url

    def close(self) -> None:
        """Close the connections to the server. The client cannot be used afterwards."""
        self._transport.close()

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
        return self._transport.call("GET", "/health", Health._from_json, report_statuses=frozenset({503}))

    def deployment(self) -> DeploymentInfo:
        """Read what the deployment publishes at ``/.well-known/segell.json``: its chain and contracts. No API key.

        Pin it to verify its proof bundles (what ``segell trust add URL`` does)::

            TrustStore(default_trust_store_path()).pin(client.deployment().pinned(client.base_url))
        """
        return self._transport.call("GET", "/.well-known/segell.json", DeploymentInfo._from_json)

    def me(self) -> Identity:
        """Report who the API key belongs to: its role and, for an administration, which one."""
        return self._transport.call("GET", "/v1/me", Identity._from_json)
