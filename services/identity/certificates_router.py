"""HTTP API of the certificate authority: an administration's certificates, the public status, log, CAs and CRLs."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.requests import ClientDisconnect

from segell.services.administrations.api import Administration
from segell.services.deps import AdministrationDep, ClockDep, RuntimeDep, SessionDep
from segell.services.errors import InvalidInput, UnsupportedMediaType, error_responses
from segell.services.identity import ca
from segell.services.identity import certificates as service
from segell.services.identity.certificate_schemas import (
    CERTIFICATE_FORMAT,
    CertificateAuthorityOut,
    CertificateList,
    CertificateOut,
    CertificateRevocation,
    CertificateStatus,
    CertificateStatusOut,
    IssueCertificateRequest,
    IssuedCertificateOut,
    LogEntryOut,
    LogRecord,
    PublicAdministration,
    RevokeCertificateRequest,
)
from segell.services.identity.certificates import LogEntry, Profile
from segell.services.identity.models import IssuedCertificate
from segell.services.notary.api import ProofBundle, Receipt

PEM_FILE = "application/x-pem-file"
PKIX_CERT = "application/pkix-cert"
PKIX_CRL = "application/pkix-crl"
OCTET_STREAM = "application/octet-stream"

# Serial numbers in the public lookups: hex, with 0x, colons or leading zeros as tools print them; 64 digits at most.
SerialText = Annotated[
    str,
    Path(
        max_length=100,
        pattern=r"^(0[xX])?:*([0-9a-fA-F]:*){1,64}$",
        description="Serial number in hex, e.g. 4f3a...; `0x`, colons and leading zeros are taken.",
    ),
]


class SerialConvertor(StringConvertor):
    """Only a serial as this CA writes it (40 hex digits) matches `{serial:certificate_serial}`."""

    regex = "[0-9a-fA-F]{40}"


register_url_convertor("certificate_serial", SerialConvertor())


def _registration_out(record: IssuedCertificate, administration: Administration) -> dict[str, Any]:
    registration = service.registration(record, administration)
    return {
        "registration_authority": PublicAdministration(code=registration.code, name=registration.name),
        "citizen_id": registration.citizen_id,
    }


def _certificate_out(record: IssuedCertificate, administration: Administration) -> dict[str, Any]:
    return {
        "serial": record.id,
        "profile": record.profile,
        "status": service.status_of(record),
        "subject": record.subject,
        "common_name": record.common_name,
        "email": record.email,
        **_registration_out(record, administration),
        "key_origin": record.key_origin,
        "key_algorithm": record.key_algorithm,
        "key_held": record.sealed_key is not None,
        "fingerprint_sha256": record.fingerprint,
        "issuer": service.issuer_name(record),
        "not_before": record.not_before,
        "not_after": record.not_after,
        "certificate_pem": service.certificate_pem(record),
        "revocation": _revocation(record),
        "log": {"document_id": record.log_document_id, "verification_code": None},
        "created_at": record.created_at,
    }


def _revocation(record: IssuedCertificate) -> CertificateRevocation | None:
    if record.revoked_at is None or record.revocation_reason is None:
        return None
    return CertificateRevocation(revoked_at=record.revoked_at, reason=record.revocation_reason)


def _log_record(receipt: Receipt | None, bundle_path: str) -> LogRecord | None:
    if receipt is None:
        return None
    return LogRecord(
        document_hash=receipt.document_hash,
        verification_code=receipt.verification_code,
        status=receipt.status,
        logged_at=receipt.created_at,
        anchor=receipt.anchor,
        bundle=bundle_path,
    )


def _log_entry_out(entry: LogEntry) -> LogEntryOut:
    record = entry.record
    base = f"/v1/certificates/log/{record.id}"
    return LogEntryOut(
        serial=record.id,
        fingerprint_sha256=record.fingerprint,
        profile=record.profile,  # type: ignore[arg-type]
        administration=PublicAdministration(code=entry.administration.code, name=entry.administration.name),
        **_registration_out(record, entry.administration),
        issuer=service.issuer_name(record),
        not_before=record.not_before,
        not_after=record.not_after,
        issuance=_log_record(entry.issuance, f"{base}/bundle"),
        revocation=_log_record(entry.revocation, f"{base}/revocation/bundle"),
        revocation_record=service.revocation_record(record) if record.revoked_at is not None else None,
    )


# The administration's own certificates: API key required; another administration's certificates are 404.
router = APIRouter(prefix="/v1/certificates", tags=["certificates"], responses=error_responses(401, 403))
# Anyone: status, the certificate log, the CAs and their CRLs.
public = APIRouter(prefix="/v1", tags=["certificate authority"])


_ISSUE_RESPONSES = error_responses(401, 403, 409, 422, 503)
_ISSUE_RESPONSES[401] = {
    **_ISSUE_RESPONSES[401],
    "description": "Missing or invalid API key; or, for a citizen certificate, no citizen token "
    "(`citizen_token_required`), or one that does not verify (`invalid_token`) or expired (`token_expired`).",
}
_ISSUE_RESPONSES[403] = {
    **_ISSUE_RESPONSES[403],
    "description": "A governance key or a suspended administration; or a citizen token from a login with another "
    "administration (`citizen_of_another_administration`), or of a citizen other than the one bound to this "
    "national id (`citizen_mismatch`).",
}


@router.post(
    "",
    response_model=IssuedCertificateOut,
    status_code=status.HTTP_201_CREATED,
    responses=_ISSUE_RESPONSES,
)
def issue_certificate(
    body: IssueCertificateRequest,
    response: Response,
    runtime: RuntimeDep,
    administration: AdministrationDep,
    clock: ClockDep,
) -> IssuedCertificateOut:
    """Issue a certificate: the key generated here (PKCS#12 returned once) or from your CSR; logged with the notary."""
    request = service.IssueRequest(
        profile=body.profile,
        name=body.name,
        national_id=body.national_id,
        email=body.email,
        position=body.position,
        csr_pem=body.csr,
        passphrase=body.passphrase,
        validity_days=body.validity_days,
        citizen_token=body.citizen_token,
    )
    issued = service.issue_certificate(runtime, administration, request, clock=clock)
    # The answer may hold a private key and its passphrase: no cache keeps it.
    response.headers["Cache-Control"] = "no-store"
    out = _certificate_out(issued.record, administration)
    out["log"]["verification_code"] = issued.receipt.verification_code
    return IssuedCertificateOut(
        **out,
        pkcs12=service.pkcs12_base64(issued.pkcs12) if issued.pkcs12 is not None else None,
        passphrase=issued.passphrase,
    )


@router.get("", response_model=CertificateList, responses=error_responses(422))
def list_certificates(
    session: SessionDep,
    administration: AdministrationDep,
    profile: Annotated[Profile | None, Query()] = None,
    status: Annotated[CertificateStatus | None, Query(description="valid, revoked or expired.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> CertificateList:
    """The administration's certificates, newest first."""
    records = service.list_certificates(
        session, administration.id, profile=profile, status=status, limit=limit, offset=offset
    )
    return CertificateList(items=[CertificateOut(**_certificate_out(record, administration)) for record in records])


@router.get("/{serial:certificate_serial}", response_model=CertificateOut, responses=error_responses(404, 422))
def read_certificate(serial: str, session: SessionDep, administration: AdministrationDep) -> CertificateOut:
    """One of the administration's certificates, with its PEM."""
    record = service.get_certificate(session, administration.id, serial)
    out = _certificate_out(record, administration)
    out["log"]["verification_code"] = service.log_verification_code(session, record)
    return CertificateOut(**out)


@router.post(
    "/{serial:certificate_serial}/revoke",
    response_model=CertificateOut,
    responses=error_responses(404, 409, 422, 503),
)
def revoke_certificate(
    serial: str, body: RevokeCertificateRequest, runtime: RuntimeDep, administration: AdministrationDep
) -> CertificateOut:
    """Revoke a certificate with an RFC 5280 reason: a new CRL at once, and the revocation logged."""
    record = service.revoke_certificate(runtime, administration.id, serial, body.reason)
    with runtime.transaction() as session:
        out = _certificate_out(record, administration)
        out["log"]["verification_code"] = service.log_verification_code(session, record)
    return CertificateOut(**out)


# --- public -------------------------------------------------------------------------------------------------------


@public.get("/certificates/status/{serial}", response_model=CertificateStatusOut, responses=error_responses(404, 422))
def certificate_status(serial: SerialText, runtime: RuntimeDep, session: SessionDep) -> CertificateStatusOut:
    """Is this certificate valid, revoked or expired? By serial number; no API key needed."""
    record = service.public_record(session, serial)
    administration = session.get(Administration, record.administration_id)
    assert administration is not None
    return CertificateStatusOut(
        serial=record.id,
        status=service.status_of(record),  # type: ignore[arg-type]
        profile=record.profile,  # type: ignore[arg-type]
        administration=PublicAdministration(code=administration.code, name=administration.name),
        not_before=record.not_before,
        not_after=record.not_after,
        revocation=_revocation(record),
        crl_url=runtime.settings.api_url + ca.CRL_PATHS[ca.ISSUING],
    )


@public.get("/certificates/log/{serial}", response_model=LogEntryOut, responses=error_responses(404, 422))
def read_log_entry(serial: SerialText, session: SessionDep) -> LogEntryOut:
    """Was this certificate logged? Its log entries (issuance, revocation) with the notary's codes and anchors."""
    return _log_entry_out(service.log_entry(session, service.public_record(session, serial)))


_CERTIFICATE_UPLOAD = {
    "requestBody": {
        "required": True,
        # application/x-pem-file and application/pkix-cert are taken too. The format says what the bytes must be:
        # anything else is 400 `invalid_certificate`.
        "content": {OCTET_STREAM: {"schema": {"type": "string", "format": CERTIFICATE_FORMAT}}},
        "description": f"The certificate, PEM or DER, as {OCTET_STREAM}, {PEM_FILE} or {PKIX_CERT}.",
    }
}


@public.post(
    "/certificates/log",
    response_model=LogEntryOut,
    responses=error_responses(400, 404, 413, 415),
    openapi_extra=_CERTIFICATE_UPLOAD,
)
async def find_log_entry(request: Request, runtime: RuntimeDep) -> LogEntryOut:
    """Was this certificate logged? Send the certificate itself (PEM or DER) and get its log entry."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in (PEM_FILE, PKIX_CERT, OCTET_STREAM):
        raise UnsupportedMediaType(
            f"Send the certificate as {PEM_FILE}, {PKIX_CERT} or {OCTET_STREAM}, not {media_type or 'no Content-Type'}."
        )
    try:
        body = await request.body()
    except ClientDisconnect:
        raise InvalidInput(
            "The certificate did not arrive completely; send it again.", code="upload_interrupted"
        ) from None

    def lookup() -> LogEntryOut:
        with runtime.transaction() as session:
            return _log_entry_out(service.log_entry(session, service.record_for_certificate(session, body)))

    return await run_in_threadpool(lookup)


@public.get("/certificates/log/{serial}/bundle", response_model=ProofBundle, responses=error_responses(404, 409, 422))
def read_log_bundle(serial: SerialText, session: SessionDep) -> ProofBundle:
    """The proof bundle of a certificate's log entry: check it against any node of the chain (409 until anchored)."""
    return service.log_bundle(session, service.public_record(session, serial))


@public.get(
    "/certificates/log/{serial}/revocation/bundle",
    response_model=ProofBundle,
    responses=error_responses(404, 409, 422),
)
def read_revocation_log_bundle(serial: SerialText, session: SessionDep) -> ProofBundle:
    """The proof bundle of a certificate's revocation log entry (409 until anchored)."""
    return service.log_bundle(session, service.public_record(session, serial), revocation=True)


@public.get("/ca", response_model=CertificateAuthorityOut)
def read_certificate_authority(runtime: RuntimeDep) -> CertificateAuthorityOut:
    """The root and issuing CA certificates (PEM) and the URLs of their CRLs: the trust anchors of Segell's PKI."""
    authorities = service.certificate_authorities(runtime)
    return CertificateAuthorityOut(
        root_pem=service.pem(authorities.root.certificate),
        issuing_pem=service.pem(authorities.issuing.certificate),
        root_crl_url=runtime.settings.api_url + ca.CRL_PATHS[ca.ROOT],
        issuing_crl_url=runtime.settings.api_url + ca.CRL_PATHS[ca.ISSUING],
    )


def _pem_response(role: str) -> Any:
    def read(runtime: RuntimeDep) -> Response:
        authorities = service.certificate_authorities(runtime)
        authority = authorities.root if role == ca.ROOT else authorities.issuing
        return Response(service.pem(authority.certificate), media_type=PEM_FILE)

    read.__doc__ = f"The {role} CA certificate, PEM."
    return read


def _crl_response(role: str) -> Any:
    def read(runtime: RuntimeDep) -> Response:
        return Response(service.current_crl(runtime, role), media_type=PKIX_CRL)

    read.__doc__ = f"The {role} CA's certificate revocation list, DER, signed by that CA; issued again on revocation."
    return read


for _role in (ca.ROOT, ca.ISSUING):
    public.add_api_route(
        ca.CERTIFICATE_PATHS[_role].removeprefix("/v1"),
        _pem_response(_role),
        methods=["GET"],
        name=f"read_{_role}_ca_certificate",
        response_class=Response,
        responses={200: {"content": {PEM_FILE: {"schema": {"type": "string"}}}, "description": "PEM certificate."}},
    )
    public.add_api_route(
        ca.CRL_PATHS[_role].removeprefix("/v1"),
        _crl_response(_role),
        methods=["GET"],
        name=f"read_{_role}_crl",
        response_class=Response,
        responses={
            200: {"content": {PKIX_CRL: {"schema": {"type": "string", "format": "binary"}}}, "description": "DER CRL."}
        },
    )
