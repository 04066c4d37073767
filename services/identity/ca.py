"""The deployment's certificate authority: a root CA and an issuing CA, their keys sealed under the master key.

Both are created at first start, in one transaction; a second process racing to create them loses on the primary
key and loads the winner's. Every key is ECDSA P-256: its 32-byte private scalar is sealed with `chain.keys`, the
same AES-256-GCM envelope as the chain accounts' keys.

    root CA (20 years, pathLen 1)  ─signs→  issuing CA (10 years, pathLen 0)  ─signs→  employee | seal | citizen
    root CRL at /v1/ca/root.crl            issuing CRL at /v1/ca/issuing.crl (named by every certificate)
"""

import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from segell.chain.keys import open_private_key, seal_private_key
from segell.services.identity.models import CertificateAuthorityRecord
from segell.services.runtime import Runtime

ROOT, ISSUING = "root", "issuing"
ROOT_VALIDITY = timedelta(days=20 * 365)
ISSUING_VALIDITY = timedelta(days=10 * 365)
# A CRL is valid for a week and issued again when a day of that is left, or at once on a revocation.
CRL_VALIDITY = timedelta(days=7)
CRL_REFRESH_BEFORE = timedelta(days=1)
# Certificates are back-dated a little, so that a verifier whose clock lags accepts them at once.
CLOCK_SKEW = timedelta(minutes=5)

CRL_PATHS = {ROOT: "/v1/ca/root.crl", ISSUING: "/v1/ca/issuing.crl"}
CERTIFICATE_PATHS = {ROOT: "/v1/ca/root.pem", ISSUING: "/v1/ca/issuing.pem"}


@dataclass(frozen=True)
class CertificateAuthority:
    """One CA: its certificate and private key."""

    role: str
    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    @property
    def key_identifier(self) -> bytes:
        return self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


@dataclass(frozen=True)
class CertificateAuthorities:
    root: CertificateAuthority
    issuing: CertificateAuthority

    @property
    def chain(self) -> list[x509.Certificate]:
        """The certificates above a leaf, nearest first: [issuing, root]."""
        return [self.issuing.certificate, self.root.certificate]


def new_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def seal_key(key: ec.EllipticCurvePrivateKey, master_key: bytes, *, label: str) -> str:
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    return seal_private_key(scalar, master_key, label=label)


def open_key(sealed: str, master_key: bytes, *, label: str) -> ec.EllipticCurvePrivateKey:
    scalar = open_private_key(sealed, master_key, label=label)
    return ec.derive_private_key(int.from_bytes(scalar, "big"), ec.SECP256R1())


def ca_key_label(role: str) -> str:
    return f"segell.ca.{role}"


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Segell sandbox"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Certificate authority (not for production use)"),
        ]
    )


def _ca_certificate(
    *,
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: CertificateAuthority | None,
    validity: timedelta,
    path_length: int,
    api_url: str,
) -> x509.Certificate:
    now = datetime.now(UTC)
    public_key = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.private_key.public_key()), critical=False
        ).add_extension(crl_distribution_points(api_url, ROOT), critical=False)
    signing_key = issuer.private_key if issuer else key
    return builder.sign(signing_key, hashes.SHA256())


def crl_distribution_points(api_url: str, role: str) -> x509.CRLDistributionPoints:
    url = api_url.rstrip("/") + CRL_PATHS[role]
    return x509.CRLDistributionPoints([x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)])


def _empty_crl(authority: CertificateAuthority) -> tuple[bytes, datetime]:
    return build_crl(authority, [], crl_number=1)


def build_crl(
    authority: CertificateAuthority, revoked: list[tuple[int, datetime, x509.ReasonFlags]], *, crl_number: int
) -> tuple[bytes, datetime]:
    """A CRL signed by `authority` listing `revoked` (serial, time, reason); its DER and its nextUpdate."""
    now = datetime.now(UTC)
    next_update = now + CRL_VALIDITY
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(authority.certificate.subject)
        .last_update(now - CLOCK_SKEW)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.private_key.public_key()), critical=False
        )
    )
    for serial, revoked_at, reason in revoked:
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(revoked_at)
        if reason is not x509.ReasonFlags.unspecified:
            # RFC 5280 5.3.1: the reason code extension is omitted rather than given as unspecified.
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(authority.private_key, hashes.SHA256())
    return crl.public_bytes(Encoding.DER), next_update


_cache: "weakref.WeakKeyDictionary[Engine, CertificateAuthorities]" = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def ensure_certificate_authorities(runtime: Runtime) -> CertificateAuthorities:
    """The deployment's CAs, created (once, whichever process comes first) if the database has none yet."""
    with _cache_lock:
        cached = _cache.get(runtime.engine)
    if cached is not None:
        return cached
    with runtime.transaction() as session:
        authorities = load_certificate_authorities(session, runtime.master_key)
    if authorities is None:
        authorities = _create(runtime)
    with _cache_lock:
        _cache[runtime.engine] = authorities
    return authorities


def load_certificate_authorities(session: Session, master_key: bytes) -> CertificateAuthorities | None:
    records = {record.role: record for record in session.scalars(select(CertificateAuthorityRecord))}
    if ROOT not in records or ISSUING not in records:
        return None
    root, issuing = (_authority(records[role], master_key) for role in (ROOT, ISSUING))
    return CertificateAuthorities(root=root, issuing=issuing)


def _authority(record: CertificateAuthorityRecord, master_key: bytes) -> CertificateAuthority:
    return CertificateAuthority(
        role=record.role,
        certificate=x509.load_der_x509_certificate(record.certificate_der),
        private_key=open_key(record.sealed_key, master_key, label=ca_key_label(record.role)),
    )


def _create(runtime: Runtime) -> CertificateAuthorities:
    api_url = runtime.settings.api_url
    root_key, issuing_key = new_private_key(), new_private_key()
    root_certificate = _ca_certificate(
        subject=_name("Segell Sandbox Root CA"),
        key=root_key,
        issuer=None,
        validity=ROOT_VALIDITY,
        path_length=1,
        api_url=api_url,
    )
    root = CertificateAuthority(ROOT, root_certificate, root_key)
    issuing_certificate = _ca_certificate(
        subject=_name("Segell Sandbox Issuing CA"),
        key=issuing_key,
        issuer=root,
        validity=ISSUING_VALIDITY,
        path_length=0,
        api_url=api_url,
    )
    issuing = CertificateAuthority(ISSUING, issuing_certificate, issuing_key)
    try:
        with runtime.transaction() as session:
            for authority in (root, issuing):
                crl_der, next_update = _empty_crl(authority)
                session.add(
                    CertificateAuthorityRecord(
                        role=authority.role,
                        certificate_der=authority.certificate.public_bytes(Encoding.DER),
                        sealed_key=seal_key(
                            authority.private_key, runtime.master_key, label=ca_key_label(authority.role)
                        ),
                        crl_der=crl_der,
                        crl_number=1,
                        crl_next_update=next_update,
                    )
                )
    except IntegrityError:
        pass  # another process created them first: theirs are the deployment's
    else:
        return CertificateAuthorities(root=root, issuing=issuing)
    with runtime.transaction() as session:
        loaded = load_certificate_authorities(session, runtime.master_key)
    if loaded is None:
        raise RuntimeError("the certificate authorities were neither created nor found; start again")
    return loaded
