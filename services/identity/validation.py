"""Signature validation with the indications of ETSI EN 319 102-1: a signed PDF (PAdES), or a file and its
detached CMS signature (CAdES).

Each signature goes through these checks, and the first that does not pass decides its result:

    1. integrity        the signed bytes' digest and the signature value     TOTAL_FAILED / HASH_FAILURE,
                                                                              SIG_CRYPTO_FAILURE, FORMAT_FAILURE
    2. chain            a path from the signing certificate to a trust       INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND
                        anchor (the deployment's root CA), signatures checked
    3. key usage        the signing certificate may sign documents           INDETERMINATE / SIG_CONSTRAINTS_FAILURE
    4. validity         every certificate of the path is valid now, or was   INDETERMINATE / OUT_OF_BOUNDS_NO_POE,
                        when the signature is proven to have existed           NOT_YET_VALID
    5. revocation       each certificate against its issuer's CRL (signed    INDETERMINATE / TRY_LATER when no fresh
                        by that issuer, not past its nextUpdate)              CRL can be had
    6. revoked?         signed (by its own signing time) after the           TOTAL_FAILED / REVOKED
                        revocation; proven to exist before it: passes;       INDETERMINATE / REVOKED_NO_POE
                        otherwise

Proof of existence (POE) is the notary's: the signed output (the signed PDF revision, or the CMS signature) is
looked up by its SHA-256, and the time of the block that anchored it on chain is the time the signature is
proven to have existed. A signer's own signing time is reported, never trusted as proof.
"""

import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast, get_args

from asn1crypto import cms, pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID

from segell.services.identity.signature_schemas import (
    Indication,
    ProofOfExistence,
    ReasonDetails,
    RegistrationAuthority,
    SignatureFormat,
    SignatureReason,
    SignatureReport,
    Signer,
    SignerKind,
    SubIndication,
    ValidationReport,
)
from segell.services.identity.signing import is_pdf, name_attribute

# pyHanko loads at the first validation, not with the application (as in `signing`).
if TYPE_CHECKING:
    from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

MAX_PATH_LENGTH = 6
_SEVERITY: dict[Indication, int] = {"TOTAL_PASSED": 0, "INDETERMINATE": 1, "TOTAL_FAILED": 2}


class UnreadableInput(ValueError):
    """The upload cannot be read as what it claims to be. `code` names the problem for the API."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class RevocationUnavailable(Exception):
    """No fresh, authentic revocation information could be had for a certificate."""


@dataclass(frozen=True)
class RevocationEntry:
    revoked_at: datetime
    reason: str | None


@dataclass(frozen=True)
class TrustContext:
    """What validation relies on besides the signature itself.

    `crl_of(certificate, issuer)` returns the DER (or PEM) CRL that covers `certificate`, or raises
    `RevocationUnavailable`; it is checked here (issuer, signature, freshness). `proof_of_existence(hashes)`
    answers the earliest anchoring of any of these SHA-256 hashes; `kind_of(certificate)` the profile of a
    certificate the deployment's CA issued; `registration_authority_of(certificate)` the administration that acted
    as registration authority for a certificate the deployment's CA issued.
    """

    trust_anchors: Sequence[x509.Certificate]
    known_certificates: Sequence[x509.Certificate]
    crl_of: Callable[[x509.Certificate, x509.Certificate], bytes]
    proof_of_existence: Callable[[Sequence[str]], ProofOfExistence | None]
    kind_of: Callable[[x509.Certificate], SignerKind | None] = lambda _certificate: None
    registration_authority_of: Callable[[x509.Certificate], RegistrationAuthority | None] = lambda _certificate: None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class _Signature:
    """One signature as found in the upload, before any judgement."""

    format: SignatureFormat
    signer_info: cms.SignerInfo
    certificates: list[asn1_x509.Certificate]
    digest: bytes  # of the signed content, with the signature's digest algorithm
    signed_output_hashes: list[str]
    claimed_time: datetime | None
    modified_after_signing: bool = False


@dataclass(frozen=True)
class _Verdict:
    indication: Indication
    sub_indication: SubIndication | None
    message: str
    reason: SignatureReason
    details: ReasonDetails = field(default_factory=ReasonDetails)


def _passed(message: str, reason: SignatureReason, details: ReasonDetails) -> _Verdict:
    return _Verdict("TOTAL_PASSED", None, message, reason, details)


# --- reading the upload -------------------------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _pades_signatures(pdf: bytes) -> list[_Signature]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        return [_pades_signature(pdf, signature) for signature in reader.embedded_regular_signatures]
    except Exception as exc:  # noqa: BLE001
        # A damaged PDF makes the parser raise nearly anything (zlib errors, NotImplementedError for unknown
        # filters, ValueError, ...): whatever it is, the upload is unreadable, not a server error.
        raise UnreadableInput(
            f"The file looks like a PDF but cannot be read ({exc}); send the PDF as it was signed.",
            code="unreadable_pdf",
        ) from exc


def _pades_signature(pdf: bytes, embedded: "EmbeddedPdfSignature") -> _Signature:
    signed_data = embedded.signed_data
    modified = False
    try:
        embedded.compute_integrity_info()
        modified = embedded.summarise_integrity_info()["docmdp_ok"] is False
    except Exception:  # noqa: BLE001  (diff analysis of a damaged update: the PDF was changed after signing)
        modified = True
    digest = embedded.compute_digest()
    byte_range = embedded.byte_range
    revision_end = int(byte_range[2]) + int(byte_range[3])
    # The notary holds the signed output as it was produced: the file up to the end of the signed revision.
    hashes = list(dict.fromkeys([_sha256(pdf[:revision_end]), _sha256(pdf)]))
    return _Signature(
        format="PAdES",
        signer_info=embedded.signer_info,
        certificates=_certificates(signed_data),
        digest=digest,
        signed_output_hashes=hashes,
        claimed_time=embedded.self_reported_timestamp,
        modified_after_signing=modified,
    )


def _certificates(signed_data: cms.SignedData) -> list[asn1_x509.Certificate]:
    if signed_data["certificates"].native is None:
        return []
    return [choice.chosen for choice in signed_data["certificates"] if choice.name == "certificate"]


def _load_cms(signature: bytes) -> tuple[cms.ContentInfo, bytes]:
    """The CMS object and its DER bytes, from DER or PEM."""
    der = signature
    stripped = signature.strip()
    if pem.detect(stripped):
        try:
            _, _, der = pem.unarmor(stripped)
        except ValueError as exc:
            raise _unreadable_signature(f"its PEM armour is broken ({exc})") from exc
    try:
        content_info = cms.ContentInfo.load(der, strict=True)
        if content_info["content_type"].native != "signed_data":
            raise ValueError(f"it is CMS {content_info['content_type'].native}, not signed-data")
        signed_data = content_info["content"]
        # Parse everything now rather than halfway through validation.
        _ = (signed_data["signer_infos"].native, signed_data["certificates"].native)
    except (ValueError, TypeError, KeyError) as exc:
        raise _unreadable_signature(str(exc)) from exc
    if len(signed_data["signer_infos"]) == 0:
        raise _unreadable_signature("it holds no signer")
    return content_info, der


def _unreadable_signature(problem: str) -> UnreadableInput:
    return UnreadableInput(
        f"The signature cannot be read: {problem}. Send a detached CMS (CAdES) signature, DER or PEM.",
        code="invalid_signature",
    )


def _cades_signatures(data: bytes, signature: bytes) -> list[_Signature]:
    from pyhanko.sign.validation.generic_cms import extract_self_reported_ts

    content_info, der = _load_cms(signature)
    signed_data = content_info["content"]
    hashes = list(dict.fromkeys([_sha256(signature), _sha256(der)]))
    found = []
    for signer_info in signed_data["signer_infos"]:
        algorithm = signer_info["digest_algorithm"]["algorithm"].native
        try:
            digest = hashlib.new(algorithm, data).digest()
        except (ValueError, TypeError) as exc:
            raise _unreadable_signature(f"it uses the digest algorithm {algorithm}, which is not supported") from exc
        found.append(
            _Signature(
                format="CAdES",
                signer_info=signer_info,
                certificates=_certificates(signed_data),
                digest=digest,
                signed_output_hashes=hashes,
                claimed_time=extract_self_reported_ts(signer_info),
            )
        )
    return found


# --- judging one signature ----------------------------------------------------------------------------------------


def _signer_certificate(signature: _Signature) -> asn1_x509.Certificate | None:
    sid = signature.signer_info["sid"]
    for certificate in signature.certificates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if certificate.issuer == wanted["issuer"] and certificate.serial_number == wanted["serial_number"].native:
                return certificate
        elif certificate.key_identifier == sid.chosen.native:
            return certificate
    return None


def _to_cryptography(certificate: asn1_x509.Certificate) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(certificate.dump())
    except ValueError:
        return None


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    try:
        constraints = issuer.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca


def build_path(
    certificate: x509.Certificate, pool: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate]
) -> list[x509.Certificate] | None:
    """The path from `certificate` up to one of `anchors` (included), or None when there is none."""
    path = [certificate]
    for _ in range(MAX_PATH_LENGTH):
        current = path[-1]
        if current in anchors:
            return path
        for candidate in [*anchors, *pool]:
            if candidate not in path and _issued_by(current, candidate):
                path.append(candidate)
                break
        else:
            return None
    return path if path[-1] in anchors else None


def _may_sign(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.digital_signature or usage.content_commitment


def revocation_entry(
    certificate: x509.Certificate, issuer: x509.Certificate, crl_bytes: bytes, now: datetime
) -> RevocationEntry | None:
    """What `issuer`'s CRL says of `certificate`; `RevocationUnavailable` unless the CRL is authentic and fresh."""
    try:
        if pem.detect(crl_bytes):
            crl = x509.load_pem_x509_crl(crl_bytes)
        else:
            crl = x509.load_der_x509_crl(crl_bytes)
    except ValueError as exc:
        raise RevocationUnavailable(f"the CRL of {_describe(issuer)} cannot be read") from exc
    if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        raise RevocationUnavailable(f"the CRL offered for {_describe(issuer)} is not signed by it")
    next_update = crl.next_update_utc
    if next_update is None or next_update < now:
        raise RevocationUnavailable(f"the latest CRL of {_describe(issuer)} is out of date")
    entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
    if entry is None:
        return None
    reason = None
    try:
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
    except x509.ExtensionNotFound:
        pass
    return RevocationEntry(entry.revocation_date_utc, reason)


def _describe(certificate: x509.Certificate) -> str:
    return name_attribute(certificate.subject, NameOID.COMMON_NAME) or certificate.subject.rfc4514_string()


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _signer(certificate: x509.Certificate, context: TrustContext) -> Signer:
    subject = certificate.subject
    return Signer(
        name=name_attribute(subject, NameOID.COMMON_NAME) or subject.rfc4514_string(),
        organisation=name_attribute(subject, NameOID.ORGANIZATION_NAME),
        kind=context.kind_of(certificate),
        certificate_serial=f"{certificate.serial_number:040x}",
        issuer=certificate.issuer.rfc4514_string(),
        registration_authority=context.registration_authority_of(certificate),
    )


def _integrity(signature: _Signature, certificate: asn1_x509.Certificate) -> _Verdict | None:
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.generic_cms import validate_sig_integrity

    try:
        intact, valid = validate_sig_integrity(signature.signer_info, certificate, "data", signature.digest)
    except SignatureValidationError as exc:
        name = str(getattr(exc.ades_subindication, "name", "GENERIC"))
        sub = cast(SubIndication, name if name in _KNOWN_SUBS else "GENERIC")
        indication: Indication = "TOTAL_FAILED" if name in _FAILED_SUBS else "INDETERMINATE"
        return _Verdict(
            indication,
            sub,
            f"The signature is malformed: {exc.failure_message}",
            "signature_malformed",
            ReasonDetails(problem=str(exc.failure_message)),
        )
    except Exception as exc:  # noqa: BLE001  (a damaged signature makes the CMS decoder raise anything)
        return _Verdict(
            "TOTAL_FAILED",
            "FORMAT_FAILURE",
            f"The signature cannot be decoded: {exc}",
            "signature_undecodable",
            ReasonDetails(problem=str(exc)),
        )
    if not intact:
        what = "document" if signature.format == "PAdES" else "file"
        return _Verdict(
            "TOTAL_FAILED",
            "HASH_FAILURE",
            f"The {what} was changed after it was signed: its digest is not the one the signature covers.",
            "changed_after_signing",
        )
    if not valid:
        return _Verdict(
            "TOTAL_FAILED",
            "SIG_CRYPTO_FAILURE",
            "The signature value does not verify with the signer's public key.",
            "signature_value_wrong",
        )
    if signature.modified_after_signing:
        return _Verdict(
            "TOTAL_FAILED",
            "HASH_FAILURE",
            "The PDF was changed after it was signed, in a way a signed PDF may not be changed.",
            "pdf_changed_after_signing",
        )
    return None


_FAILED_SUBS = frozenset({"FORMAT_FAILURE", "HASH_FAILURE", "SIG_CRYPTO_FAILURE", "REVOKED", "EXPIRED"})
_KNOWN_SUBS = frozenset(get_args(SubIndication))


def _judge_certificates(
    path: list[x509.Certificate], claimed: datetime | None, proof: ProofOfExistence | None, context: TrustContext
) -> _Verdict:
    """Checks 4 to 6 over a path whose signatures verified, the trust anchor last."""
    now = context.now
    signer = path[0]
    proven_at = proof.anchored_at if proof is not None else None
    # The signing certificate at the time the signature claims; the CAs above it now.
    for certificate, moment in ((signer, claimed or now), *((ca, now) for ca in path[1:-1])):
        if certificate.not_valid_before_utc > moment:
            return _Verdict(
                "INDETERMINATE",
                "NOT_YET_VALID",
                f"The certificate of {_describe(certificate)} was not yet valid when the signature says it was made "
                f"(valid from {_when(certificate.not_valid_before_utc)}).",
                "not_yet_valid",
                ReasonDetails(
                    certificate=_describe(certificate), valid_from=certificate.not_valid_before_utc, signed_at=claimed
                ),
            )
    expires = min(certificate.not_valid_after_utc for certificate in path)
    if expires < now and (proven_at is None or proven_at >= expires):
        return _Verdict(
            "INDETERMINATE",
            "OUT_OF_BOUNDS_NO_POE",
            f"The signing certificate's path expired on {_when(expires)}, and there is no proof that the signature "
            "existed before then (it was never notarised, or only later).",
            "expired_without_proof",
            ReasonDetails(expired_at=expires, proven_at=proven_at),
        )
    revocations: list[tuple[x509.Certificate, RevocationEntry]] = []
    for certificate, issuer in zip(path, path[1:], strict=False):
        try:
            entry = revocation_entry(certificate, issuer, context.crl_of(certificate, issuer), now)
        except RevocationUnavailable as exc:
            return _Verdict(
                "INDETERMINATE",
                "TRY_LATER",
                f"Whether the certificate of {_describe(certificate)} is revoked cannot be told now: {exc}. "
                "Validate again later.",
                "revocation_unknown",
                ReasonDetails(certificate=_describe(certificate), problem=str(exc)),
            )
        if entry is not None:
            revocations.append((certificate, entry))
    if revocations:
        certificate, entry = min(revocations, key=lambda item: item[1].revoked_at)
        revoked_at = entry.revoked_at
        reason = f" ({entry.reason})" if entry.reason else ""
        whose = "signing certificate" if certificate is signer else f"certificate of {_describe(certificate)}"
        revoked = ReasonDetails(
            certificate=_describe(certificate),
            revoked_at=revoked_at,
            revocation_reason=entry.reason,
            signed_at=claimed,
            proven_at=proven_at,
        )
        if claimed is not None and claimed >= revoked_at:
            return _Verdict(
                "TOTAL_FAILED",
                "REVOKED",
                f"The document was signed on {_when(claimed)}, after the {whose} was revoked on {_when(revoked_at)}"
                f"{reason}.",
                "signed_after_revocation",
                revoked,
            )
        if proven_at is not None and proven_at < revoked_at:
            return _passed(
                f"The signature is valid: the {whose} was revoked on {_when(revoked_at)}{reason}, but the notary "
                f"proves that the signature existed before, on {_when(proven_at)}.",
                "valid_revoked_later",
                revoked,
            )
        sub: SubIndication = "REVOKED_NO_POE" if certificate is signer else "REVOKED_CA_NO_POE"
        return _Verdict(
            "INDETERMINATE",
            sub,
            f"The {whose} was revoked on {_when(revoked_at)}{reason}, and there is no proof that the signature "
            "existed before then.",
            "revoked_without_proof",
            revoked,
        )
    if expires < now:
        assert proven_at is not None
        return _passed(
            f"The signature is valid: its certificate expired on {_when(expires)}, but the notary proves that the "
            f"signature existed before, on {_when(proven_at)}.",
            "valid_expired_later",
            ReasonDetails(expired_at=expires, proven_at=proven_at),
        )
    return _passed(
        f"The signature is valid: signed by {_describe(signer)}, with a certificate in good standing.",
        "valid",
        ReasonDetails(certificate=_describe(signer)),
    )


def _judge(signature: _Signature, context: TrustContext) -> SignatureReport:
    proof = context.proof_of_existence(signature.signed_output_hashes)

    def report(verdict: _Verdict, signer: Signer | None) -> SignatureReport:
        return SignatureReport(
            format=signature.format,
            indication=verdict.indication,
            sub_indication=verdict.sub_indication,
            message=verdict.message,
            reason=verdict.reason,
            reason_details=verdict.details,
            signer=signer,
            signing_time=signature.claimed_time,
            proof_of_existence=proof,
        )

    signer_certificate = _signer_certificate(signature)
    certificate = _to_cryptography(signer_certificate) if signer_certificate is not None else None
    if signer_certificate is None or certificate is None:
        verdict = _Verdict(
            "INDETERMINATE",
            "NO_SIGNING_CERTIFICATE_FOUND",
            "The signature does not carry the certificate it was made with.",
            "no_signing_certificate",
        )
        return report(verdict, None)
    signer = _signer(certificate, context)
    failed = _integrity(signature, signer_certificate)
    if failed is not None:
        return report(failed, signer)
    pool = [c for c in (_to_cryptography(c) for c in signature.certificates) if c is not None]
    path = build_path(certificate, [*pool, *context.known_certificates], context.trust_anchors)
    if path is None:
        verdict = _Verdict(
            "INDETERMINATE",
            "NO_CERTIFICATE_CHAIN_FOUND",
            f"The signing certificate (issued by {certificate.issuer.rfc4514_string()}) does not lead to a "
            "certificate authority this service trusts.",
            "untrusted_certificate",
            ReasonDetails(certificate=_describe(certificate), issuer=certificate.issuer.rfc4514_string()),
        )
        return report(verdict, signer)
    if not _may_sign(certificate):
        verdict = _Verdict(
            "INDETERMINATE",
            "SIG_CONSTRAINTS_FAILURE",
            "The signing certificate is not meant for signing.",
            "not_for_signing",
            ReasonDetails(certificate=_describe(certificate)),
        )
        return report(verdict, signer)
    return report(_judge_certificates(path, signature.claimed_time, proof, context), signer)


# --- the report ---------------------------------------------------------------------------------------------------


def validate(data: bytes, signature: bytes | None, context: TrustContext) -> ValidationReport:
    """Validate the signatures of `data`: those in it (a PDF), or the detached CMS `signature` of it.

    Raises `UnreadableInput` for a signature that is not CMS signed-data, or a PDF that cannot be parsed.
    """
    if signature is not None:
        found = _cades_signatures(data, signature)
    elif is_pdf(data):
        found = _pades_signatures(data)
    else:
        found = []
    reports = [_judge(signature, context) for signature in found]
    worst = max(reports, key=lambda r: _SEVERITY[r.indication], default=None)
    return ValidationReport(
        document_hash=_sha256(data),
        signed=bool(reports),
        indication=worst.indication if worst else None,
        sub_indication=worst.sub_indication if worst else None,
        signatures=reports,
    )
