"""Interoperability between administrations (``client.interop``: the catalogue, authorisations per procedure,
exchanges with a legal purpose and their evidence files, and once-only documents: a citizen's document one
administration keeps reusable, another obtains with the citizen's consent or under a legal basis), and a citizen's
side of it (``client.access``): who accessed their data, its export, the check that an access is in its day's
notarised log (:func:`verify_access_anchor`), offline or against the chain, and the requests for their documents,
to preview and consent to or refuse.

``client.interop`` takes the administration's API key. ``client.access`` takes the citizen's token (the
``access_token`` of a login with an administration, :meth:`sdk.CitizenAuth.verify_otp`) instead, once that
administration bound the login to the citizen's national id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx

from ._convert import Json, items, json_object, optional_datetime, optional_str, parse_datetime, strings
from ._transport import Transport, bearer, segment
from .models import DocumentCopy
from .trust import TrustedNotary
from .verification import BundleVerification, verify_bundle, verify_bundle_proof

__all__ = [
    "DataService",
    "Interop",
    "InteropAuthorisation",
    "InteropExchange",
    "Access",
    "AccessAnchor",
    "AccessAnchorCheck",
    "AccessExportFormat",
    "AccessLog",
    "AccessParty",
    "CitizenAccess",
    "CitizenBinding",
    "CitizenOnceOnlyRequest",
    "OnceOnlyDecision",
    "OnceOnlyDelivery",
    "OnceOnlyRequest",
    "OnceOnlyStatus",
    "ReusableDocument",
    "verify_access_anchor",
]

AccessExportFormat = Literal["csv", "json"]
OnceOnlyStatus = Literal["consent_pending", "refused", "authorised", "delivered"]
OnceOnlyDecision = Literal["consent", "refuse"]

#: The day document's format, as the administration notarised it.
ACCESS_LOG_DAY_FORMAT = "segell-interop-access-log-day/1"


@dataclass(frozen=True, slots=True)
class AccessParty:
    """An administration named in an access.

    Attributes:
        code: its code in the consortium (``L01170792``).
        name: its name.
    """

    code: str
    name: str

    @classmethod
    def _from_json(cls, data: Json) -> AccessParty:
        return cls(code=str(data["code"]), name=str(data["name"]))


@dataclass(frozen=True, slots=True)
class Access:
    """One access to the citizen's data: who asked, of whom, when, what and why.

    Attributes:
        id: the exchange (or once-only request) it was part of; :meth:`CitizenAccess.anchor` takes it.
        at: when.
        consumer: the administration that asked.
        provider: the administration whose data or document it obtained.
        data: the data service (``RESIDENCE``...) or the type of document obtained.
        officer: who, in the administration that asked, asked.
        procedure_code: the procedure it was for.
        case_id: the case of that procedure.
        legal_basis: the norm it was obtained under (ELI URI).
        consent_reference: where the citizen's consent is recorded, when one was given.
    """

    id: str
    at: datetime
    consumer: AccessParty
    provider: AccessParty
    data: str
    officer: str
    procedure_code: str
    case_id: str
    legal_basis: str
    consent_reference: str | None

    @classmethod
    def _from_json(cls, data: Json) -> Access:
        return cls(
            id=str(data["id"]),
            at=parse_datetime(data["at"]),
            consumer=AccessParty._from_json(data["consumer"]),
            provider=AccessParty._from_json(data["provider"]),
            data=str(data["data"]),
            officer=str(data["officer"]),
            procedure_code=str(data["procedure_code"]),
            case_id=str(data["case_id"]),
            legal_basis=str(data["legal_basis"]),
            consent_reference=optional_str(data.get("consent_reference")),
        )


@dataclass(frozen=True, slots=True)
class AccessLog:
    """Every access to the citizen's data that is no longer hidden, newest first.

    Attributes:
        administration: the administration the citizen logged in with.
        accesses: the accesses, newest first; those hidden until a date (an investigation) appear from then on.
    """

    administration: AccessParty
    accesses: tuple[Access, ...]

    @classmethod
    def _from_json(cls, data: Json) -> AccessLog:
        return cls(
            administration=AccessParty._from_json(data["administration"]),
            accesses=tuple(Access._from_json(item) for item in data["accesses"]),
        )


@dataclass(frozen=True, slots=True)
class AccessAnchor:
    """What checks that an access is in its day's notarised log, with no trust in Segell (see
    :func:`verify_access_anchor`).

    Attributes:
        access_id: the access it is for.
        entry: the access-log entry as it was hashed (``exchange_id``, ``subject_key``, ``consumer``,
            ``provider``, ``service``, ``officer``, ``procedure_code``, ``case_id``, ``legal_basis``,
            ``consent_reference``, ``at``, ``hidden_until``).
        entry_hash: SHA-256 (hex) of the entry's canonical JSON.
        entry_hashes: the hashes of all that administration's entries of the day, in order, as stored now.
        day: the day document the administration notarised: ``format``, ``consumer``, ``day``, ``entry_count``,
            ``entries_digest``.
        day_hash: SHA-256 (hex) of the day document's canonical JSON.
        bundle: the proof bundle of the day document, as :func:`sdk.verify_bundle` reads it.
    """

    access_id: str
    entry: dict[str, Any]
    entry_hash: str
    entry_hashes: tuple[str, ...]
    day: dict[str, Any]
    day_hash: str
    bundle: dict[str, Any]

    @classmethod
    def _from_json(cls, data: Json) -> AccessAnchor:
        entry = json_object(data["entry"])
        return cls(
            access_id=str(entry["exchange_id"]),
            entry=entry,
            entry_hash=str(data["entry_hash"]),
            entry_hashes=strings(data["entry_hashes"]),
            day=json_object(data["day"]),
            day_hash=str(data["day_hash"]),
            bundle=json_object(data["bundle"]),
        )

    def to_json(self) -> dict[str, Any]:
        """The anchor as the server sent it, to keep in a file and check later (:meth:`from_json`)."""
        return {
            "entry": self.entry,
            "entry_hash": self.entry_hash,
            "entry_hashes": list(self.entry_hashes),
            "day": self.day,
            "day_hash": self.day_hash,
            "bundle": self.bundle,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AccessAnchor:
        """An anchor kept with :meth:`to_json` (or the body of ``GET /v1/me/access/{id}/anchor``)."""
        return cls._from_json(data)


@dataclass(frozen=True, slots=True)
class AccessAnchorCheck:
    """The outcome of :func:`verify_access_anchor`.

    Attributes:
        valid: every check passed: the entry is the access shown (when one was given), its hash is among the
            day's, the day's hashes digest to what was notarised and are as many as it counted, and the bundle
            proves the day document (offline, or on chain with ``rpc_url``).
        problems: each failed check, in plain words.
        day: the day of the log (YYYY-MM-DD, UTC).
        entry_count: how many accesses the administration made that day, as notarised.
        bundle: the proof bundle's own check (``status`` ``"proof_valid"`` offline, ``"authentic"`` on chain).
    """

    valid: bool
    problems: tuple[str, ...]
    day: str | None
    entry_count: int | None
    bundle: BundleVerification | None = field(default=None)


def _once_only_status(value: Any) -> OnceOnlyStatus:
    status = str(value)
    if status == "consent_pending":
        return "consent_pending"
    if status == "refused":
        return "refused"
    if status == "authorised":
        return "authorised"
    if status == "delivered":
        return "delivered"
    raise ValueError(f"unknown once-only request status {status!r}")


@dataclass(frozen=True, slots=True)
class CitizenOnceOnlyRequest:
    """Another administration's request for one of the citizen's reusable documents, as the citizen sees it
    (:meth:`CitizenAccess.document_requests`).

    Attributes:
        id: the request's id; :meth:`CitizenAccess.preview_document` and
            :meth:`CitizenAccess.decide_document_request` take it.
        status: ``"consent_pending"`` until the citizen decides (or ``"authorised"`` at once under a legal basis the
            holder accepts), then ``"authorised"`` or ``"refused"``; ``"delivered"`` once the consumer fetched it.
        document_title, document_type: what the document is (``DIPLOMA``...).
        holder: the administration that keeps it.
        consumer: the administration that asks for it.
        procedure_code: the procedure it is asked for.
        legal_basis: the norm (ELI URI) the request cites, ``None`` when it asks for the citizen's consent.
        created_at, decided_at: when it was asked for and decided.
    """

    id: str
    status: OnceOnlyStatus
    document_title: str
    document_type: str
    holder: AccessParty
    consumer: AccessParty
    procedure_code: str
    legal_basis: str | None
    created_at: datetime
    decided_at: datetime | None

    @classmethod
    def _from_json(cls, data: Json) -> CitizenOnceOnlyRequest:
        return cls(
            id=str(data["id"]),
            status=_once_only_status(data["status"]),
            document_title=str(data["document_title"]),
            document_type=str(data["document_type"]),
            holder=AccessParty._from_json(data["holder"]),
            consumer=AccessParty._from_json(data["consumer"]),
            procedure_code=str(data["procedure_code"]),
            legal_basis=optional_str(data.get("legal_basis")),
            created_at=parse_datetime(data["created_at"]),
            decided_at=optional_datetime(data.get("decided_at")),
        )


def _canonical_json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _differences(entry: Mapping[str, Any], access: Access) -> list[str]:
    shown = {
        "exchange_id": access.id,
        "consumer": access.consumer.code,
        "provider": access.provider.code,
        "service": access.data,
        "officer": access.officer,
        "procedure_code": access.procedure_code,
        "case_id": access.case_id,
        "legal_basis": access.legal_basis,
        "consent_reference": access.consent_reference,
    }
    problems = [
        f"the entry's {name} is {entry.get(name)!r}, the access shows {value!r}"
        for name, value in shown.items()
        if entry.get(name) != value
    ]
    at = entry.get("at")
    try:
        same_moment = isinstance(at, str) and parse_datetime(at.replace("Z", "+00:00")) == access.at
    except ValueError:
        same_moment = False
    if not same_moment:
        problems.append(f"the entry's time is {at!r}, the access shows {_iso(access.at)}")
    return problems


def verify_access_anchor(
    anchor: AccessAnchor,
    access: Access | None = None,
    *,
    rpc_url: str | None = None,
    trusted_notaries: Iterable[TrustedNotary | str] | None = None,
    http: httpx.Client | None = None,
) -> AccessAnchorCheck:
    """Check that an access is in its day's log as the administration notarised it, without trusting Segell.

    The entry's SHA-256 must be among the day's entry hashes; those hashes, concatenated as bytes, must digest to
    the day document's ``entries_digest`` and be as many as its ``entry_count`` (an entry deleted, added or altered
    since the day was closed fails here); the day document's SHA-256 must be the bundle's document, whose Merkle
    proof is checked offline, and with ``rpc_url`` against the chain and the Notary contracts trusted
    (:func:`sdk.verify_bundle`). Given the ``access`` as :meth:`CitizenAccess.log` shows it, the entry must say the
    same (who, of whom, what, when, why).

    Arguments:
        anchor: from :meth:`CitizenAccess.anchor`, or kept and read back with :meth:`AccessAnchor.from_json`.
        access: the access as listed, to check the entry against.
        rpc_url: any JSON-RPC endpoint of the chain (a node of the network, or Segell's ``/rpc``).
        trusted_notaries: the Notary contracts to accept with ``rpc_url`` (e.g. ``client.deployment().trusted_notary``).
        http: an ``httpx.Client`` for the node, kept open by the caller.

    A failed check is returned in ``problems``, never raised.

    Example::

        log = segell.access.log(token)
        anchor = segell.access.anchor(token, log.accesses[0].id)
        check = verify_access_anchor(anchor, log.accesses[0], rpc_url=f"{url}/rpc",
                                     trusted_notaries=[segell.deployment().trusted_notary])
        print(check.valid, check.problems)
    """
    problems: list[str] = []
    day = anchor.day
    if access is not None:
        problems += _differences(anchor.entry, access)
    entry_hash = _sha256_hex(_canonical_json(anchor.entry))
    if not hmac.compare_digest(entry_hash, anchor.entry_hash):
        problems.append("the entry's hash is not the hash of the entry as sent")
    if entry_hash not in anchor.entry_hashes:
        problems.append("the entry is not among the day's entries")
    try:
        digest = hashlib.sha256(b"".join(bytes.fromhex(value) for value in anchor.entry_hashes)).hexdigest()
    except ValueError:
        digest = ""
    if day.get("format") != ACCESS_LOG_DAY_FORMAT:
        problems.append(f"the day document is not a {ACCESS_LOG_DAY_FORMAT} document")
    if digest != day.get("entries_digest"):
        problems.append(
            "the day's entries as stored now do not digest to what was notarised: an entry was deleted, added or "
            "altered since the day was closed"
        )
    if day.get("entry_count") != len(anchor.entry_hashes):
        problems.append(
            f"the log holds {len(anchor.entry_hashes)} entries of that day; {day.get('entry_count')} were notarised"
        )
    if anchor.entry.get("consumer") != day.get("consumer"):
        problems.append("the entry is of another administration's log than the day document")
    day_hash = _sha256_hex(_canonical_json(day))
    if not hmac.compare_digest(day_hash, anchor.day_hash):
        problems.append("the day document's hash is not the hash of the day document as sent")
    if rpc_url is None:
        bundle = verify_bundle_proof(anchor.bundle, day_hash)
    else:
        bundle = verify_bundle(anchor.bundle, day_hash, rpc_url, trusted_notaries=trusted_notaries, http=http)
    if not bundle.valid:
        problems.append(f"the day document's proof bundle: {bundle.reason}")
    count = day.get("entry_count")
    return AccessAnchorCheck(
        valid=not problems,
        problems=tuple(problems),
        day=str(day["day"]) if "day" in day else None,
        entry_count=count if isinstance(count, int) else None,
        bundle=bundle,
    )


class CitizenAccess:
    """``client.access``: the accesses to a citizen's data, and other administrations' requests for their reusable
    documents (once-only), with the token of their login instead of an API key.

    Example::

        with Client(url) as segell:
            log = segell.access.log(token)
            for access in log.accesses:
                print(access.at, access.consumer.name, access.procedure_code, access.legal_basis)
            Path("accesses.csv").write_bytes(segell.access.export(token, "csv"))
            for request in segell.access.document_requests(token):
                print(request.consumer.name, "asks for", request.document_title, request.status)
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def log(self, token: str) -> AccessLog:
        """Every access to the citizen's data, newest first (``GET /v1/me/access``).

        Raises:
            AuthenticationError: the token is not valid (``invalid_token``) or expired (``token_expired``).
            NotFoundError: (``citizen_not_identified``) the administration has not bound the login to the
                citizen's national id yet.
        """
        return self._transport.call("GET", "/v1/me/access", AccessLog._from_json, headers=bearer(token))

    def export(self, token: str, format: AccessExportFormat = "csv") -> bytes:
        """The accesses as a file to keep: ``"csv"`` (UTF-8 with a byte order mark, for spreadsheets) or ``"json"``
        (``segell-access-log-export/1``). Raises as :meth:`log`."""
        return self._transport.download(
            "/v1/me/access/export",
            lambda response: response.content,
            params={"format": format},
            headers=bearer(token),
        )

    def anchor(self, token: str, access_id: str) -> AccessAnchor:
        """What checks that an access is in its day's notarised log (:func:`verify_access_anchor`).

        Raises:
            NotFoundError: no such access of this citizen (or one still hidden).
            ConflictError: ``day_not_closed`` before the day is closed (a few minutes after it ends, UTC), or
                ``not_anchored`` until the day's document is anchored on chain.
        """
        return self._transport.call(
            "GET", f"/v1/me/access/{segment(access_id)}/anchor", AccessAnchor._from_json, headers=bearer(token)
        )

    def document_requests(self, token: str) -> list[CitizenOnceOnlyRequest]:
        """Other administrations' requests for the citizen's reusable documents, newest first
        (``GET /v1/me/once-only``). Raises as :meth:`log`."""
        return self._transport.call(
            "GET",
            "/v1/me/once-only",
            lambda data: [CitizenOnceOnlyRequest._from_json(item) for item in data["requests"]],
            headers=bearer(token),
        )

    def preview_document(self, token: str, request_id: str) -> DocumentCopy:
        """The very file a request asks for, for the citizen to look at before deciding: its name, media type and
        bytes (:meth:`DocumentCopy.save` writes it).

        Raises:
            NotFoundError: (``once_only_request_not_found``) no such request for a document of this citizen.
        """
        return self._transport.download(
            f"/v1/me/once-only/{segment(request_id)}/preview", DocumentCopy._from_response, headers=bearer(token)
        )

    def decide_document_request(
        self, token: str, request_id: str, decision: OnceOnlyDecision
    ) -> CitizenOnceOnlyRequest:
        """The citizen consents to sending their document for a request (``"consent"``: it becomes
        ``authorised``), or refuses (``"refuse"``). A decision is taken once.

        Raises:
            NotFoundError: (``once_only_request_not_found``) no such request for a document of this citizen.
            ConflictError: (``already_decided``) the request was decided already, or needed no consent.

        Example::

            for request in segell.access.document_requests(token):
                if request.status == "consent_pending":
                    segell.access.preview_document(token, request.id).save(Path("."))
                    segell.access.decide_document_request(token, request.id, "consent")
        """
        return self._transport.call(
            "POST",
            f"/v1/me/once-only/{segment(request_id)}/decision",
            CitizenOnceOnlyRequest._from_json,
            json={"decision": decision},
            headers=bearer(token),
        )


# -- the administrations' side ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataService:
    """A data service of the catalogue.

    Attributes:
        id: its id (32 hex digits).
        provider: the code of the administration that provides it.
        code: its code, unique for the provider (``RESIDENCE``).
        description: what it answers.
        response_schema: the JSON Schema (2020-12) of every answer's ``data``.
        legal_bases: the norms (ELI URIs) a request may cite.
        consent_required: whether a request must cite the citizen's consent.
        routing: ``"builtin"`` (answered from records the provider uploaded) or ``"webhook"`` (its endpoint).
        endpoint_url: the provider's endpoint, for a webhook service.
        seal_certificate: the serial of the seal certificate its answers are sealed with.
        created_at: when it was registered.
        webhook_secret: the key its webhooks are signed with; only in :meth:`Interop.register_service`'s answer,
            for a webhook service.
    """

    id: str
    provider: str
    code: str
    description: str
    response_schema: dict[str, Any]
    legal_bases: tuple[str, ...]
    consent_required: bool
    routing: Literal["builtin", "webhook"]
    endpoint_url: str | None
    seal_certificate: str
    created_at: datetime
    webhook_secret: str | None = None

    @classmethod
    def _from_json(cls, data: Json) -> DataService:
        routing = str(data["routing"])
        if routing not in ("builtin", "webhook"):
            raise ValueError(f"unknown routing {routing!r}")
        return cls(
            id=str(data["id"]),
            provider=str(data["provider"]),
            code=str(data["code"]),
            description=str(data["description"]),
            response_schema=json_object(data["response_schema"]),
            legal_bases=strings(data["legal_bases"]),
            consent_required=bool(data["consent_required"]),
            routing="builtin" if routing == "builtin" else "webhook",
            endpoint_url=optional_str(data.get("endpoint_url")),
            seal_certificate=str(data["seal_certificate"]),
            created_at=parse_datetime(data["created_at"]),
            webhook_secret=optional_str(data.get("webhook_secret")),
        )


@dataclass(frozen=True, slots=True)
class CitizenBinding:
    """A citizen's login bound to their national id (:meth:`Interop.bind_citizen`).

    Attributes:
        citizen_id: the citizen's pseudonym for the administration (the token's ``sub``).
        bound_at: when the login was first bound; binding it again answers the same moment.
    """

    citizen_id: str
    bound_at: datetime

    @classmethod
    def _from_json(cls, data: Json) -> CitizenBinding:
        return cls(citizen_id=str(data["citizen_id"]), bound_at=parse_datetime(data["bound_at"]))


AuthorisationStatus = Literal["pending", "granted", "refused"]


@dataclass(frozen=True, slots=True)
class InteropAuthorisation:
    """A consumer's access to a provider's service for one procedure.

    Attributes:
        id: its id; the provider decides on it with :meth:`Interop.decide_authorisation`.
        service_id, provider, service: the service and its provider's code.
        consumer: the code of the administration that asked.
        procedure_code: the procedure it is for.
        justification: why the consumer asked.
        status: ``"pending"`` until the provider decides, then ``"granted"`` or ``"refused"``.
        reason: why it was refused.
        requested_at, decided_at: when it was asked for and decided.
    """

    id: str
    service_id: str
    provider: str
    service: str
    consumer: str
    procedure_code: str
    justification: str
    status: AuthorisationStatus
    reason: str | None
    requested_at: datetime
    decided_at: datetime | None

    @classmethod
    def _from_json(cls, data: Json) -> InteropAuthorisation:
        status = str(data["status"])
        if status not in ("pending", "granted", "refused"):
            raise ValueError(f"unknown authorisation status {status!r}")
        return cls(
            id=str(data["id"]),
            service_id=str(data["service_id"]),
            provider=str(data["provider"]),
            service=str(data["service"]),
            consumer=str(data["consumer"]),
            procedure_code=str(data["procedure_code"]),
            justification=str(data["justification"]),
            status="pending" if status == "pending" else "granted" if status == "granted" else "refused",
            reason=optional_str(data.get("reason")),
            requested_at=parse_datetime(data["requested_at"]),
            decided_at=optional_datetime(data.get("decided_at")),
        )


@dataclass(frozen=True, slots=True)
class InteropExchange:
    """A request and the provider's sealed answer.

    Attributes:
        id: the exchange's id; :meth:`Interop.evidence` takes it.
        request: the request document as hashed and notarised (its ``subject_key``, never the national id).
        request_hash: SHA-256 of its canonical JSON.
        answer: the provider's answer: ``found``, ``data``, and the ``request_hash`` it answers.
        answer_hash: SHA-256 of the answer's canonical JSON, the sealed payload.
        answer_jws: the answer sealed by the provider: compact JWS, ES256, its certificate chain in ``x5c``.
        request_receipt_id, answer_receipt_id: the notary's receipts of both hashes.
        evidence_url: where the evidence file is, once both are anchored.
    """

    id: str
    request: dict[str, Any]
    request_hash: str
    answer: dict[str, Any]
    answer_hash: str
    answer_jws: str
    request_receipt_id: str
    answer_receipt_id: str
    evidence_url: str

    @property
    def found(self) -> bool:
        """Whether the provider holds data of the citizen."""
        return bool(self.answer.get("found"))

    @property
    def data(self) -> dict[str, Any] | None:
        """The provider's data of the citizen, as its service's response schema says; ``None`` when not found."""
        data = self.answer.get("data")
        return data if isinstance(data, dict) else None

    @classmethod
    def _from_json(cls, data: Json) -> InteropExchange:
        return cls(
            id=str(data["id"]),
            request=json_object(data["request"]),
            request_hash=str(data["request_hash"]),
            answer=json_object(data["answer"]),
            answer_hash=str(data["answer_hash"]),
            answer_jws=str(data["answer_jws"]),
            request_receipt_id=str(data["request_receipt_id"]),
            answer_receipt_id=str(data["answer_receipt_id"]),
            evidence_url=str(data["evidence_url"]),
        )


@dataclass(frozen=True, slots=True)
class ReusableDocument:
    """A document a citizen submitted to the administration, kept reusable by others (:meth:`Interop.mark_reusable`).

    Attributes:
        id: its id.
        holder: the administration that keeps it.
        document_type: what it is, as a code (``DIPLOMA``); other administrations ask for it by this code.
        title, file_name, media_type: how it is shown to the citizen and named to whoever receives it.
        size: its length in bytes.
        sha256: SHA-256 (hex) of its bytes, notarised (salted) on arrival.
        legal_bases: the norms (ELI URIs) under which another administration obtains it without the citizen's
            consent.
        receipt_id: the notary's receipt of its hash.
        created_at: when it was kept.
    """

    id: str
    holder: AccessParty
    document_type: str
    title: str
    file_name: str
    media_type: str
    size: int
    sha256: str
    legal_bases: tuple[str, ...]
    receipt_id: str
    created_at: datetime

    @classmethod
    def _from_json(cls, data: Json) -> ReusableDocument:
        return cls(
            id=str(data["id"]),
            holder=AccessParty._from_json(data["holder"]),
            document_type=str(data["document_type"]),
            title=str(data["title"]),
            file_name=str(data["file_name"]),
            media_type=str(data["media_type"]),
            size=int(data["size"]),
            sha256=str(data["sha256"]),
            legal_bases=strings(data["legal_bases"]),
            receipt_id=str(data["receipt_id"]),
            created_at=parse_datetime(data["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class OnceOnlyRequest:
    """The administration's request for a citizen's reusable document, for one procedure
    (:meth:`Interop.request_document`).

    Attributes:
        id: its id (``oo_...``); :meth:`Interop.fetch_document` takes it.
        status: ``"consent_pending"`` while the citizen has not decided, ``"authorised"`` once they consented (or at
            once, under a legal basis the holder accepts), ``"refused"``, and ``"delivered"`` once fetched.
        document_type: the document asked for.
        holder: the administration that keeps it.
        consumer: the administration that asks.
        procedure_code, case_id: the procedure and case it is for.
        legal_basis: the norm (ELI URI) cited, ``None`` when the citizen's consent is asked for.
        created_at, decided_at, delivered_at: when it was asked for, decided and delivered.
    """

    id: str
    status: OnceOnlyStatus
    document_type: str
    holder: AccessParty
    consumer: AccessParty
    procedure_code: str
    case_id: str
    legal_basis: str | None
    created_at: datetime
    decided_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def _from_json(cls, data: Json) -> OnceOnlyRequest:
        return cls(
            id=str(data["id"]),
            status=_once_only_status(data["status"]),
            document_type=str(data["document_type"]),
            holder=AccessParty._from_json(data["holder"]),
            consumer=AccessParty._from_json(data["consumer"]),
            procedure_code=str(data["procedure_code"]),
            case_id=str(data["case_id"]),
            legal_basis=optional_str(data.get("legal_basis")),
            created_at=parse_datetime(data["created_at"]),
            decided_at=optional_datetime(data.get("decided_at")),
            delivered_at=optional_datetime(data.get("delivered_at")),
        )


@dataclass(frozen=True, slots=True)
class OnceOnlyDelivery:
    """A citizen's document as the administration that asked receives it (:meth:`Interop.fetch_document`): sealed by
    its holder, both sides notarised, the access written to the citizen's log.

    Attributes:
        request: the request, now ``"delivered"``.
        file_name, media_type: as the holder kept it.
        sha256: SHA-256 (hex) of :attr:`content`, as the holder's sealed answer names it.
        content: the document's bytes.
        request_document: the request as hashed and notarised (``segell-interop-request/1``, service
            ``ONCE_ONLY:<type>``).
        request_hash: SHA-256 of its canonical JSON.
        answer: the holder's answer: ``request_hash`` and ``data`` (the document's ``sha256``, name, type and size).
        answer_hash: SHA-256 of the answer's canonical JSON, the sealed payload.
        answer_jws: the answer sealed by the holder: compact JWS, ES256, its certificate chain in ``x5c``.
        request_receipt_id, answer_receipt_id: the notary's receipts of both hashes.
        evidence_url: where the evidence file is, once both are anchored (:meth:`Interop.document_evidence`).
    """

    request: OnceOnlyRequest
    file_name: str
    media_type: str
    sha256: str
    content: bytes = field(repr=False)
    request_document: dict[str, Any] = field(repr=False)
    request_hash: str
    answer: dict[str, Any]
    answer_hash: str
    answer_jws: str = field(repr=False)
    request_receipt_id: str
    answer_receipt_id: str
    evidence_url: str

    @classmethod
    def _from_json(cls, data: Json) -> OnceOnlyDelivery:
        return cls(
            request=OnceOnlyRequest._from_json(data["request"]),
            file_name=str(data["file_name"]),
            media_type=str(data["media_type"]),
            sha256=str(data["sha256"]),
            content=base64.b64decode(str(data["content_base64"]), validate=True),
            request_document=json_object(data["request_document"]),
            request_hash=str(data["request_hash"]),
            answer=json_object(data["answer"]),
            answer_hash=str(data["answer_hash"]),
            answer_jws=str(data["answer_jws"]),
            request_receipt_id=str(data["request_receipt_id"]),
            answer_receipt_id=str(data["answer_receipt_id"]),
            evidence_url=str(data["evidence_url"]),
        )


class Interop:
    """``client.interop``: data exchanged between administrations with a legal purpose, and citizens' documents
    obtained once-only. An administration's key.

    Example::

        with Client(url, api_key=town_hall_key) as segell:
            segell.interop.request_authorisation("L01170792", "RESIDENCE", "PADRO-ALTA", "Registration in the census")
            # ... once the provider granted it:
            exchange = segell.interop.request(
                "L01170792", "RESIDENCE", "47111222K", procedure_code="PADRO-ALTA", case_id="2026-0042",
                legal_basis="https://www.boe.es/eli/es/l/1985/04/02/7", officer="Marta Vila (OAC)")
            print(exchange.found, exchange.data)
            Path(f"{exchange.id}.evidence.json").write_text(json.dumps(segell.interop.evidence(exchange.id)))

    Once-only: a school keeps a citizen's diploma reusable (:meth:`mark_reusable`); a town hall asks for it
    (:meth:`request_document`) and, once the citizen consented or under a norm the school accepts, receives it
    (:meth:`fetch_document`) with its evidence file (:meth:`document_evidence`).
    """

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def services(self) -> list[DataService]:
        """The catalogue: every administration's data services."""
        return self._transport.call("GET", "/v1/interop/services", items(DataService._from_json))

    def register_service(
        self,
        code: str,
        description: str,
        response_schema: Mapping[str, Any],
        legal_bases: Iterable[str],
        seal_certificate: str,
        *,
        consent_required: bool = False,
        endpoint_url: str | None = None,
    ) -> DataService:
        """Register a data service the administration provides; its answers are sealed with ``seal_certificate``
        (the serial of its seal certificate, issued without a CSR). Without ``endpoint_url`` Segell answers from
        the records uploaded with :meth:`upload_records`; with it, it calls that HTTPS endpoint (the answer's
        ``webhook_secret`` signs those calls: keep it).

        Raises:
            ConflictError: (``service_exists``) the administration already offers a service of that code.
            ValidationError: the schema is not a JSON Schema, a norm is not an ELI URI, or the certificate is not
                a seal of the administration's.
        """
        body: dict[str, Any] = {
            "code": code,
            "description": description,
            "response_schema": dict(response_schema),
            "legal_bases": list(legal_bases),
            "consent_required": consent_required,
            "seal_certificate": seal_certificate,
        }
        if endpoint_url is not None:
            body["endpoint_url"] = endpoint_url
        return self._transport.call("POST", "/v1/interop/services", DataService._from_json, json=body)

    def upload_records(self, service_id: str, records: Mapping[str, Mapping[str, Any]]) -> int:
        """Upload the records a built-in service answers from, ``{national_id: data}`` (up to 10,000 a call; a
        citizen's record replaces the earlier one); returns how many were stored. National ids are kept only as a
        keyed hash."""
        body = {"records": [{"national_id": key, "data": dict(data)} for key, data in records.items()]}
        return self._transport.call(
            "PUT", f"/v1/interop/services/{segment(service_id)}/records", lambda data: int(data["stored"]), json=body
        )

    def request_authorisation(
        self, provider: str, service: str, procedure_code: str, justification: str
    ) -> InteropAuthorisation:
        """Ask a provider for access to one of its services for one procedure: ``pending`` until it decides."""
        body = {
            "provider": provider,
            "service": service,
            "procedure_code": procedure_code,
            "justification": justification,
        }
        return self._transport.call("POST", "/v1/interop/authorisations", InteropAuthorisation._from_json, json=body)

    def authorisations(self) -> list[InteropAuthorisation]:
        """The authorisations the administration asked for, and those asked of it, newest first."""
        return self._transport.call("GET", "/v1/interop/authorisations", items(InteropAuthorisation._from_json))

    def decide_authorisation(
        self, authorisation_id: str, decision: Literal["grant", "refuse"], reason: str | None = None
    ) -> InteropAuthorisation:
        """As the provider, grant or refuse an authorisation to one of its services (``reason`` required to
        refuse); a granted one can later be refused."""
        body: dict[str, Any] = {"decision": decision}
        if reason is not None:
            body["reason"] = reason
        return self._transport.call(
            "POST",
            f"/v1/interop/authorisations/{segment(authorisation_id)}/decision",
            InteropAuthorisation._from_json,
            json=body,
        )

    def request(
        self,
        provider: str,
        service: str,
        national_id: str,
        *,
        procedure_code: str,
        case_id: str,
        legal_basis: str,
        officer: str,
        consent_reference: str | None = None,
        hidden_until: datetime | None = None,
    ) -> InteropExchange:
        """Ask a provider's service about a citizen for a procedure, under a norm: the answer, sealed by the
        provider, both sides notarised and the access written to the citizen's log.

        Arguments:
            national_id: the citizen's; never stored (a keyed hash), and sealed for the provider when its endpoint
                needs it.
            legal_basis: the norm (ELI URI) the request is made under: one the service accepts.
            consent_reference: where the citizen's consent is recorded, for services that need it.
            hidden_until: until then the citizen is not shown the access (an investigation).

        Raises:
            PermissionDeniedError: ``no_authorisation``, ``wrong_legal_basis`` (``details["accepted_legal_bases"]``)
                or ``consent_missing``: the message says why.
            ServerError: 502 ``provider_unavailable`` or 504 ``provider_timeout`` when the provider's endpoint is
                down; ``details["retry_after"]`` says when to try again.
        """
        body: dict[str, Any] = {
            "provider": provider,
            "service": service,
            "subject": {"national_id": national_id},
            "purpose": {
                "procedure_code": procedure_code,
                "case_id": case_id,
                "legal_basis": legal_basis,
                "consent_reference": consent_reference,
            },
            "officer": officer,
        }
        if hidden_until is not None:
            body["hidden_until"] = hidden_until.isoformat()
        return self._transport.call("POST", "/v1/interop/requests", InteropExchange._from_json, json=body)

    def exchange(self, exchange_id: str) -> InteropExchange:
        """An exchange the administration took part in, as consumer or provider."""
        return self._transport.call("GET", f"/v1/interop/requests/{segment(exchange_id)}", InteropExchange._from_json)

    def bind_citizen(self, citizen_token: str, national_id: str) -> CitizenBinding:
        """Tell Segell whose national id a citizen who logged in with the administration holds (the token of that
        login is their consent), so that they can read the accesses to their data with :class:`CitizenAccess`.
        Binding the same login to the same national id again is harmless.

        Raises:
            AuthenticationError: the token is not valid (``invalid_token``) or expired (``token_expired``).
            PermissionDeniedError: ``citizen_of_another_administration`` for a login with another administration;
                ``citizen_mismatch`` when the login, or the national id, is bound otherwise already.

        Example::

            token = segell.auth.verify_otp(phone, code).access_token
            segell.interop.bind_citizen(token, "47111222K")
            log = segell.access.log(token)
        """
        body = {"citizen_token": citizen_token, "national_id": national_id}
        return self._transport.call("POST", "/v1/interop/citizens", CitizenBinding._from_json, json=body)

    def evidence(self, exchange_id: str) -> dict[str, Any]:
        """The exchange's evidence file (``segell-interop-evidence``), which ``segell interop verify`` checks
        offline.

        Raises:
            ConflictError: (``not_anchored``) until both sides are anchored; ask again shortly.
        """
        return self._transport.call("GET", f"/v1/interop/requests/{segment(exchange_id)}/evidence", json_object)

    # -- once-only ------------------------------------------------------------------------------------------------

    def mark_reusable(
        self,
        national_id: str,
        document_type: str,
        title: str,
        file_name: str,
        content: bytes,
        seal_certificate: str,
        *,
        media_type: str = "application/pdf",
        legal_bases: Iterable[str] = (),
    ) -> ReusableDocument:
        """Keep a document a citizen submitted to the administration (at most 3 MB), so that other administrations
        obtain it from Segell instead of asking the citizen again: with the citizen's consent, or under one of
        ``legal_bases``. Its hash is notarised (salted) now; its deliveries are sealed with ``seal_certificate``.

        Arguments:
            national_id: the citizen's; kept only as a keyed hash.
            document_type: what it is, as a code (``DIPLOMA``, ``RESIDENCE_CERTIFICATE``): others ask by it.
            title, file_name: as the citizen and whoever receives it see it.
            content: the document's bytes.
            seal_certificate: the serial of the administration's seal certificate
                (``client.certificates.issue("seal").serial``).
            legal_bases: the norms (ELI URIs) under which it is obtained without the citizen's consent; none, and
                it is obtained only with consent.

        Raises:
            ValidationError: the certificate is not a seal certificate, or a field is malformed.
            NotFoundError: the administration holds no certificate of that serial.
            ConflictError: the certificate cannot seal (revoked or expired).
            PayloadTooLargeError: the document is over 3 MB.

        Example::

            kept = segell.interop.mark_reusable(
                "47111222K", "DIPLOMA", "Títol de batxillerat", "titol.pdf", Path("titol.pdf").read_bytes(),
                segell.certificates.issue("seal").serial,
                legal_bases=["https://www.boe.es/eli/es/lo/2006/05/03/2"])
        """
        body = {
            "national_id": national_id,
            "document_type": document_type,
            "title": title,
            "file_name": file_name,
            "media_type": media_type,
            "content_base64": base64.b64encode(content).decode("ascii"),
            "seal_certificate": seal_certificate,
            "legal_bases": list(legal_bases),
        }
        return self._transport.call("POST", "/v1/interop/once-only/documents", ReusableDocument._from_json, json=body)

    def request_document(
        self,
        national_id: str,
        document_type: str,
        *,
        procedure_code: str,
        case_id: str,
        officer: str,
        legal_basis: str | None = None,
    ) -> OnceOnlyRequest:
        """Ask for a citizen's reusable document, kept by whichever administration holds the latest one of that
        type, for one procedure. Citing a ``legal_basis`` the holder accepts, the request is ``"authorised"`` at
        once; without one it is ``"consent_pending"``: the citizen is asked on their page, where they preview the
        document first (:meth:`CitizenAccess.decide_document_request`).

        Raises:
            NotFoundError: (``no_reusable_document``) no administration keeps one of this citizen of that type.
            PermissionDeniedError: (``legal_basis_not_accepted``) the holder does not accept that norm; the
                message lists those it does.

        Example::

            request = segell.interop.request_document(
                "47111222K", "DIPLOMA", procedure_code="BEQUES-2027", case_id="B-2027-118", officer="Pere Vidal")
            # ... once the citizen consented:
            delivery = segell.interop.fetch_document(request.id)
            Path(delivery.file_name).write_bytes(delivery.content)
        """
        body: dict[str, Any] = {
            "national_id": national_id,
            "document_type": document_type,
            "procedure_code": procedure_code,
            "case_id": case_id,
            "officer": officer,
        }
        if legal_basis is not None:
            body["legal_basis"] = legal_basis
        return self._transport.call("POST", "/v1/interop/once-only/requests", OnceOnlyRequest._from_json, json=body)

    def document_request(self, request_id: str) -> OnceOnlyRequest:
        """A request of the administration's for a citizen's document, as it stands: whether the citizen decided.

        Raises:
            NotFoundError: (``once_only_request_not_found``) no such request of this administration's.
        """
        return self._transport.call(
            "GET", f"/v1/interop/once-only/requests/{segment(request_id)}", OnceOnlyRequest._from_json
        )

    def fetch_document(self, request_id: str) -> OnceOnlyDelivery:
        """The document of an authorised request, sealed by its holder, both sides notarised and the access written
        to the citizen's log; fetching it again answers the same delivery, not a second access.

        Raises:
            PermissionDeniedError: ``consent_missing`` while the citizen has not decided, ``consent_refused`` once
                they refused: the message says what to do instead.
            ConflictError: (``holder_seal_unusable``) the holder's seal certificate was revoked or expired since.
            NotFoundError: (``once_only_request_not_found``) no such request of this administration's.
        """
        return self._transport.call(
            "GET", f"/v1/interop/once-only/requests/{segment(request_id)}/document", OnceOnlyDelivery._from_json
        )

    def document_evidence(self, request_id: str) -> dict[str, Any]:
        """A delivery's evidence file (``segell-interop-evidence``, as an exchange's), which ``segell interop
        verify`` checks offline.

        Raises:
            ConflictError: ``not_delivered`` before :meth:`fetch_document`, ``not_anchored`` until both sides are
                anchored (ask again shortly).
            PermissionDeniedError: ``consent_missing`` or ``consent_refused``, as :meth:`fetch_document`.
        """
        return self._transport.call(
            "GET", f"/v1/interop/once-only/requests/{segment(request_id)}/evidence", json_object
        )
