"""The interoperability domain's rules: the catalogue, authorisations per procedure, exchanges with a legal purpose
and a sealed answer, and the access log anchored day by day.

An exchange runs in three steps, so that no transaction waits on a provider:

1. checks: the service, the consumer's authorisation for the procedure, the legal basis, the consent (`Forbidden`
   with `no_authorisation`, `wrong_legal_basis`, `consent_missing`);
2. the answer: from the provider's uploaded records (`builtin`), or from its endpoint over a signed webhook that
   carries the national id sealed for the provider's seal certificate (`BadGateway` 502 / `GatewayTimeout` 504
   with `Retry-After` when it is down), sealed with its seal certificate;
3. one write transaction, shared by the exchanges that arrive meanwhile (`services/group_writes.py`): the exchange, its
   access-log entry, and the notarisation of the request's hash (by the consumer) and of the answer's (by the
   provider, derived from the request), in one round for the group (`notary.notarise_many`). The notary anchors
   both later, in its batches: when the chain is down the exchange goes on, and its anchors are back-filled once it
   is back.

A webhook's exchange is checked in a short read transaction of its own and asks the provider before its write.
One of a built-in service (`exchange_from_register`) waits for nobody: its checks, its record and its seal are
done in its group's write transaction, with one query for the group's API keys, one for their authorisations and
one for their records. Either takes its time from the app's clock (`now`), and closes the access log's days that
are over once it is written (`close_days`).
"""

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache, partial
from typing import Any

import httpx
from cryptography import x509
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from segell.chain.keys import open_secret, seal_secret
from segell.services.administrations.api import Administration, authenticate, get_by_code
from segell.services.deps import administration_of
from segell.services.errors import (
    BadGateway,
    Conflict,
    Forbidden,
    GatewayTimeout,
    NotFound,
    SegellError,
    ValidationFailed,
)
from segell.services.group_writes import GroupWriter, group_writer
from segell.services.identity import api as identity
from segell.services.interop import repository
from segell.services.interop.enveloping import envelope
from segell.services.interop.evidence import build_evidence
from segell.services.interop.models import AccessLogEntry, Authorisation, DataService, Exchange, LogDigest
from segell.services.interop.schemas import (
    AuthorisationDecision,
    AuthorisationOut,
    AuthorisationRequest,
    ExchangeOut,
    ExchangeRequest,
    LogDayVerification,
    RecordUpload,
    RegisteredService,
    ServiceOut,
    ServiceRegistration,
)
from segell.services.interop.sealing import (
    b64url_decode,
    canonical_json,
    jws_header,
    seal_with_header,
    sha256_hex,
    x5c_of,
)
from segell.services.interop.settings import InteropSettings
from segell.services.notary import api as notary
from segell.services.runtime import Runtime

REQUEST_FORMAT = "segell-interop-request/1"
ANSWER_FORMAT = "segell-interop-answer/1"
LOG_DAY_FORMAT = "segell-interop-access-log-day/1"
SIGNATURE_HEADER = "Segell-Signature"
log = logging.getLogger("segell")
#: How long after midnight UTC the day before is closed (`last_day_to_close`).
CLOSING_GRACE = timedelta(minutes=5)
_SUBJECT_LABEL = b"segell.interop.subject"
_ENTRY_COLUMNS: tuple[str, ...] = tuple(
    "exchange_id subject_key consumer_id provider_id service_code officer procedure_code case_id legal_basis "
    "consent_reference at day hidden_until entry_hash".split()
)


# --- subjects ---------------------------------------------------------------------------------------------------


def normalised_national_id(national_id: str) -> str:
    return "".join(national_id.split()).replace("-", "").upper()


def subject_key(master_key: bytes, national_id: str) -> str:
    """The keyed hash a citizen's national id is stored as, the same for every administration of the deployment:
    national ids are guessable, the master key is not."""
    return hmac.new(_subject_hash_key(master_key), normalised_national_id(national_id).encode(), "sha256").hexdigest()


@lru_cache(maxsize=8)
def _subject_hash_key(master_key: bytes) -> bytes:
    return hmac.new(master_key, _SUBJECT_LABEL, hashlib.sha256).digest()


# --- the catalogue ----------------------------------------------------------------------------------------------


def _service_out(row: DataService, provider_code: str) -> ServiceOut:
    return ServiceOut(
        id=row.id,
        provider=provider_code,
        code=row.code,
        description=row.description,
        response_schema=row.response_schema,
        legal_bases=row.legal_bases,
        consent_required=row.consent_required,
        routing="webhook" if row.routing == "webhook" else "builtin",
        endpoint_url=row.endpoint_url,
        seal_certificate=row.seal_certificate_id,
        created_at=row.created_at,
    )


# jsonschema loads with the first service that declares a response schema, not with the application (a tenth of a
# second of every API process's start).


def _check_schema(schema: dict[str, Any]) -> None:
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValidationFailed(
            f"Invalid request. body.response_schema: not a JSON Schema (2020-12): {exc.message}.",
            details=[{"location": "body.response_schema", "message": exc.message}],
        ) from None


def _webhook_label(service_id: str) -> str:
    return f"segell.interop.webhook:{service_id}"


def register_service(runtime: Runtime, provider: Administration, body: ServiceRegistration) -> RegisteredService:
    """Register a data service of `provider`; its seal certificate must be its own, valid, with the key held."""
    _check_schema(body.response_schema)
    certificate_id = body.seal_certificate.lower()
    seal_identity = identity.signing_identity(runtime, provider.id, certificate_id)
    if seal_identity.profile != "seal":
        raise ValidationFailed(
            f"Invalid request. body.seal_certificate: certificate {certificate_id} is an {seal_identity.profile} "
            "certificate: answers are sealed with the administration's seal (`POST /v1/certificates` with "
            '`"profile": "seal"`).',
            details=[{"location": "body.seal_certificate", "message": "not a seal certificate"}],
        )
    service_id = secrets.token_hex(16)
    secret = secrets.token_urlsafe(32) if body.endpoint_url is not None else None
    with runtime.transaction() as session:
        if repository.service_by_code(session, provider_id=provider.id, code=body.code) is not None:
            raise Conflict(
                f"{provider.code} already offers a service {body.code}; choose another code.", code="service_exists"
            )
        try:
            with session.begin_nested():
                row = repository.add_service(
                    session,
                    id=service_id,
                    provider_id=provider.id,
                    code=body.code,
                    description=body.description,
                    response_schema=body.response_schema,
                    legal_bases=list(dict.fromkeys(body.legal_bases)),
                    consent_required=body.consent_required,
                    routing="builtin" if body.endpoint_url is None else "webhook",
                    endpoint_url=body.endpoint_url,
                    sealed_webhook_secret=(
                        seal_secret(secret.encode(), runtime.master_key, label=_webhook_label(service_id))
                        if secret is not None
                        else None
                    ),
                    seal_certificate_id=seal_identity.certificate_id,
                    created_at=datetime.now(UTC),
                )
        except IntegrityError:
            raise Conflict(
                f"{provider.code} already offers a service {body.code}; choose another code.", code="service_exists"
            ) from None
        out = _service_out(row, provider.code)
    return RegisteredService(**out.model_dump(), webhook_secret=secret)


def list_services(session: Session) -> list[ServiceOut]:
    """The whole catalogue: every administration's services."""
    return [_service_out(row, code) for row, code in repository.list_services(session)]


def get_service(session: Session, service_id: str) -> ServiceOut:
    row = repository.get_service(session, service_id)
    if row is None:
        raise NotFound(f"No data service {service_id}.")
    return _service_out(row, repository.administration_code(session, row.provider_id))


def _own_service(session: Session, provider: Administration, service_id: str) -> DataService:
    row = repository.get_service(session, service_id)
    if row is None or row.provider_id != provider.id:
        raise NotFound(f"No data service {service_id} of {provider.code}.")
    return row


_validators: dict[str, Any] = {}
_validators_lock = threading.Lock()


def _validator(schema: Mapping[str, Any]) -> Any:
    import jsonschema

    key = canonical_json(schema).decode()
    with _validators_lock:
        found = _validators.get(key)
        if found is None:
            found = jsonschema.Draft202012Validator(schema)
            if len(_validators) > 1000:
                _validators.clear()
            _validators[key] = found
    return found


def upload_records(runtime: Runtime, provider: Administration, service_id: str, body: RecordUpload) -> int:
    """Store a built-in service's records, each checked against its response schema; the national ids are kept
    only as subject keys."""
    with runtime.transaction() as session:
        row = _own_service(session, provider, service_id)
        if row.routing != "builtin":
            raise Conflict(
                f"Service {row.code} is answered by {row.endpoint_url}: records are uploaded only to built-in ones.",
                code="service_not_builtin",
            )
        validator = _validator(row.response_schema)
        problems = [
            {"location": f"body.records.{index}.data", "message": error.message}
            for index, record in enumerate(body.records)
            for error in list(validator.iter_errors(record.data))[:1]
        ]
        if problems:
            raise ValidationFailed(
                f"Invalid request. {len(problems)} records do not follow the service's response schema; the first: "
                f"{problems[0]['location']}: {problems[0]['message']}.",
                details=problems[:100],
            )
        records = {subject_key(runtime.master_key, record.national_id): record.data for record in body.records}
        repository.put_records(session, service_id=row.id, records=records, now=datetime.now(UTC))
    return len(records)


# --- authorisations ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Provided:
    """A provider and one of its services as an exchange reads them: services never change once registered."""

    provider_id: int
    provider_code: str
    service: DataService


_catalogue: "weakref.WeakKeyDictionary[Engine, dict[tuple[str, str], _Provided]]" = weakref.WeakKeyDictionary()


def _provided(runtime: Runtime, session: Session, provider_code: str, service_code: str) -> _Provided:
    """The provider and its service, read once per process."""
    with _seals_lock:
        known = _catalogue.setdefault(runtime.engine, {}).get((provider_code, service_code))
    if known is not None:
        return known
    provider, service = _provider_service(session, provider_code, service_code)
    session.expunge(service)
    found = _Provided(provider.id, provider.code, service)
    with _seals_lock:
        _catalogue.setdefault(runtime.engine, {})[(provider_code, service_code)] = found
    return found


def _provider_service(session: Session, provider_code: str, service_code: str) -> tuple[Administration, DataService]:
    provider = get_by_code(session, provider_code)
    row = repository.service_by_code(session, provider_id=provider.id, code=service_code) if provider else None
    if provider is None or row is None:
        raise NotFound(f"{provider_code} offers no data service {service_code}: see `GET /v1/interop/services`.")
    return provider, row


def _authorisation_out(session: Session, row: Authorisation, service: DataService) -> AuthorisationOut:
    codes = repository.administration_codes(session, {service.provider_id, row.consumer_id})
    return AuthorisationOut(
        id=row.id,
        service_id=service.id,
        provider=codes[service.provider_id][0],
        service=service.code,
        consumer=codes[row.consumer_id][0],
        procedure_code=row.procedure_code,
        justification=row.justification,
        status=row.status,  # type: ignore[arg-type]
        reason=row.reason,
        requested_at=row.requested_at,
        decided_at=row.decided_at,
    )


def request_authorisation(session: Session, consumer: Administration, body: AuthorisationRequest) -> AuthorisationOut:
    """Ask a provider for access to one of its services for one procedure: pending until it decides. Asking again
    after a refusal asks anew."""
    provider, service = _provider_service(session, body.provider, body.service)
    if provider.id == consumer.id:
        raise Conflict("An administration does not need an authorisation for its own services.", code="own_service")
    row = repository.authorisation_for(
        session, service_id=service.id, consumer_id=consumer.id, procedure_code=body.procedure_code
    )
    now = datetime.now(UTC)
    if row is None:
        try:
            with session.begin_nested():
                row = repository.add_authorisation(
                    session,
                    id=secrets.token_hex(16),
                    service_id=service.id,
                    consumer_id=consumer.id,
                    procedure_code=body.procedure_code,
                    justification=body.justification,
                    status="pending",
                    requested_at=now,
                )
        except IntegrityError:
            raise Conflict("The same authorisation is being asked for by another request.") from None
    elif row.status == "refused":
        row.status, row.reason, row.decided_at = "pending", None, None
        row.justification, row.requested_at = body.justification, now
    return _authorisation_out(session, row, service)


def decide_authorisation(
    session: Session, provider: Administration, authorisation_id: str, body: AuthorisationDecision
) -> AuthorisationOut:
    """The provider grants or refuses an authorisation to its service (a granted one can later be refused)."""
    row = repository.get_authorisation(session, authorisation_id)
    service = repository.get_service(session, row.service_id) if row is not None else None
    if row is None or service is None or service.provider_id != provider.id:
        raise NotFound(f"No authorisation {authorisation_id} to a service of {provider.code}.")
    if body.decision == "refuse" and body.reason is None:
        raise ValidationFailed(
            "Invalid request. body.reason: say why the access is refused.",
            details=[{"location": "body.reason", "message": "required to refuse"}],
        )
    row.status = "granted" if body.decision == "grant" else "refused"
    row.reason = body.reason
    row.decided_at = datetime.now(UTC)
    session.flush()
    return _authorisation_out(session, row, service)


def list_authorisations(session: Session, administration: Administration) -> list[AuthorisationOut]:
    return [
        _authorisation_out(session, row, service)
        for row, service in repository.authorisations_of(session, administration.id)
    ]


# --- exchanges --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Seal:
    identity: identity.SigningIdentity
    x5c: list[str]
    opened_at: float
    #: The JWS header of every answer sealed with it (`sealing.jws_header`).
    header: str


_seals: "weakref.WeakKeyDictionary[Engine, dict[tuple[int, str], _Seal]]" = weakref.WeakKeyDictionary()
_seals_lock = threading.Lock()


def _seal_of(runtime: Runtime, provider_id: int, certificate_id: str) -> _Seal:
    """The provider's opened seal key, reused for `seal_cache_seconds` before its certificate is checked again."""
    ttl = runtime.settings.section(InteropSettings).seal_cache_seconds
    with _seals_lock:
        cached = _seals.setdefault(runtime.engine, {}).get((provider_id, certificate_id))
    if cached is not None and time.monotonic() - cached.opened_at < ttl:
        return cached
    try:
        held = identity.signing_identity(runtime, provider_id, certificate_id)
    except SegellError as exc:
        raise Conflict(
            f"The provider cannot seal its answer with certificate {certificate_id}: {exc.message} The provider "
            "must register its service again with a valid seal certificate.",
            code="provider_seal_unusable",
        ) from None
    x5c = x5c_of(held.certificate, held.chain)
    fresh = _Seal(identity=held, x5c=x5c, opened_at=time.monotonic(), header=jws_header(x5c))
    with _seals_lock:
        _seals.setdefault(runtime.engine, {})[(provider_id, certificate_id)] = fresh
    return fresh


def _check_purpose(service: DataService, authorisation: str | None, body: ExchangeRequest) -> None:
    """Refuse an exchange whose authorisation (its status: None when there is none), legal basis or consent does
    not allow it."""
    purpose = body.purpose
    if authorisation != "granted":
        state = "no authorisation" if authorisation is None else f"an authorisation {authorisation}"
        raise Forbidden(
            f"{body.provider} has given this administration {state} to use {service.code} for procedure "
            f"{purpose.procedure_code}: ask for one (`POST /v1/interop/authorisations`) and wait for the provider "
            "to grant it.",
            code="no_authorisation",
        )
    if purpose.legal_basis not in service.legal_bases:
        raise Forbidden(
            f"{service.code} is not provided under {purpose.legal_basis}; it accepts: "
            f"{', '.join(service.legal_bases)}.",
            code="wrong_legal_basis",
            details={"accepted_legal_bases": service.legal_bases},
        )
    if service.consent_required and purpose.consent_reference is None:
        raise Forbidden(
            f"{service.code} needs the citizen's consent: give `purpose.consent_reference`, where the consent is "
            "recorded.",
            code="consent_missing",
        )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `Segell-Signature` header of a webhook call or answer: ``t=<unix seconds>,v1=<HMAC-SHA256 hex>`` over
    ``<t>.<body>`` with the service's webhook secret."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def check_webhook_signature(
    secret: str, header: str | None, body: bytes, *, now: float, tolerance: float = 300
) -> bool:
    """Whether `header` is a `Segell-Signature` of `body` with `secret`, made within `tolerance` seconds of `now`."""
    if header is None:
        return False
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = webhook_signature(secret, timestamp, body)
    return hmac.compare_digest(expected, header.strip())


def _down(runtime: Runtime, provider_code: str, problem: str, *, timeout: bool = False) -> SegellError:
    seconds = runtime.settings.section(InteropSettings).retry_after_seconds
    message = f"The provider {provider_code} {problem}; nothing was exchanged or logged. Try again in {seconds} s."
    error_class = GatewayTimeout if timeout else BadGateway
    return error_class(
        message,
        code="provider_timeout" if timeout else "provider_unavailable",
        details={"retry_after": seconds},
        headers={"Retry-After": str(seconds)},
    )


def _ask_webhook(
    runtime: Runtime,
    service: DataService,
    provider_code: str,
    request_document: dict[str, Any],
    national_id: str,
    seal_certificate: x509.Certificate,
) -> tuple[bool, dict[str, Any] | None]:
    """(found, data) from the provider's endpoint: the request and the national id sealed for the provider's seal
    certificate (`enveloping.envelope`), signed with the service's secret; the answer must come back signed with
    it too and follow the response schema."""
    assert service.endpoint_url is not None and service.sealed_webhook_secret is not None
    secret = open_secret(service.sealed_webhook_secret, runtime.master_key, label=_webhook_label(service.id)).decode()
    sealed_subject = envelope(normalised_national_id(national_id).encode(), seal_certificate)
    body = canonical_json({"request": request_document, "sealed_subject": base64.b64encode(sealed_subject).decode()})
    settings = runtime.settings.section(InteropSettings)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: webhook_signature(secret, int(time.time()), body),
    }
    try:
        with httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as http:
            response = http.post(service.endpoint_url, content=body, headers=headers)
    except httpx.TimeoutException:
        raise _down(runtime, provider_code, "did not answer in time", timeout=True) from None
    except httpx.HTTPError as exc:
        raise _down(runtime, provider_code, f"cannot be reached ({type(exc).__name__})") from None
    if response.status_code != 200:
        raise _down(runtime, provider_code, f"answered HTTP {response.status_code}")
    if not check_webhook_signature(secret, response.headers.get(SIGNATURE_HEADER), response.content, now=time.time()):
        raise _down(runtime, provider_code, f"answered without a valid {SIGNATURE_HEADER} header")
    try:
        answer = response.json()
        found, data = answer["found"], answer.get("data")
    except (ValueError, KeyError, TypeError):
        raise _down(runtime, provider_code, 'answered something other than {"found": ..., "data": ...}') from None
    if not isinstance(found, bool) or (found and not isinstance(data, dict)):
        raise _down(runtime, provider_code, 'answered something other than {"found": true|false, "data": {...}}')
    if found:
        error = next(iter(_validator(service.response_schema).iter_errors(data)), None)
        if error is not None:
            raise _down(runtime, provider_code, f"answered data that breaks its response schema ({error.message})")
        return True, data
    return False, None


def access_entry_document(entry: AccessLogEntry, consumer_code: str, provider_code: str) -> dict[str, Any]:
    """What an access-log entry's hash is taken of."""
    return _entry_document({column: getattr(entry, column) for column in _ENTRY_COLUMNS}, consumer_code, provider_code)


def _entry_document(entry: Mapping[str, Any], consumer_code: str, provider_code: str) -> dict[str, Any]:
    return {
        "exchange_id": entry["exchange_id"],
        "subject_key": entry["subject_key"],
        "consumer": consumer_code,
        "provider": provider_code,
        "service": entry["service_code"],
        "officer": entry["officer"],
        "procedure_code": entry["procedure_code"],
        "case_id": entry["case_id"],
        "legal_basis": entry["legal_basis"],
        "consent_reference": entry["consent_reference"],
        "at": _iso(entry["at"]),
        "hidden_until": _iso(entry["hidden_until"]) if entry["hidden_until"] is not None else None,
    }


@dataclass(frozen=True)
class _Asked:
    """An exchange asked of a built-in service whose catalogue entry and seal this process holds: checked, answered
    from the register, sealed and written in the transaction of its group (`_write_exchanges`)."""

    api_key: str
    body: ExchangeRequest
    subject_key: str
    provided: _Provided
    seal: _Seal
    requested_at: datetime
    api_url: str


@dataclass(frozen=True)
class _Answered:
    """An exchange checked, answered and sealed, to write: its rows, its notarisations, and what its consumer is
    answered once they are committed (`ExchangeOut` as JSON, but for the receipts and the closing brace)."""

    exchange: dict[str, Any]
    entry: dict[str, Any]
    title: str
    out: str


def _request_document(
    exchange_id: str, consumer: Administration, provided: _Provided, key: str, body: ExchangeRequest, now: datetime
) -> dict[str, Any]:
    return {
        "format": REQUEST_FORMAT,
        "id": exchange_id,
        "consumer": consumer.code,
        "provider": provided.provider_code,
        "service": provided.service.code,
        "subject_key": key,
        "purpose": body.purpose.model_dump(),
        "officer": body.officer,
        "hidden_until": _iso(body.hidden_until) if body.hidden_until is not None else None,
        "requested_at": _iso(now),
    }


def _answered(
    runtime: Runtime,
    consumer: Administration,
    provided: _Provided,
    held: _Seal,
    body: ExchangeRequest,
    request_document: dict[str, Any],
    found: bool,
    data: dict[str, Any] | None,
    now: datetime,
    api_url: str,
) -> _Answered:
    """The exchange of `request_document`, answered (`found`, `data`) and sealed with the provider's seal."""
    service = provided.service
    exchange_id, key = request_document["id"], request_document["subject_key"]
    request_bytes = canonical_json(request_document)
    request_hash = sha256_hex(request_bytes)
    answer_document = {
        "format": ANSWER_FORMAT,
        "exchange_id": exchange_id,
        "request_hash": request_hash,
        "provider": provided.provider_code,
        "service": service.code,
        "found": found,
        "data": data,
        "answered_at": _iso(datetime.now(UTC)),
    }
    answer_bytes = canonical_json(answer_document)
    answer_hash = sha256_hex(answer_bytes)
    jws = seal_with_header(answer_bytes, held.identity.private_key, held.header)
    purpose = body.purpose
    entry = {
        "exchange_id": exchange_id,
        "subject_key": key,
        "consumer_id": consumer.id,
        "provider_id": provided.provider_id,
        "service_code": service.code,
        "officer": body.officer,
        "procedure_code": purpose.procedure_code,
        "case_id": purpose.case_id,
        "legal_basis": purpose.legal_basis,
        "consent_reference": purpose.consent_reference,
        "at": now,
        "day": now.date(),
        "hidden_until": body.hidden_until,
    }
    entry["entry_hash"] = sha256_hex(canonical_json(_entry_document(entry, consumer.code, provided.provider_code)))
    exchange_row = {
        "id": exchange_id,
        "service_id": service.id,
        "consumer_id": consumer.id,
        "provider_id": provided.provider_id,
        "subject_key": key,
        "request_document": request_bytes.decode(),
        "request_hash": request_hash,
        "answer_jws": jws,
        "answer_hash": answer_hash,
        "created_at": now,
    }
    # Written from the documents' canonical JSON, made for their hashes, rather than encoded again: ids and hashes
    # are hex and a compact JWS is base64url, none of them with a character to escape.
    evidence_url = json.dumps(f"{api_url}/v1/interop/requests/{exchange_id}/evidence", ensure_ascii=False)
    out = (
        f'{{"id":"{exchange_id}","request":{request_bytes.decode()},"request_hash":"{request_hash}",'
        f'"answer":{answer_bytes.decode()},"answer_hash":"{answer_hash}","answer_jws":"{jws}",'
        f'"evidence_url":{evidence_url}'
    )
    return _Answered(exchange_row, entry, f"{provided.provider_code} {service.code}", out)


def _write_exchanges(runtime: Runtime, session: Session, jobs: list[_Asked | _Answered]) -> list[Any]:
    """Write a group of exchanges in one transaction: for each, `ExchangeOut` as JSON, or the error it is refused
    with. Those asked of the register are checked here, together: their API keys (held until the commit, as the
    notary's submissions are: a key revoked or an administration suspended before the commit is refused), their
    authorisations and their records, one query each for the group, then answered and sealed. All are then
    notarised in one round, the answer derived from the request, and written with their access-log entries."""
    outcomes: list[Any] = [None] * len(jobs)
    answered: list[tuple[int, _Answered]] = []
    asked = [(index, job) for index, job in enumerate(jobs) if isinstance(job, _Asked)]
    if asked:
        consumers: dict[str, Administration | SegellError] = {}
        for _, job in asked:
            if job.api_key not in consumers:
                try:
                    consumers[job.api_key] = administration_of(authenticate(session, job.api_key, hold=True))
                except SegellError as refused:
                    consumers[job.api_key] = refused
        wanted = set()
        for _, job in asked:
            consumer = consumers[job.api_key]
            if isinstance(consumer, Administration) and consumer.id != job.provided.provider_id:
                wanted.add((job.provided.service.id, consumer.id, job.body.purpose.procedure_code))
        authorisations = repository.authorisations_in(session, wanted=wanted)
        subjects: dict[str, set[str]] = {}
        for _, job in asked:
            subjects.setdefault(job.provided.service.id, set()).add(job.subject_key)
        records = {
            service_id: repository.records_in(session, service_id=service_id, subject_keys=keys)
            for service_id, keys in subjects.items()
        }
        for index, job in asked:
            consumer = consumers[job.api_key]
            service = job.provided.service
            try:
                if isinstance(consumer, SegellError):
                    raise consumer
                if consumer.id != job.provided.provider_id:
                    procedure = job.body.purpose.procedure_code
                    _check_purpose(service, authorisations.get((service.id, consumer.id, procedure)), job.body)
            except SegellError as refused:
                outcomes[index] = refused
                continue
            data = records[service.id].get(job.subject_key)
            request = _request_document(
                secrets.token_hex(16), consumer, job.provided, job.subject_key, job.body, job.requested_at
            )
            answer = _answered(
                runtime,
                consumer,
                job.provided,
                job.seal,
                job.body,
                request,
                data is not None,
                data,
                job.requested_at,
                job.api_url,
            )
            answered.append((index, answer))
    answered.extend((index, job) for index, job in enumerate(jobs) if isinstance(job, _Answered))
    outputs: list[notary.Output] = []
    for _, answer in answered:
        exchange_row = answer.exchange
        outputs.append(
            notary.Output(
                exchange_row["consumer_id"],
                exchange_row["request_hash"],
                "interop-request",
                title=answer.title,
                public=True,
            )
        )
        outputs.append(
            notary.Output(
                exchange_row["provider_id"],
                exchange_row["answer_hash"],
                "interop-answer",
                title=answer.title,
                public=True,
                derived_from=[len(outputs) - 1],
            )
        )
    receipts = notary.notarise_many(session, outputs)
    rows = []
    for position, (index, answer) in enumerate(answered):
        request_receipt, answer_receipt = receipts[2 * position], receipts[2 * position + 1]
        rows.append(
            {**answer.exchange, "request_receipt_id": request_receipt.id, "answer_receipt_id": answer_receipt.id}
        )
        outcomes[index] = (
            f'{answer.out},"request_receipt_id":"{request_receipt.id}","answer_receipt_id":"{answer_receipt.id}"}}'
        )
    repository.add_exchanges(session, rows, [answer.entry for _, answer in answered])
    return outcomes


def _writer(runtime: Runtime) -> GroupWriter:
    return group_writer(runtime, "exchanges", partial(_write_exchanges, runtime))


def _known_builtin(runtime: Runtime, body: ExchangeRequest) -> tuple[_Provided, _Seal] | None:
    """The built-in service asked for and its provider's seal, when this process holds both (no query); else None."""
    with _seals_lock:
        provided = _catalogue.get(runtime.engine, {}).get((body.provider, body.service))
        if provided is None or provided.service.routing != "builtin":
            return None
        held = _seals.get(runtime.engine, {}).get((provided.provider_id, provided.service.seal_certificate_id))
    ttl = runtime.settings.section(InteropSettings).seal_cache_seconds
    if held is None or time.monotonic() - held.opened_at >= ttl:
        return None
    return provided, held


async def exchange_from_register(
    runtime: Runtime, api_key: str, body: ExchangeRequest, api_url: str, now: datetime | None = None
) -> str | None:
    """`exchange`, from an event loop, for a built-in service this process has answered before: the API key, the
    checks, the record, the seal and the writes all in the transaction of the exchange's group, at `now` (the app's
    clock). `ExchangeOut` as JSON; None when the service is not one of those (ask `exchange` then)."""
    known = _known_builtin(runtime, body)
    if known is None:
        return None
    provided, held = known
    now = now or datetime.now(UTC)
    key = subject_key(runtime.master_key, body.subject.national_id)
    job = _Asked(api_key, body, key, provided, held, now, api_url)
    result: str = await _writer(runtime).submit(job)
    if closing_due(runtime, now):  # the days' closing reads and writes: in a worker thread, off the event loop
        await asyncio.to_thread(close_days, runtime, now)
    return result


def exchange(
    runtime: Runtime, consumer: Administration, body: ExchangeRequest, api_url: str, now: datetime | None = None
) -> str:
    """Ask a provider's service about a citizen for a procedure at `now` (the app's clock): the sealed answer, both
    sides notarised and the access logged (`ExchangeOut` as JSON), or why not (`Forbidden`, `NotFound`, 502/504
    when the provider is down)."""
    now = now or datetime.now(UTC)
    key = subject_key(runtime.master_key, body.subject.national_id)
    with runtime.transaction() as session:
        provided = _provided(runtime, session, body.provider, body.service)
        service = provided.service
        if provided.provider_id != consumer.id:
            authorisation = repository.authorisation_for(
                session, service_id=service.id, consumer_id=consumer.id, procedure_code=body.purpose.procedure_code
            )
            _check_purpose(service, authorisation.status if authorisation is not None else None, body)
        record = (
            repository.record_of(session, service_id=service.id, subject_key=key)
            if service.routing == "builtin"
            else None
        )
        record_data = dict(record.data) if record is not None else None
    request_document = _request_document(secrets.token_hex(16), consumer, provided, key, body, now)
    held = _seal_of(runtime, provided.provider_id, service.seal_certificate_id)
    if service.routing == "webhook":
        found, data = _ask_webhook(
            runtime,
            service,
            provided.provider_code,
            request_document,
            body.subject.national_id,
            held.identity.certificate,
        )
    else:
        found, data = record_data is not None, record_data
    answer = _answered(runtime, consumer, provided, held, body, request_document, found, data, now, api_url)
    result: str = _writer(runtime).write(answer)
    close_days(runtime, now)
    return result


def _party_exchange(session: Session, administration: Administration, exchange_id: str) -> Exchange:
    row = repository.get_exchange(session, exchange_id)
    if row is None or administration.id not in (row.consumer_id, row.provider_id):
        raise NotFound(f"No exchange {exchange_id} of {administration.code}.")
    return row


def get_exchange(session: Session, administration: Administration, exchange_id: str, api_url: str) -> ExchangeOut:
    """An exchange its consumer or its provider asks for again."""
    row = _party_exchange(session, administration, exchange_id)
    return ExchangeOut(
        id=row.id,
        request=json.loads(row.request_document),
        request_hash=row.request_hash,
        answer=json.loads(b64url_decode(row.answer_jws.split(".")[1])),
        answer_hash=row.answer_hash,
        answer_jws=row.answer_jws,
        request_receipt_id=row.request_receipt_id,
        answer_receipt_id=row.answer_receipt_id,
        evidence_url=f"{api_url}/v1/interop/requests/{row.id}/evidence",
    )


def evidence_file(session: Session, administration: Administration, exchange_id: str) -> dict[str, Any]:
    """The evidence file of an exchange (`evidence.EVIDENCE_FORMAT`): `Conflict` `not_anchored` until both sides
    are anchored."""
    row = _party_exchange(session, administration, exchange_id)
    request_bundle = notary.bundle(session, row.consumer_id, row.request_receipt_id)
    answer_bundle = notary.bundle(session, row.provider_id, row.answer_receipt_id)
    return build_evidence(
        request_document=row.request_document,
        answer_jws=row.answer_jws,
        request_bundle=request_bundle.model_dump(mode="json"),
        answer_bundle=answer_bundle.model_dump(mode="json"),
    )


# --- the access log ---------------------------------------------------------------------------------------------


def accesses_of(session: Session, subject: str, now: datetime) -> list[AccessLogEntry]:
    """Every access to the citizen keyed `subject`, newest first, except those still hidden at `now`."""
    return list(repository.accesses_of(session, subject_key=subject, now=now))


def _day_document(consumer_code: str, day: date, entries_digest: str, count: int) -> dict[str, Any]:
    return {
        "format": LOG_DAY_FORMAT,
        "consumer": consumer_code,
        "day": day.isoformat(),
        "entry_count": count,
        "entries_digest": entries_digest,
    }


def _entries_digest(session: Session, consumer_id: int, day: date) -> tuple[str, int]:
    """The digest of one consumer's entries of one day, each entry's hash recomputed from its fields."""
    entries = repository.log_entries_of_day(session, consumer_id=consumer_id, day=day)
    parties = repository.administration_codes(session, {consumer_id, *(entry.provider_id for entry in entries)})
    digest = hashlib.sha256()
    for entry in entries:
        document = access_entry_document(entry, parties[consumer_id][0], parties[entry.provider_id][0])
        digest.update(bytes.fromhex(sha256_hex(canonical_json(document))))
    return digest.hexdigest(), len(entries)


def close_day(session: Session, consumer_id: int, day: date) -> LogDigest:
    """Digest and notarise one consumer's access log of `day` (by that consumer): its entry count and the digest
    of its entries' hashes. Done once a day is over (`close_days`); an entry deleted or altered afterwards no
    longer matches (`verify_day`). Exactly once whatever the processes: the day is locked across them first, so a
    second one finds the first one's digest and returns it."""
    return _close_day(session, consumer_id, day)[0]


def _close_day(session: Session, consumer_id: int, day: date) -> tuple[LogDigest, bool]:
    """(the day's digest, whether this call made it)."""
    repository.lock_log_day(session, consumer_id=consumer_id, day=day)
    existing = repository.digest_of(session, consumer_id=consumer_id, day=day)
    if existing is not None:
        return existing, False
    entries_digest, count = _entries_digest(session, consumer_id, day)
    consumer_code = repository.administration_code(session, consumer_id)
    document_hash = sha256_hex(canonical_json(_day_document(consumer_code, day, entries_digest, count)))
    receipt = notary.notarise(
        session,
        consumer_id,
        document_hash,
        kind="interop-access-log",
        title=f"{consumer_code} {day.isoformat()}: {count}",
        metadata={"day": day.isoformat(), "entry_count": count},
    )
    digest = LogDigest(
        consumer_id=consumer_id,
        day=day,
        entry_count=count,
        entries_digest=entries_digest,
        document_hash=document_hash,
        receipt_id=receipt.id,
        created_at=datetime.now(UTC),
    )
    repository.add_digest(session, digest)
    return digest, True


@dataclass
class _Closing:
    """Where one process stands in closing the log's days of one database."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Every day up to this one is closed (as far as this process knows).
    closed_through: date | None = None
    #: While the time is in [start, end), `last_day_to_close` is `closed_through`: nothing to close, nothing to
    #: compute (`closing_due`, asked at every exchange).
    quiet: tuple[datetime, datetime] | None = None
    #: After a failure, no new attempt before this (time.monotonic()).
    retry_at: float = 0.0


_closings: "weakref.WeakKeyDictionary[Engine, _Closing]" = weakref.WeakKeyDictionary()


def last_day_to_close(runtime: Runtime, now: datetime) -> date:
    """The last day whose log may be closed at `now`: the day before, once `CLOSING_GRACE` (or twice the webhook
    timeout, if longer) has passed since midnight UTC, so that an exchange under way at midnight (a provider
    answering slowly) is written before its day is closed."""
    return (now.astimezone(UTC) - _grace(runtime)).date() - timedelta(days=1)


def _grace(runtime: Runtime) -> timedelta:
    timeout = runtime.settings.section(InteropSettings).webhook_timeout_seconds
    return max(CLOSING_GRACE, timedelta(seconds=2 * timeout))


def _closing_of(runtime: Runtime) -> _Closing:
    with _seals_lock:
        return _closings.setdefault(runtime.engine, _Closing())


def _due(closing: _Closing, through: date) -> bool:
    return closing.closed_through != through and time.monotonic() >= closing.retry_at


def closing_due(runtime: Runtime, now: datetime) -> bool:
    """Whether `close_days(runtime, now)` has anything to look at (no query): a caller on an event loop calls it
    from a worker thread then, and not at all otherwise."""
    closing = _closing_of(runtime)
    quiet = closing.quiet
    if quiet is not None and quiet[0] <= now.astimezone(UTC) < quiet[1]:
        return False
    return _due(closing, last_day_to_close(runtime, now))


def close_days(runtime: Runtime, now: datetime) -> int:
    """Close every day whose log is not closed yet, up to `last_day_to_close`. Cheap when there is nothing new to
    close: a process looks once per day (at the first exchange after the day is over, at the start, or when its
    `LogDayCloser` wakes), one thread at a time; after a failure it tries again `log_close_interval_seconds` later.
    Failures are logged, never raised: an exchange is not failed by the closing of an earlier day. Returns how
    many days this process closed: with several processes at once, each day is closed by one of them."""
    through = last_day_to_close(runtime, now)
    closing = _closing_of(runtime)
    if not _due(closing, through):
        return 0
    if not closing.lock.acquire(blocking=False):
        return 0  # another thread of this process is at it
    try:
        if closing.closed_through == through:
            return 0
        closed, failed = _close_pending_days(runtime, through)
        if failed:
            closing.retry_at = time.monotonic() + runtime.settings.section(InteropSettings).log_close_interval_seconds
        else:
            closing.closed_through = through
            # `last_day_to_close` is `through` from midnight after it, plus the grace, until a day later.
            start = datetime.combine(through + timedelta(days=1), datetime.min.time(), UTC) + _grace(runtime)
            closing.quiet = (start, start + timedelta(days=1))
        return closed
    finally:
        closing.lock.release()


def _close_pending_days(runtime: Runtime, through: date) -> tuple[int, bool]:
    """(days closed here, whether any failed)."""
    closed, failed = 0, False
    try:
        with runtime.transaction() as session:
            pending = repository.days_to_close(session, before=through + timedelta(days=1))
    except Exception:
        log.exception("could not look for access-log days to close")
        return 0, True
    for consumer_id, day in pending:
        try:
            with runtime.transaction() as session:
                closed += _close_day(session, consumer_id, day)[1]
        except IntegrityError:  # SQLite: a `close_day` of another thread of this process came first
            continue
        except Exception:
            log.exception("could not close the access log of administration %s of %s", consumer_id, day)
            failed = True
    return closed, failed


def verify_day(session: Session, consumer_id: int, day: date) -> LogDayVerification:
    """Whether one consumer's access log of `day` is still what was notarised: the entries now, digested again,
    against the hash the notary holds (not against the digest row, which could be altered with them)."""
    entries_digest, count = _entries_digest(session, consumer_id, day)
    digest = repository.digest_of(session, consumer_id=consumer_id, day=day)
    if digest is None:
        return LogDayVerification(day=day, entry_count=count, notarised_count=None, intact=None, receipt_id=None)
    notarised = notary.receipt(session, consumer_id, digest.receipt_id)
    consumer_code = repository.administration_code(session, consumer_id)
    recomputed = sha256_hex(canonical_json(_day_document(consumer_code, day, entries_digest, count)))
    return LogDayVerification(
        day=day,
        entry_count=count,
        notarised_count=(notarised.metadata or {}).get("entry_count", digest.entry_count),
        intact=hmac.compare_digest(recomputed, notarised.document_hash),
        receipt_id=digest.receipt_id,
    )
