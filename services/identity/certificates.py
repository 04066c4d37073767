"""Rules of the certificate authority: issuing, revoking, the CRLs, status and the public certificate log.

Profiles (every one: ECDSA or RSA key, basicConstraints CA:FALSE, SKI/AKI, the issuing CRL's URL, caIssuers):

    employee  CN=<name>, O=<administration>, organizationIdentifier=<code>   digitalSignature, nonRepudiation;
              emailProtection, clientAuth, documentSigning (Microsoft and RFC 9336)
    seal      CN=<seal name>, O=<administration>, organizationIdentifier=<code>   as employee, without clientAuth
    citizen   CN=<name>   digitalSignature, nonRepudiation; emailProtection, clientAuth, documentSigning

Every certificate names the administration that acted as registration authority (`registration.py`). A citizen
certificate needs the citizen: a token from the citizen's login with that administration, whose pseudonym the
certificate names; the first one binds the pseudonym to the national id asked for, and later ones must agree.

Every certificate is notarised (kind ``certificate``, the SHA-256 of its DER) before it is stored or handed out,
as a Certificate Transparency log logs a certificate before it is used; every revocation is notarised too (kind
``certificate-revocation``, the SHA-256 of a canonical JSON record anyone can rebuild from the log entry).

Other services use `signing_identity` (sign on a holder's behalf with a key held here), `revocation_status`,
`certificate_authorities` and `current_crl`.
"""

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, Encoding, pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from segell.chain.keys import KeySealError
from segell.services.administrations.api import Administration
from segell.services.citizen_auth.api import Clock, InvalidToken, system_clock, verify_token
from segell.services.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    SegellError,
    Unauthenticated,
    ValidationFailed,
)
from segell.services.identity import ca, repository
from segell.services.identity.ca import CertificateAuthorities, CertificateAuthority
from segell.services.identity.models import CertificateAuthorityRecord, IssuedCertificate
from segell.services.identity.registration import Registration, registration_extension, registration_of
from segell.services.notary import api as notary
from segell.services.notary.api import ProofBundle, Receipt
from segell.services.runtime import Runtime

Profile = Literal["employee", "seal", "citizen"]
PROFILES: tuple[Profile, ...] = ("employee", "seal", "citizen")
# RFC 5280 5.3.1 reasons that make sense for an end-entity certificate revoked for good.
RevocationReason = Literal[
    "unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation", "privilegeWithdrawn"
]
REVOCATION_REASONS: tuple[RevocationReason, ...] = (
    "unspecified",
    "keyCompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "privilegeWithdrawn",
)
KIND_CERTIFICATE = "certificate"
KIND_REVOCATION = "certificate-revocation"

DEFAULT_VALIDITY_DAYS = 730
MAX_VALIDITY_DAYS = 1825
MIN_PASSPHRASE_LENGTH = 8
MIN_RSA_BITS = 2048
ACCEPTED_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)

# Document signing: Microsoft's OID, still what most PDF readers look for, and RFC 9336 id-kp-documentSigning.
MS_DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.4.1.311.10.3.12")
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
_EXTENDED_KEY_USAGES: dict[str, list[ObjectIdentifier]] = {
    "employee": [
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        ExtendedKeyUsageOID.CLIENT_AUTH,
        MS_DOCUMENT_SIGNING,
        DOCUMENT_SIGNING,
    ],
    "seal": [ExtendedKeyUsageOID.EMAIL_PROTECTION, MS_DOCUMENT_SIGNING, DOCUMENT_SIGNING],
    "citizen": [ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH, DOCUMENT_SIGNING],
}
# RFC 4514 names of the subject attributes that have none in cryptography's table.
_ATTRIBUTE_NAMES = {NameOID.TITLE: "title", NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier"}
# Whose keys the server keeps to sign on the holder's behalf: an administration's employees and seal.
_KEY_HELD_FOR = ("employee", "seal")


# --- what other services use ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningIdentity:
    """A held key and its certificate, to sign on the holder's behalf. `chain` is [issuing CA, root CA]."""

    certificate_id: str
    profile: str
    private_key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    chain: list[x509.Certificate]


class RevocationStatus(NamedTuple):
    revoked_at: datetime
    reason: str


def certificate_authorities(runtime: Runtime) -> CertificateAuthorities:
    """The deployment's root and issuing CAs (created on first use if the start did not create them)."""
    return ca.ensure_certificate_authorities(runtime)


def signing_identity(runtime: Runtime, administration_id: int, certificate_id: str) -> SigningIdentity:
    """The key and certificate to sign with for `administration_id`.

    `NotFound` (404) when the certificate does not exist or belongs to another administration; `Conflict` (409)
    with code `certificate_revoked`, `certificate_expired`, `certificate_not_yet_valid` or `key_not_held` (issued
    from a CSR, or a citizen's certificate: the server has no key to sign with).
    """
    authorities = certificate_authorities(runtime)
    with runtime.transaction() as session:
        record = _owned(session, administration_id, certificate_id)
    if record.revoked_at is not None:
        raise Conflict(
            f"Certificate {record.id} was revoked ({record.revocation_reason}) on {record.revoked_at:%Y-%m-%d}; "
            "issue a new one to sign with.",
            code="certificate_revoked",
        )
    now = datetime.now(UTC)
    if record.not_after < now:
        raise Conflict(
            f"Certificate {record.id} expired on {record.not_after:%Y-%m-%d}; issue a new one to sign with.",
            code="certificate_expired",
        )
    if record.not_before > now:
        raise Conflict(
            f"Certificate {record.id} is valid only from {record.not_before.isoformat()}.",
            code="certificate_not_yet_valid",
        )
    if record.sealed_key is None:
        raise Conflict(
            f"Certificate {record.id} was issued from a CSR or to a citizen: its private key is not held here, so "
            "the server cannot sign with it. Sign with the key yourself, or use an employee or seal certificate "
            "issued without a CSR.",
            code="key_not_held",
        )
    try:
        private_key = ca.open_key(record.sealed_key, runtime.master_key, label=_key_label(record.id))
    except KeySealError as exc:
        raise SegellError(f"The key of certificate {record.id} does not open: {exc}") from exc
    return SigningIdentity(
        certificate_id=record.id,
        profile=record.profile,
        private_key=private_key,
        certificate=x509.load_der_x509_certificate(record.certificate_der),
        chain=authorities.chain,
    )


def revocation_status(session: Session, serial: int | str) -> RevocationStatus | None:
    """(revoked_at, reason) of a certificate this CA revoked; None when it is not revoked or not known here."""
    try:
        certificate_id = normalise_serial(serial)
    except ValueError:
        return None
    record = session.get(IssuedCertificate, certificate_id)
    if record is None or record.revoked_at is None or record.revocation_reason is None:
        return None
    return RevocationStatus(record.revoked_at, record.revocation_reason)


def current_crl(runtime: Runtime, role: str = ca.ISSUING) -> bytes:
    """The DER CRL of the issuing (or root) CA, issued again first if less than a day of its validity is left."""
    authorities = certificate_authorities(runtime)
    with runtime.transaction() as session:
        record = session.get(CertificateAuthorityRecord, role)
        if record is None:
            raise NotFound(f"No {role} CA.")
        fresh = record.crl_next_update is not None and record.crl_next_update - datetime.now(UTC) > (
            ca.CRL_REFRESH_BEFORE
        )
        if fresh and record.crl_der is not None:
            return record.crl_der
    authority = authorities.root if role == ca.ROOT else authorities.issuing
    with runtime.transaction() as session:
        return _reissue_crl(session, authority)


# --- serials ------------------------------------------------------------------------------------------------------


def new_serial() -> int:
    """159 random bits with the top one set: always 20 bytes in DER, 40 hex digits, positive (RFC 5280 4.1.2.2)."""
    return secrets.randbits(159) | (1 << 158)


def serial_id(serial: int) -> str:
    return f"{serial:040x}"


class UnissuableSerial(ValueError):
    """A serial number, but not one of the positive 160-bit serials this CA draws: no certificate has it."""


def normalise_serial(serial: int | str) -> str:
    """A serial as 40 lower-case hex digits; accepts an int or hex with optional 0x, colons or leading zeros."""
    if isinstance(serial, int):
        value = serial
    else:
        text = serial.strip().lower().removeprefix("0x").replace(":", "")
        if not text or len(text) > 64 or any(c not in "0123456789abcdef" for c in text):
            raise ValueError(f"{serial!r} is not a hexadecimal serial number")
        value = int(text, 16)
    if not 0 < value < 1 << 160:
        raise UnissuableSerial(f"{serial!r} is not a serial number this CA issues")
    return serial_id(value)


# --- issuing ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueRequest:
    profile: Profile
    name: str | None = None
    national_id: str | None = None
    email: str | None = None
    position: str | None = None
    csr_pem: str | None = None
    passphrase: str | None = None
    validity_days: int = DEFAULT_VALIDITY_DAYS
    # The citizen profile only: the token of the citizen's login with the issuing administration.
    citizen_token: str | None = None
    # Python callers only (tests of expired and not yet valid certificates): an explicit validity period.
    valid_from: datetime | None = None
    valid_until: datetime | None = None


@dataclass(frozen=True)
class Issued:
    record: IssuedCertificate
    receipt: Receipt
    pkcs12: bytes | None  # only when the key was generated here: shown once
    passphrase: str | None  # only when generated here: shown once


def issue_certificate(
    runtime: Runtime, administration: Administration, request: IssueRequest, *, clock: Clock = system_clock
) -> Issued:
    """Issue a certificate for `administration`, log it with the notary, and store it.

    A citizen certificate needs `request.citizen_token`: `Unauthenticated` (401) without it or for a token that
    does not verify or expired (checked at `clock()`), `Forbidden` (403) for a token of another administration's
    login or of a citizen bound to another national id.
    """
    _check_request(request)
    citizen_id = None
    if request.profile == "citizen":
        citizen_id = _verified_citizen(runtime, administration, request.citizen_token, clock())
    authorities = certificate_authorities(runtime)
    csr_key = _public_key_from_csr(request.csr_pem) if request.csr_pem is not None else None
    not_before, not_after = _validity(request, authorities.issuing)
    if citizen_id is not None:
        assert request.national_id is not None
        # Only once the request is known to be good: a refused request binds no one.
        _bind_citizen(runtime, administration, citizen_id, request.national_id)
    if csr_key is not None:
        public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey = csr_key
        private_key = None
    else:
        private_key = ca.new_private_key()
        public_key = private_key.public_key()
    serial = new_serial()
    certificate_id = serial_id(serial)
    certificate = _build_certificate(
        authorities.issuing,
        serial=serial,
        subject=_subject(request, administration),
        public_key=public_key,
        profile=request.profile,
        email=request.email,
        not_before=not_before,
        not_after=not_after,
        api_url=runtime.settings.api_url,
        registration=Registration(administration.code, administration.name, citizen_id),
    )
    der = certificate.public_bytes(Encoding.DER)
    fingerprint = hashlib.sha256(der).hexdigest()
    national_salt = national_hash = None
    if request.national_id is not None:
        national_salt = secrets.token_hex(16)
        national_hash = hash_national_id(request.national_id, national_salt)
    keep_key = private_key is not None and request.profile in _KEY_HELD_FOR
    record = IssuedCertificate(
        id=certificate_id,
        administration_id=administration.id,
        profile=request.profile,
        subject=certificate.subject.rfc4514_string(_ATTRIBUTE_NAMES),
        common_name=_common_name(request, administration),
        email=request.email,
        national_id_salt=national_salt,
        national_id_hash=national_hash,
        citizen_id=citizen_id,
        key_origin="server" if private_key is not None else "csr",
        key_algorithm=_key_algorithm(public_key),
        sealed_key=(
            ca.seal_key(private_key, runtime.master_key, label=_key_label(certificate_id))
            if keep_key and private_key is not None
            else None
        ),
        certificate_der=der,
        fingerprint=fingerprint,
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        created_at=datetime.now(UTC),
    )
    with runtime.transaction() as session:
        # Logged with the notary in the transaction that stores it: a certificate is stored and logged, or neither.
        receipt = notary.notarise(
            session,
            administration.id,
            fingerprint,
            kind=KIND_CERTIFICATE,
            title=f"{request.profile} certificate {certificate_id}",
            metadata={
                "serial": certificate_id,
                "profile": request.profile,
                "issuer": authorities.issuing.certificate.subject.rfc4514_string(),
            },
        )
        record.log_document_id = receipt.id
        session.add(record)
    bundle = passphrase = None
    if private_key is not None:
        passphrase = request.passphrase or _new_passphrase()
        bundle = pkcs12.serialize_key_and_certificates(
            name=record.common_name.encode(),
            key=private_key,
            cert=certificate,
            cas=authorities.chain,
            encryption_algorithm=BestAvailableEncryption(passphrase.encode()),
        )
    return Issued(
        record=record,
        receipt=receipt,
        pkcs12=bundle,
        passphrase=passphrase if request.passphrase is None else None,
    )


def hash_national_id(national_id: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{_normalised_national_id(national_id)}".encode()).hexdigest()


def _normalised_national_id(national_id: str) -> str:
    return "".join(national_id.split()).upper()


def national_id_key(master_key: bytes, administration_id: int, national_id: str) -> str:
    """A keyed hash of a national id, the same every time: national ids are guessable, the master key is not."""
    key = hmac.new(master_key, b"segell.identity.national-id", hashlib.sha256).digest()
    message = f"{administration_id}\x00{_normalised_national_id(national_id)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


_LOG_IN_FIRST = (
    "The citizen logs in with this administration (`POST /v1/auth/otp/verify` or `POST /v1/auth/totp/verify`), "
    "and the token that login returns is sent as `citizen_token`."
)


def _verified_citizen(runtime: Runtime, administration: Administration, token: str | None, now: datetime) -> str:
    """The pseudonym of the citizen whose token this is, for a login with `administration`."""
    if token is None:
        raise Unauthenticated(
            f"A citizen certificate is issued only with the citizen's consent. {_LOG_IN_FIRST}",
            code="citizen_token_required",
        )
    with runtime.transaction() as session:
        try:
            claims = verify_token(session, token, issuer=runtime.settings.api_url, now=now)
        except InvalidToken as exc:
            raise Unauthenticated(f"The citizen token was refused: {exc.message}", code=exc.code) from None
    if claims.audience != administration.code:
        raise Forbidden(
            f"The citizen token is from a login with {claims.audience}, not with {administration.code}. "
            + _LOG_IN_FIRST,
            code="citizen_of_another_administration",
        )
    return claims.citizen_id


def _bind_citizen(runtime: Runtime, administration: Administration, citizen_id: str, national_id: str) -> None:
    """Bind the citizen to the national id on their first certificate; refuse a token that disagrees with it."""
    key = national_id_key(runtime.master_key, administration.id, national_id)
    for _attempt in range(2):
        try:
            with runtime.transaction() as session:
                holder = repository.holder_by_citizen(session, administration.id, citizen_id)
                if holder is not None:
                    if not hmac.compare_digest(holder.national_id_key, key):
                        raise Forbidden(
                            "The citizen token is of a citizen whose certificates name another national id: the "
                            "holder of this national id must log in and consent. " + _LOG_IN_FIRST,
                            code="citizen_mismatch",
                        )
                    return
                if repository.holder_by_national_id(session, administration.id, key) is not None:
                    raise Forbidden(
                        "This national id belongs to another citizen of this administration, who logged in for "
                        "an earlier certificate: that citizen must log in and consent. " + _LOG_IN_FIRST,
                        code="citizen_mismatch",
                    )
                repository.add_holder(
                    session,
                    administration_id=administration.id,
                    citizen_id=citizen_id,
                    national_id_key=key,
                    now=datetime.now(UTC),
                )
                return
        except IntegrityError:
            continue  # bound at the same moment by another request: check again against that binding
    raise Conflict("The citizen was being bound by another request at the same time; try again.")


def _new_passphrase() -> str:
    return secrets.token_urlsafe(18)


def _key_label(certificate_id: str) -> str:
    return f"segell.certificate.{certificate_id}"


def _invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(
        f"Invalid request. body.{field}: {problem}.", details=[{"location": f"body.{field}", "message": problem}]
    )


def _check_request(request: IssueRequest) -> None:
    if request.profile not in PROFILES:
        raise _invalid("profile", f"must be one of {', '.join(PROFILES)}")
    if request.profile in ("employee", "citizen"):
        if not request.name:
            raise _invalid("name", f"the holder's full name is required for the {request.profile} profile")
        if not request.national_id:
            raise _invalid("national_id", f"the holder's national id is required for the {request.profile} profile")
    elif request.national_id is not None:
        raise _invalid("national_id", "a seal belongs to the administration: send no national id")
    if request.citizen_token is not None and request.profile != "citizen":
        raise _invalid("citizen_token", "only a citizen certificate is issued with a citizen token")
    if request.position is not None and request.profile != "employee":
        raise _invalid("position", "only an employee certificate names a position")
    if request.csr_pem is not None and request.passphrase is not None:
        raise _invalid("passphrase", "a certificate from a CSR comes without a PKCS#12 file: send no passphrase")
    if request.passphrase is not None and len(request.passphrase) < MIN_PASSPHRASE_LENGTH:
        raise _invalid("passphrase", f"must be at least {MIN_PASSPHRASE_LENGTH} characters, or omitted to get one")
    if not 1 <= request.validity_days <= MAX_VALIDITY_DAYS:
        raise _invalid("validity_days", f"must be between 1 and {MAX_VALIDITY_DAYS}")


def _public_key_from_csr(csr_pem: str) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        signature_valid = csr.is_signature_valid
        public_key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm, UnicodeEncodeError):
        raise _invalid(
            "csr", "must be a PEM certificate signing request (-----BEGIN CERTIFICATE REQUEST-----)"
        ) from None
    if not signature_valid:
        raise _invalid("csr", "its signature does not verify: sign it with the private key it names")
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ACCEPTED_CURVES):
        return public_key
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size >= MIN_RSA_BITS:
        return public_key
    raise _invalid("csr", f"the key must be ECDSA P-256, P-384 or P-521, or RSA of at least {MIN_RSA_BITS} bits")


def _key_algorithm(public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> str:
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"ecdsa-{public_key.curve.name}"
    return f"rsa-{public_key.key_size}"


def _validity(request: IssueRequest, issuing: CertificateAuthority) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    not_before = request.valid_from or now - ca.CLOCK_SKEW
    not_after = request.valid_until or now + timedelta(days=request.validity_days)
    # A certificate never outlives the CA that issued it (RFC 5280 6.1.3 would reject the chain anyway).
    not_after = min(not_after, issuing.certificate.not_valid_after_utc)
    if not_after <= not_before:
        raise _invalid("validity_days", "the validity period ends before it starts")
    return not_before, not_after


def _common_name(request: IssueRequest, administration: Administration) -> str:
    return (request.name or administration.name).strip()


def _fit_attribute(text: str, limit: int = 64) -> str:
    """`text` cut to the `limit` bytes of UTF-8 an X.509 name attribute may hold, never inside a character."""
    return text.encode()[:limit].decode(errors="ignore")


def _subject(request: IssueRequest, administration: Administration) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, _fit_attribute(_common_name(request, administration)))]
    if request.profile in ("employee", "seal"):
        attributes += [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _fit_attribute(administration.name)),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, administration.code),
        ]
    if request.position is not None:
        attributes.append(x509.NameAttribute(NameOID.TITLE, _fit_attribute(request.position)))
    return x509.Name(attributes)


def _build_certificate(
    issuing: CertificateAuthority,
    *,
    serial: int,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
    profile: str,
    email: str | None,
    not_before: datetime,
    not_after: datetime,
    api_url: str,
    registration: Registration,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuing.certificate.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(_EXTENDED_KEY_USAGES[profile]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                issuing.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
        .add_extension(ca.crl_distribution_points(api_url, ca.ISSUING), critical=False)
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(api_url.rstrip("/") + ca.CERTIFICATE_PATHS[ca.ISSUING]),
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(registration_extension(registration), critical=False)
    )
    if email is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False)
    return builder.sign(issuing.private_key, hashes.SHA256())


# --- reading an administration's certificates ---------------------------------------------------------------------


def _owned(session: Session, administration_id: int, certificate_id: str) -> IssuedCertificate:
    try:
        key = normalise_serial(certificate_id)
    except ValueError:
        key = None
    record = session.get(IssuedCertificate, key) if key is not None else None
    if record is None or record.administration_id != administration_id:
        # Another administration's certificate is not disclosed either.
        raise NotFound(f"No certificate {certificate_id} for this administration.")
    return record


def get_certificate(session: Session, administration_id: int, certificate_id: str) -> IssuedCertificate:
    return _owned(session, administration_id, certificate_id)


def list_certificates(
    session: Session,
    administration_id: int,
    *,
    profile: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[IssuedCertificate]:
    query = select(IssuedCertificate).where(IssuedCertificate.administration_id == administration_id)
    if profile is not None:
        query = query.where(IssuedCertificate.profile == profile)
    now = datetime.now(UTC)
    if status == "revoked":
        query = query.where(IssuedCertificate.revoked_at.is_not(None))
    elif status == "expired":
        query = query.where(IssuedCertificate.revoked_at.is_(None), IssuedCertificate.not_after < now)
    elif status == "valid":
        query = query.where(
            IssuedCertificate.revoked_at.is_(None),
            IssuedCertificate.not_before <= now,
            IssuedCertificate.not_after >= now,
        )
    elif status == "not_yet_valid":
        query = query.where(IssuedCertificate.revoked_at.is_(None), IssuedCertificate.not_before > now)
    query = query.order_by(IssuedCertificate.created_at.desc(), IssuedCertificate.id).limit(limit).offset(offset)
    return list(session.scalars(query))


def status_of(record: IssuedCertificate, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if record.revoked_at is not None:
        return "revoked"
    if record.not_after < now:
        return "expired"
    if record.not_before > now:
        return "not_yet_valid"
    return "valid"


def public_record(session: Session, serial: str) -> IssuedCertificate:
    """A certificate by serial, for public status and log lookups."""
    try:
        key = normalise_serial(serial)
    except UnissuableSerial:
        raise NotFound(
            f"This certificate authority issued no certificate with serial {serial}: its serials are positive and "
            "at most 160 bits long."
        ) from None
    except ValueError as exc:
        raise ValidationFailed(
            f"Invalid request. path.serial: {exc}.", details=[{"location": "path.serial", "message": str(exc)}]
        ) from None
    record = session.get(IssuedCertificate, key)
    if record is None:
        raise NotFound(f"This certificate authority issued no certificate with serial {key}.")
    return record


def record_for_certificate(session: Session, certificate_bytes: bytes) -> IssuedCertificate:
    """The issued certificate a PEM or DER upload is, byte for byte; `NotFound` for any other certificate."""
    try:
        if certificate_bytes.lstrip().startswith(b"-----BEGIN"):
            certificate = x509.load_pem_x509_certificate(certificate_bytes)
        else:
            certificate = x509.load_der_x509_certificate(certificate_bytes)
        der = certificate.public_bytes(Encoding.DER)
    except ValueError:
        raise InvalidInput(
            "The upload is not an X.509 certificate: send its PEM (-----BEGIN CERTIFICATE-----) or DER bytes.",
            code="invalid_certificate",
        ) from None
    fingerprint = hashlib.sha256(der).hexdigest()
    record = session.scalars(select(IssuedCertificate).where(IssuedCertificate.fingerprint == fingerprint)).first()
    if record is None:
        raise NotFound(
            f"No certificate with SHA-256 fingerprint {fingerprint} was issued and logged by this authority.",
            details={"fingerprint": fingerprint},
        )
    return record


# --- revoking -----------------------------------------------------------------------------------------------------


def revocation_record(record: IssuedCertificate) -> dict[str, str]:
    """What a revocation's log entry notarises: the SHA-256 of this object in canonical JSON."""
    assert record.revoked_at is not None and record.revocation_reason is not None
    return {
        "type": "segell-certificate-revocation",
        "serial": record.id,
        "certificate_sha256": record.fingerprint,
        "reason": record.revocation_reason,
        "revoked_at": record.revoked_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def revocation_record_hash(record: IssuedCertificate) -> str:
    canonical = json.dumps(revocation_record(record), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def revoke_certificate(
    runtime: Runtime, administration_id: int, certificate_id: str, reason: RevocationReason
) -> IssuedCertificate:
    """Revoke a certificate with an RFC 5280 reason, publish a new CRL, and log the revocation with the notary.

    A certificate already revoked answers `Conflict` (`already_revoked`), after logging its revocation if an
    earlier attempt could not.
    """
    if reason not in REVOCATION_REASONS:
        raise _invalid("reason", f"must be one of {', '.join(REVOCATION_REASONS)} (RFC 5280 5.3.1)")
    authorities = certificate_authorities(runtime)
    with runtime.transaction() as session:
        # Write the CA row first: its lock (a row lock on PostgreSQL, the write lock on SQLite) makes concurrent
        # revocations read the certificate and build their CRLs one after another.
        session.execute(
            update(CertificateAuthorityRecord)
            .where(CertificateAuthorityRecord.role == ca.ISSUING)
            .values(crl_number=CertificateAuthorityRecord.crl_number)
        )
        record = _owned(session, administration_id, certificate_id)
        already_revoked = record.revoked_at is not None
        if not already_revoked:
            record.revoked_at = datetime.now(UTC).replace(microsecond=0)
            record.revocation_reason = reason
            session.flush()
            _reissue_crl(session, authorities.issuing)
    if record.revocation_log_document_id is None:
        record = _log_revocation(runtime, administration_id, record)
    if already_revoked:
        assert record.revoked_at is not None
        raise Conflict(
            f"Certificate {record.id} is already revoked ({record.revocation_reason}, "
            f"{record.revoked_at.isoformat()}).",
            code="already_revoked",
        )
    return record


def _log_revocation(runtime: Runtime, administration_id: int, record: IssuedCertificate) -> IssuedCertificate:
    # The same revocation logged twice (two requests at once) is one notary document: the hash is its identity.
    with runtime.transaction() as session:
        receipt = notary.notarise(
            session,
            administration_id,
            revocation_record_hash(record),
            kind=KIND_REVOCATION,
            title=f"Revocation of certificate {record.id}",
            metadata=revocation_record(record),
            # What was revoked: the certificate's own log entry.
            derived_from=[record.log_document_id] if record.log_document_id is not None else [],
        )
        stored = session.get(IssuedCertificate, record.id)
        assert stored is not None
        stored.revocation_log_document_id = receipt.id
        return stored


def _reissue_crl(session: Session, authority: CertificateAuthority) -> bytes:
    ca_record = session.get(CertificateAuthorityRecord, authority.role)
    assert ca_record is not None
    revoked: list[tuple[int, datetime, x509.ReasonFlags]] = []
    if authority.role == ca.ISSUING:
        rows = session.execute(
            select(IssuedCertificate.id, IssuedCertificate.revoked_at, IssuedCertificate.revocation_reason)
            .where(IssuedCertificate.revoked_at.is_not(None))
            .order_by(IssuedCertificate.revoked_at, IssuedCertificate.id)
        )
        revoked = [(int(row.id, 16), row.revoked_at, x509.ReasonFlags(row.revocation_reason)) for row in rows]
    number = ca_record.crl_number + 1
    crl_der, next_update = ca.build_crl(authority, revoked, crl_number=number)
    ca_record.crl_der, ca_record.crl_number, ca_record.crl_next_update = crl_der, number, next_update
    return crl_der


# --- the public log -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogEntry:
    record: IssuedCertificate
    administration: Administration
    issuance: Receipt | None
    revocation: Receipt | None


def log_entry(session: Session, record: IssuedCertificate) -> LogEntry:
    administration = session.get(Administration, record.administration_id)
    assert administration is not None
    issuance = revocation = None
    if record.log_document_id is not None:
        issuance = notary.receipt(session, record.administration_id, record.log_document_id)
    if record.revocation_log_document_id is not None:
        revocation = notary.receipt(session, record.administration_id, record.revocation_log_document_id)
    return LogEntry(record, administration, issuance, revocation)


def log_bundle(session: Session, record: IssuedCertificate, *, revocation: bool = False) -> ProofBundle:
    """The notary's proof bundle of a certificate's log entry (or of its revocation's): 409 until anchored."""
    document_id = record.revocation_log_document_id if revocation else record.log_document_id
    if document_id is None:
        what = "revocation of certificate" if revocation else "certificate"
        raise NotFound(f"The {what} {record.id} has no log entry.")
    return notary.bundle(session, record.administration_id, document_id)


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(Encoding.PEM).decode()


def registration(record: IssuedCertificate, administration: Administration) -> Registration:
    """The registration authority a certificate names; certificates issued before it was named: its administration."""
    named = registration_of(x509.load_der_x509_certificate(record.certificate_der))
    return named if named is not None else Registration(administration.code, administration.name, record.citizen_id)


def certificate_pem(record: IssuedCertificate) -> str:
    return pem(x509.load_der_x509_certificate(record.certificate_der))


def issuer_name(record: IssuedCertificate) -> str:
    return x509.load_der_x509_certificate(record.certificate_der).issuer.rfc4514_string()


def log_verification_code(session: Session, record: IssuedCertificate) -> str | None:
    """The verification code of a certificate's log entry at the notary."""
    if record.log_document_id is None:
        return None
    return notary.receipt(session, record.administration_id, record.log_document_id).verification_code


def pkcs12_base64(data: bytes) -> str:
    return base64.b64encode(data).decode()
