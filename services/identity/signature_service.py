"""Rules of signing and validation: which certificate signs, how the signed output is notarised, what validation
trusts (the deployment's root CA, its CRLs, the notary's anchors)."""

import base64
import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Literal

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.errors import Conflict, InvalidInput, ValidationFailed
from segell.services.file_names import safe_file_name
from segell.services.identity import ca, certificates
from segell.services.identity.models import IssuedCertificate
from segell.services.identity.registration import registration_of
from segell.services.identity.signature_schemas import (
    ProofOfExistence,
    RegistrationAuthority,
    SignedDocument,
    Signer,
    SignerKind,
    ValidationReport,
)
from segell.services.identity.signing import (
    SignedOutput,
    SigningIdentity,
    UnreadablePdf,
    is_pdf,
    name_attribute,
    sign_detached,
    sign_pdf,
)
from segell.services.identity.stamp_choices import AUTO, Placement, StampPlacementRefused, stamp_language
from segell.services.identity.validation import (
    RevocationUnavailable,
    TrustContext,
    UnreadableInput,
    validate,
)
from segell.services.languages import Language
from segell.services.notary import api as notary
from segell.services.notary.api import AnchoredRoots
from segell.services.runtime import Runtime

SignAs = Literal["employee", "seal"]
RequestedFormat = Literal["auto", "pades", "cades"]
KIND_SIGNED_PDF = "signed-pdf"
KIND_CMS_SIGNATURE = "cms-signature"
# CRLs of other issuers are fetched from the URLs their certificates name; ours are read from the database.
CRL_FETCH_TIMEOUT_S = 5.0
MAX_CRL_BYTES = 4 * 2**20
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(
        f"Invalid request. body.{field}: {problem}.", details=[{"location": f"body.{field}", "message": problem}]
    )


# --- signing ------------------------------------------------------------------------------------------------------


def _default_certificate(runtime: Runtime, administration_id: int, profile: SignAs) -> str:
    """The certificate to sign `as` when none is named: the seal (newest), or the only employee certificate."""
    with runtime.transaction() as session:
        usable = [
            record
            for record in certificates.list_certificates(session, administration_id, profile=profile, status="valid")
            if record.sealed_key is not None and record.not_before <= datetime.now(UTC)
        ]
    if not usable:
        raise Conflict(
            f"This administration has no valid {profile} certificate whose key the server holds. Issue one "
            f"with POST /v1/certificates (profile {profile}), then sign.",
            code="no_certificate",
        )
    if profile == "employee" and len(usable) > 1:
        # The request itself is well formed: what it lacks depends on how many certificates there are now.
        raise Conflict(
            f"This administration has {len(usable)} valid employee certificates: name the one to sign with by its "
            "serial (`certificate`).",
            code="certificate_ambiguous",
        )
    return usable[0].id


def _title(filename: str | None) -> str | None:
    if not filename:
        return None
    shown = _UNPRINTABLE.sub("", PurePath(filename.replace("\\", "/")).name).strip()
    return shown[:300] or None


def _output_filename(filename: str | None, output: SignedOutput) -> str:
    name = _title(filename) or "document"
    if output.format == "PAdES":
        stem = name[:-4] if name.lower().endswith(".pdf") else name
        return safe_file_name(f"{stem}-signed.pdf")
    return safe_file_name(f"{name}.p7s")


def _registration_authority_named(certificate: x509.Certificate) -> RegistrationAuthority | None:
    """The registration authority the certificate's registration extension names, if it has one."""
    registration = registration_of(certificate)
    return None if registration is None else RegistrationAuthority(code=registration.code, name=registration.name)


def _signer_of(identity: certificates.SigningIdentity, administration: Administration) -> Signer:
    certificate = identity.certificate
    # Certificates issued before they named a registration authority: the administration they were issued to.
    registration_authority = _registration_authority_named(certificate) or RegistrationAuthority(
        code=administration.code, name=administration.name
    )
    kind: SignerKind | None = identity.profile if identity.profile in ("employee", "seal", "citizen") else None  # type: ignore[assignment]
    return Signer(
        name=name_attribute(certificate.subject, x509.NameOID.COMMON_NAME) or certificate.subject.rfc4514_string(),
        organisation=name_attribute(certificate.subject, x509.NameOID.ORGANIZATION_NAME),
        kind=kind,
        certificate_serial=f"{certificate.serial_number:040x}",
        issuer=certificate.issuer.rfc4514_string(),
        registration_authority=registration_authority,
    )


def sign_document(
    runtime: Runtime,
    administration: Administration,
    data: bytes,
    *,
    filename: str | None,
    sign_as: SignAs,
    certificate_id: str | None,
    requested_format: RequestedFormat = "auto",
    placement: Placement = AUTO,
    language: Language | None = None,
    public_copy: bool = False,
) -> SignedDocument:
    """Sign `data` with one of the administration's own certificates, then notarise the signed output.

    A PDF is signed as PAdES, with the verification code, the verification page's URL and its QR code stamped
    in it before signing, where `placement` says and in `language` (by default the administration's); any other
    file (or a PDF with `requested_format="cades"`) gets a detached CAdES signature, which has no stamp. The
    signed output is notarised under that verification code, with its signer as checked here (public metadata for
    verification), and, with `public_copy`, kept for whoever holds the code to download.
    """
    if not data:
        raise InvalidInput("The file is empty; send the document to sign.", code="empty_file")
    if requested_format == "pades" and not is_pdf(data):
        raise _invalid("format", "pades signs PDFs only, and this file is not one; use cades or auto")
    certificate_id = certificate_id or _default_certificate(runtime, administration.id, sign_as)
    held = certificates.signing_identity(runtime, administration.id, certificate_id)
    if held.profile != sign_as:
        raise _invalid("as", f"certificate {held.certificate_id} is a {held.profile} certificate, not {sign_as}")
    identity = SigningIdentity(held.private_key, held.certificate, held.chain)
    document_hash = hashlib.sha256(data).hexdigest()
    with runtime.transaction() as session:
        code = notary.reserve_code(session)
    verification_url = f"{runtime.settings.api_url}/verify/{code.shown}"
    if requested_format == "pades" or (requested_format == "auto" and is_pdf(data)):
        try:
            output = sign_pdf(
                data,
                identity,
                verification_code=code.shown,
                verification_url=verification_url,
                language=language or stamp_language(administration),
                placement=placement,
            )
        except UnreadablePdf as exc:
            raise InvalidInput(str(exc), code="unreadable_pdf") from None
        except StampPlacementRefused as exc:
            raise Conflict(str(exc), code=exc.code) from None
    else:
        output = sign_detached(data, identity)
    signer = _signer_of(held, administration)
    filename_out = _output_filename(filename, output)
    with runtime.transaction() as session:
        # The signed output names its original's receipt when the administration notarised the original (or
        # another administration did, publicly): the bundle and the verification page lead from one to the other.
        original = notary.linkable_receipt(session, administration.id, document_hash)
        receipt = notary.notarise(
            session,
            administration.id,
            output.sha256,
            kind=KIND_SIGNED_PDF if output.format == "PAdES" else KIND_CMS_SIGNATURE,
            title=_title(filename),
            metadata={
                "format": output.format,
                "certificate_serial": held.certificate_id,
                "signed_document_sha256": document_hash,
            },
            code=code,
            derived_from=[original] if original is not None else [],
            # What was checked above: the certificate is the administration's own, valid and not revoked.
            signers=[
                notary.PublicSigner(
                    name=signer.name,
                    signed_at=output.signing_time,
                    issuer=signer.issuer,
                    organisation=signer.organisation,
                    kind=signer.kind,
                )
            ],
            public_copy=(
                notary.PublicCopy(output.content, file_name=filename_out, media_type=output.media_type)
                if public_copy
                else None
            ),
        )
    return SignedDocument(
        format=output.format,
        filename=filename_out,
        media_type=output.media_type,
        content=base64.b64encode(output.content).decode(),
        document_hash=document_hash,
        signed_hash=output.sha256,
        verification_code=receipt.verification_code,
        verification_url=verification_url,
        signer=signer,
        signing_time=output.signing_time,
        receipt=receipt,
    )


# --- validation ---------------------------------------------------------------------------------------------------


def _fetch_crl(certificate: x509.Certificate) -> bytes:
    """The CRL at the first reachable HTTP(S) distribution point `certificate` names."""
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        raise RevocationUnavailable("its certificate names no CRL distribution point") from None
    urls = [
        name.value
        for point in points
        for name in point.full_name or []
        if isinstance(name, x509.UniformResourceIdentifier) and name.value.lower().startswith(("http://", "https://"))
    ]
    for url in urls:
        try:
            with (
                httpx.Client(timeout=CRL_FETCH_TIMEOUT_S, follow_redirects=False) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    continue
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_CRL_BYTES:
                        break
                else:
                    return bytes(body)
        except httpx.HTTPError:
            continue
    raise RevocationUnavailable(f"no CRL could be fetched from {', '.join(urls) or 'its distribution points'}")


def trust_context(runtime: Runtime, anchored_roots: AnchoredRoots) -> TrustContext:
    """Validation as this deployment sees it: its root CA trusted, its CRLs, its notary's anchors."""
    authorities = certificates.certificate_authorities(runtime)

    def crl_of(certificate: x509.Certificate, issuer: x509.Certificate) -> bytes:
        if issuer == authorities.issuing.certificate:
            return certificates.current_crl(runtime, ca.ISSUING)
        if issuer == authorities.root.certificate:
            return certificates.current_crl(runtime, ca.ROOT)
        return _fetch_crl(certificate)

    def proof_of_existence(digests: Sequence[str]) -> ProofOfExistence | None:
        with runtime.transaction() as session:
            first = notary.first_anchoring(session, runtime, anchored_roots, digests)
        if first is None:
            return None
        return ProofOfExistence(
            verification_code=first.verification_code,
            anchored_at=first.anchored_at,
            block_number=first.block_number,
            transaction_hash=first.transaction_hash or "",
        )

    def kind_of(certificate: x509.Certificate) -> SignerKind | None:
        if certificate.issuer != authorities.issuing.certificate.subject:
            return None
        with runtime.transaction() as session:
            record = _issued(session, certificate)
            profile = record.profile if record is not None else None
        return profile if profile in ("employee", "seal", "citizen") else None  # type: ignore[return-value]

    def registration_authority_of(certificate: x509.Certificate) -> RegistrationAuthority | None:
        # Only this CA's word counts: anyone can put the extension in a certificate of their own making.
        try:
            certificate.verify_directly_issued_by(authorities.issuing.certificate)
        except (ValueError, TypeError, InvalidSignature):
            return None
        named = _registration_authority_named(certificate)
        if named is not None:
            return named
        # Issued here before certificates named their registration authority: the administration that asked.
        with runtime.transaction() as session:
            record = _issued(session, certificate)
            if record is None:
                return None
            administration = session.get(Administration, record.administration_id)
            assert administration is not None
            registration = certificates.registration(record, administration)
        return RegistrationAuthority(code=registration.code, name=registration.name)

    return TrustContext(
        trust_anchors=[authorities.root.certificate],
        known_certificates=[authorities.issuing.certificate],
        crl_of=crl_of,
        proof_of_existence=proof_of_existence,
        kind_of=kind_of,
        registration_authority_of=registration_authority_of,
    )


def _issued(session: Session, certificate: x509.Certificate) -> IssuedCertificate | None:
    record = session.get(IssuedCertificate, f"{certificate.serial_number:040x}")
    if record is None or record.fingerprint != certificate.fingerprint(hashes.SHA256()).hex():
        return None
    return record


def validate_upload(
    runtime: Runtime, anchored_roots: AnchoredRoots, data: bytes, signature: bytes | None
) -> ValidationReport:
    """Validate an upload as `POST /v1/signatures/validate` receives it; bad input is `InvalidInput` (400)."""
    if not data:
        raise InvalidInput(
            "The file is empty; send the signed document (or the file a signature is of).", code="empty_file"
        )
    if signature is not None and not signature.strip():
        # An empty part is none at all, as an empty form field is: the file is validated on its own.
        signature = None
    try:
        return validate(data, signature, trust_context(runtime, anchored_roots))
    except UnreadableInput as exc:
        raise InvalidInput(str(exc), code=exc.code) from None
