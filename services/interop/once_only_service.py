"""Once-only: a document a citizen submitted to one administration (its holder), marked reusable, obtained by
another administration (the consumer) with the citizen's consent or under a legal basis the holder accepts.

The flow, as in the EU's Once-Only Technical System:

1. the holder marks the document reusable (`mark_reusable`): Segell keeps its bytes, notarised (salted: a
   citizen's document may be guessable), with the norms under which it may be obtained without consent;
2. the consumer asks for it for one procedure (`request_document`): under an accepted legal basis the request is
   authorised at once; without one it waits for the citizen;
3. the citizen, logged in, sees the request on their page, previews the document and consents or refuses
   (`decide`);
4. the consumer fetches it (`fetch_document`): refused with 403 `consent_missing` while the citizen has not
   consented. The answer is sealed by the holder and notarised, the access logged for the citizen, and the
   consumer receives an evidence file `segell interop verify` checks offline, as for every exchange.
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.citizen_auth.api import InvalidToken, verify_token
from segell.services.deps import AuthenticatedCitizen
from segell.services.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    SegellError,
    Unauthenticated,
    ValidationFailed,
)
from segell.services.identity import api as identity
from segell.services.interop import api as interop
from segell.services.interop import once_only_repository as repository
from segell.services.interop import service as interop_service
from segell.services.interop.evidence import build_evidence
from segell.services.interop.once_only_models import OnceOnlyRequest, ReusableDocument
from segell.services.interop.once_only_schemas import (
    AdministrationRef,
    CitizenBinding,
    CitizenBound,
    CitizenOnceOnlyRequest,
    OnceOnlyDelivery,
    OnceOnlyRequestIn,
    OnceOnlyRequestOut,
    ReusableDocumentIn,
    ReusableDocumentOut,
)
from segell.services.interop.sealing import b64url_decode, canonical_json, seal, sha256_hex, x5c_of
from segell.services.notary import api as notary
from segell.services.runtime import Runtime

#: The service a once-only delivery names in its request and answer: `ONCE_ONLY:<document type>`.
ONCE_ONLY_SERVICE: Final = "ONCE_ONLY"
#: The norm a delivery rests on when the citizen consented: the GDPR, whose art. 6.1.a makes consent a legal basis.
CONSENT_LEGAL_BASIS: Final = "http://data.europa.eu/eli/reg/2016/679/oj"

#: The largest document that can be marked reusable: it travels base64 in JSON, within the API's 5 MiB bodies.
MAX_DOCUMENT_BYTES = 3 * 1024 * 1024

_LOG_IN_FIRST = (
    "The citizen logs in with this administration (`POST /v1/auth/otp/verify` or `POST /v1/auth/totp/verify`), "
    "and the token that login returns is sent as `citizen_token`."
)


def _new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def _reference(administration: Administration) -> AdministrationRef:
    return AdministrationRef(code=administration.code, name=administration.name)


# --- citizens and their subject ------------------------------------------------------------------------------------


def bind_citizen(
    session: Session, runtime: Runtime, administration: Administration, body: CitizenBinding, now: datetime
) -> CitizenBound:
    """Bind a login with `administration` to the subject of a national id, the token being the citizen's consent.

    `Unauthenticated` for a token that does not verify; `Forbidden` `citizen_of_another_administration` for a login
    with another administration, `citizen_mismatch` when the login or the national id is bound otherwise already.
    """
    try:
        claims = verify_token(session, body.citizen_token, issuer=runtime.settings.api_url, now=now)
    except InvalidToken as exc:
        raise Unauthenticated(f"The citizen token was refused: {exc.message}", code=exc.code) from None
    if claims.audience != administration.code:
        raise Forbidden(
            f"The citizen token is from a login with {claims.audience}, not with {administration.code}. "
            + _LOG_IN_FIRST,
            code="citizen_of_another_administration",
        )
    key = interop.subject_key(runtime.master_key, body.national_id)
    bound = repository.subject_of_citizen(session, administration.id, claims.citizen_id)
    if bound is not None:
        if not hmac.compare_digest(bound.subject_key, key):
            raise Forbidden(
                "This citizen's login is bound to another national id: the holder of this national id must log in.",
                code="citizen_mismatch",
            )
        return CitizenBound(citizen_id=bound.citizen_id, bound_at=bound.bound_at)
    if repository.citizen_of_subject(session, administration.id, key) is not None:
        raise Forbidden(
            "This national id is bound to another citizen's login with this administration: that citizen must log in.",
            code="citizen_mismatch",
        )
    try:
        with session.begin_nested():
            row = repository.add_citizen_subject(
                session, administration_id=administration.id, citizen_id=claims.citizen_id, subject_key=key, now=now
            )
    except IntegrityError:
        raise Conflict("The citizen was being bound by another request at the same time; try again.") from None
    return CitizenBound(citizen_id=row.citizen_id, bound_at=row.bound_at)


def subject_of(session: Session, citizen: AuthenticatedCitizen) -> str:
    """The subject key of a logged-in citizen; `NotFound` `citizen_not_identified` before their administration
    bound their login to their national id."""
    bound = repository.subject_of_citizen(session, citizen.administration.id, citizen.citizen_id)
    if bound is None:
        raise NotFound(
            f"{citizen.administration.name} has not told Segell whose national id this login holds, so Segell "
            "cannot tell which accesses are yours. Ask it to bind your login (`POST /v1/interop/citizens`), then "
            "try again.",
            code="citizen_not_identified",
        )
    return bound.subject_key


# --- reusable documents --------------------------------------------------------------------------------------------


def _decoded(content_base64: str) -> bytes:
    if len(content_base64) > (MAX_DOCUMENT_BYTES + 2) // 3 * 4:
        raise PayloadTooLarge(f"A reusable document is at most {MAX_DOCUMENT_BYTES} bytes.")
    try:
        content = base64.b64decode(content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed.in_body("content_base64 is not base64: send the document's bytes base64.") from None
    if not content:
        raise ValidationFailed.in_body("content_base64 is empty: send the document's bytes base64.")
    return content


def _document_out(session: Session, row: ReusableDocument) -> ReusableDocumentOut:
    return ReusableDocumentOut(
        id=row.id,
        holder=_reference(repository.administration(session, row.holder_id)),
        document_type=row.document_type,
        title=row.title,
        file_name=row.file_name,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        legal_bases=list(row.legal_bases),
        receipt_id=row.receipt_id,
        created_at=row.created_at,
    )


def mark_reusable(runtime: Runtime, holder: Administration, body: ReusableDocumentIn) -> ReusableDocumentOut:
    """Keep a citizen's document, notarised, for other administrations to obtain; its deliveries are sealed with
    the holder's seal certificate, checked now (`ValidationFailed` for another profile, `Conflict` when unusable)."""
    content = _decoded(body.content_base64)
    held = identity.signing_identity(runtime, holder.id, body.seal_certificate.lower())
    if held.profile != "seal":
        raise ValidationFailed(
            f"Invalid request. body.seal_certificate: certificate {held.certificate_id} is an {held.profile} "
            "certificate: deliveries are sealed with the administration's seal (`POST /v1/certificates` with "
            '`"profile": "seal"`).',
            details=[{"location": "body.seal_certificate", "message": "not a seal certificate"}],
        )
    digest = hashlib.sha256(content).hexdigest()
    now = datetime.now(UTC)
    with runtime.transaction() as session:
        receipt = notary.notarise(session, holder.id, digest, kind="document", salted=True)
        row = repository.add_document(
            session,
            ReusableDocument(
                id=_new_id("rd_"),
                holder_id=holder.id,
                subject_key=interop.subject_key(runtime.master_key, body.national_id),
                document_type=body.document_type,
                title=body.title,
                media_type=body.media_type,
                file_name=body.file_name,
                content=content,
                size=len(content),
                sha256=digest,
                legal_bases=sorted(set(body.legal_bases)),
                seal_certificate_id=held.certificate_id,
                receipt_id=receipt.id,
                created_at=now,
            ),
        )
        return _document_out(session, row)


# --- requests ------------------------------------------------------------------------------------------------------


def _request_out(session: Session, row: OnceOnlyRequest, document: ReusableDocument) -> OnceOnlyRequestOut:
    return OnceOnlyRequestOut(
        id=row.id,
        status=row.status,  # type: ignore[arg-type]
        document_type=document.document_type,
        holder=_reference(repository.administration(session, document.holder_id)),
        consumer=_reference(repository.administration(session, row.consumer_id)),
        procedure_code=row.procedure_code,
        case_id=row.case_id,
        legal_basis=row.legal_basis,
        created_at=row.created_at,
        decided_at=row.decided_at,
        delivered_at=row.delivered_at,
    )


def request_document(
    session: Session, runtime: Runtime, consumer: Administration, body: OnceOnlyRequestIn, now: datetime
) -> OnceOnlyRequestOut:
    """Ask for a citizen's reusable document: authorised at once under a legal basis its holder accepts, else
    waiting for the citizen's consent. `NotFound` `no_reusable_document`; `Forbidden` `legal_basis_not_accepted`."""
    document = repository.latest_document(
        session, interop.subject_key(runtime.master_key, body.national_id), body.document_type
    )
    if document is None:
        raise NotFound(
            f"No administration keeps a reusable {body.document_type} of this citizen: ask the citizen for it.",
            code="no_reusable_document",
        )
    status = "consent_pending"
    if body.legal_basis is not None:
        if body.legal_basis not in document.legal_bases:
            accepted = ", ".join(document.legal_bases) or "none: it is obtained only with the citizen's consent"
            raise Forbidden(
                f"The holder does not accept {body.legal_basis} for this document. Accepted norms: {accepted}. "
                "Without `legal_basis` the citizen is asked for consent.",
                code="legal_basis_not_accepted",
            )
        status = "authorised"
    row = repository.add_request(
        session,
        OnceOnlyRequest(
            id=_new_id("oo_"),
            document_id=document.id,
            consumer_id=consumer.id,
            procedure_code=body.procedure_code,
            case_id=body.case_id,
            legal_basis=body.legal_basis,
            officer=body.officer,
            status=status,
            created_at=now,
            decided_at=now if status == "authorised" else None,
        ),
    )
    return _request_out(session, row, document)


def _consumers_request(
    session: Session, consumer: Administration, request_id: str
) -> tuple[OnceOnlyRequest, ReusableDocument]:
    row = repository.request(session, request_id)
    if row is None or row.consumer_id != consumer.id:
        raise NotFound(f"No once-only request {request_id} of {consumer.code}.", code="once_only_request_not_found")
    document = repository.document(session, row.document_id)
    assert document is not None, "a foreign key names it"
    return row, document


def read_request(session: Session, consumer: Administration, request_id: str) -> OnceOnlyRequestOut:
    row, document = _consumers_request(session, consumer, request_id)
    return _request_out(session, row, document)


def _refuse_unless_authorised(row: OnceOnlyRequest) -> None:
    if row.status == "consent_pending":
        raise Forbidden(
            "The citizen has not consented to sending this document. They are asked on their page (/me/access), "
            "where they may preview it first; ask again once they have consented, or cite a legal basis the "
            "holder accepts in a new request.",
            code="consent_missing",
        )
    if row.status == "refused":
        raise Forbidden(
            "The citizen refused to send this document for this request: ask them for it, or cite a legal basis "
            "the holder accepts in a new request.",
            code="consent_refused",
        )


def _delivery(session: Session, row: OnceOnlyRequest, document: ReusableDocument, api_url: str) -> OnceOnlyDelivery:
    assert row.request_document is not None and row.answer_jws is not None
    assert row.request_receipt_id is not None and row.answer_receipt_id is not None
    answer_bytes = b64url_decode(row.answer_jws.split(".")[1])
    return OnceOnlyDelivery(
        request=_request_out(session, row, document),
        file_name=document.file_name,
        media_type=document.media_type,
        sha256=document.sha256,
        content_base64=base64.b64encode(document.content).decode(),
        request_document=json.loads(row.request_document),
        request_hash=sha256_hex(row.request_document.encode()),
        answer=json.loads(answer_bytes),
        answer_hash=sha256_hex(answer_bytes),
        answer_jws=row.answer_jws,
        request_receipt_id=row.request_receipt_id,
        answer_receipt_id=row.answer_receipt_id,
        evidence_url=f"{api_url}/v1/interop/once-only/requests/{row.id}/evidence",
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _sealed(runtime: Runtime, holder_id: int, holder_code: str, certificate_id: str, answer: bytes) -> str:
    """The answer sealed with the holder's seal certificate, its chain in the JWS."""
    try:
        held = identity.signing_identity(runtime, holder_id, certificate_id)
    except SegellError as exc:
        raise Conflict(
            f"{holder_code} cannot seal the delivery with certificate {certificate_id}: {exc.message} The holder "
            "must mark the document reusable again with a valid seal certificate.",
            code="holder_seal_unusable",
        ) from None
    return seal(answer, held.private_key, x5c_of(held.certificate, held.chain))


def fetch_document(runtime: Runtime, consumer: Administration, request_id: str, api_url: str) -> OnceOnlyDelivery:
    """The document of an authorised request, with the holder's sealed answer, both notarised and the access
    logged for the citizen, as every exchange is; the same delivery when asked again. `Forbidden`
    `consent_missing` while the citizen has not consented, `consent_refused` once they refused."""
    with runtime.transaction() as session:
        row, document = _consumers_request(session, consumer, request_id)
        _refuse_unless_authorised(row)
        if row.status == "delivered":
            return _delivery(session, row, document, api_url)
        holder = repository.administration(session, document.holder_id)
        holder_id, holder_code, seal_certificate_id = holder.id, holder.code, document.seal_certificate_id
    now = datetime.now(UTC)
    # The consent is the legal basis of a delivery that cites none (GDPR art. 6.1.a).
    legal_basis = row.legal_basis or CONSENT_LEGAL_BASIS
    consent_reference = None if row.legal_basis is not None else f"segell:once-only:{row.id}"
    request_document = {
        "format": interop_service.REQUEST_FORMAT,
        "id": row.id,
        "consumer": consumer.code,
        "provider": holder_code,
        "service": f"{ONCE_ONLY_SERVICE}:{document.document_type}",
        "subject_key": document.subject_key,
        "purpose": {
            "procedure_code": row.procedure_code,
            "case_id": row.case_id,
            "legal_basis": legal_basis,
            "consent_reference": consent_reference,
        },
        "officer": row.officer,
        "document_id": document.id,
        "hidden_until": None,
        "requested_at": _iso(row.created_at),
    }
    request_text = canonical_json(request_document).decode()
    request_hash = sha256_hex(request_text.encode())
    answer_document = {
        "format": interop_service.ANSWER_FORMAT,
        "exchange_id": row.id,
        "request_hash": request_hash,
        "provider": holder_code,
        "service": request_document["service"],
        "found": True,
        "data": {
            "document_id": document.id,
            "document_type": document.document_type,
            "file_name": document.file_name,
            "media_type": document.media_type,
            "size": document.size,
            "sha256": document.sha256,
            "holder_receipt_id": document.receipt_id,
        },
        "answered_at": _iso(now),
    }
    answer_bytes = canonical_json(answer_document)
    answer_hash = sha256_hex(answer_bytes)
    jws = _sealed(runtime, holder_id, holder_code, seal_certificate_id, answer_bytes)
    entry = interop.AccessLogEntry(
        exchange_id=row.id,
        subject_key=document.subject_key,
        consumer_id=consumer.id,
        provider_id=holder_id,
        service_code=document.document_type,
        officer=row.officer,
        procedure_code=row.procedure_code,
        case_id=row.case_id,
        legal_basis=legal_basis,
        consent_reference=consent_reference,
        at=now,
        day=now.date(),
        hidden_until=None,
    )
    entry.entry_hash = sha256_hex(
        canonical_json(interop_service.access_entry_document(entry, consumer.code, holder_code))
    )
    with runtime.transaction() as session:
        if not repository.claim_delivery(session, request_id, consumer.id, now):
            # Delivered meanwhile, by another fetch of the same consumer: that delivery is the one.
            row, document = _consumers_request(session, consumer, request_id)
            _refuse_unless_authorised(row)
            return _delivery(session, row, document, api_url)
        row, document = _consumers_request(session, consumer, request_id)
        request_receipt = notary.notarise(
            session,
            consumer.id,
            request_hash,
            kind="interop-request",
            title=f"{holder_code} {request_document['service']}",
            public=True,
        )
        answer_receipt = notary.notarise(
            session,
            holder_id,
            answer_hash,
            kind="interop-answer",
            title=f"{holder_code} {request_document['service']}",
            public=True,
            derived_from=[request_receipt.id],
        )
        repository.deliver(
            session,
            row,
            entry,
            request_document=request_text,
            answer_jws=jws,
            request_receipt_id=request_receipt.id,
            answer_receipt_id=answer_receipt.id,
        )
        delivery = _delivery(session, row, document, api_url)
    interop_service.close_days(runtime, now)
    return delivery


def evidence_file(session: Session, consumer: Administration, request_id: str) -> dict[str, Any]:
    """The evidence file of a delivered request, as for any exchange (`segell interop verify` checks it):
    `Conflict` `not_delivered` before the document was fetched, `not_anchored` until both sides are anchored."""
    row, _document = _consumers_request(session, consumer, request_id)
    if row.status != "delivered":
        _refuse_unless_authorised(row)
        raise Conflict(
            "The document has not been fetched yet: `GET .../document` delivers it, then its evidence is here.",
            code="not_delivered",
        )
    assert row.request_document is not None and row.answer_jws is not None
    assert row.request_receipt_id is not None and row.answer_receipt_id is not None
    document = _document
    return build_evidence(
        request_document=row.request_document,
        answer_jws=row.answer_jws,
        request_bundle=notary.bundle(session, row.consumer_id, row.request_receipt_id).model_dump(mode="json"),
        answer_bundle=notary.bundle(session, document.holder_id, row.answer_receipt_id).model_dump(mode="json"),
    )


# --- the citizen's side --------------------------------------------------------------------------------------------


def citizen_requests(session: Session, subject_key: str) -> list[CitizenOnceOnlyRequest]:
    return [
        CitizenOnceOnlyRequest(
            id=row.id,
            status=row.status,  # type: ignore[arg-type]
            document_title=document.title,
            document_type=document.document_type,
            holder=_reference(repository.administration(session, document.holder_id)),
            consumer=_reference(repository.administration(session, row.consumer_id)),
            procedure_code=row.procedure_code,
            legal_basis=row.legal_basis,
            created_at=row.created_at,
            decided_at=row.decided_at,
        )
        for row, document in repository.requests_for_subject(session, subject_key)
    ]


def _citizens_request(session: Session, subject_key: str, request_id: str) -> tuple[OnceOnlyRequest, ReusableDocument]:
    row = repository.request(session, request_id)
    document = repository.document(session, row.document_id) if row is not None else None
    if row is None or document is None or not hmac.compare_digest(document.subject_key, subject_key):
        raise NotFound(f"No request {request_id} for a document of yours.", code="once_only_request_not_found")
    return row, document


def preview(session: Session, subject_key: str, request_id: str) -> ReusableDocument:
    """The document a request asks for, for the citizen to see before deciding."""
    return _citizens_request(session, subject_key, request_id)[1]


def decide(session: Session, subject_key: str, request_id: str, decision: str, now: datetime) -> CitizenOnceOnlyRequest:
    """The citizen consents to a request, or refuses it; `Conflict` `already_decided` once decided."""
    status = "authorised" if decision == "consent" else "refused"
    decided = repository.decide(session, request_id, subject_key, status=status, now=now)
    row, _document = _citizens_request(session, subject_key, request_id)
    if not decided:
        raise Conflict(f"This request is already {row.status}: a decision is taken once.", code="already_decided")
    return next(entry for entry in citizen_requests(session, subject_key) if entry.id == row.id)
