"""Tables of the certificate authority: its own two CAs, the certificates it issued, and its citizen holders."""

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from segell.services.models import Base, utcnow


class CertificateAuthorityRecord(Base):
    """The deployment's root or issuing CA (`role`), its private key sealed under the master key, and its CRL."""

    __tablename__ = "certificate_authorities"

    role: Mapped[str] = mapped_column(String(16), primary_key=True)  # "root" | "issuing"
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_key: Mapped[str] = mapped_column(Text)
    crl_der: Mapped[bytes | None] = mapped_column(LargeBinary)
    crl_number: Mapped[int] = mapped_column(Integer, default=0)
    crl_next_update: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IssuedCertificate(Base):
    """A certificate issued to an administration's employee, seal or citizen.

    `id` is the serial number in 40 lower-case hex digits. `sealed_key` holds the private key, sealed under the
    master key, of employee and seal certificates whose key was generated here (signing on the holder's behalf);
    citizens' keys and keys behind a CSR are never held. The national id is kept only as a salted SHA-256.
    `citizen_id` is the pseudonym (token `sub`) of the citizen whose token a citizen certificate was issued with.
    """

    __tablename__ = "certificates"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    profile: Mapped[str] = mapped_column(String(16))  # "employee" | "seal" | "citizen"
    subject: Mapped[str] = mapped_column(String(500))  # RFC 4514
    common_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    national_id_salt: Mapped[str | None] = mapped_column(String(64))
    national_id_hash: Mapped[str | None] = mapped_column(String(64))
    citizen_id: Mapped[str | None] = mapped_column(String(64))
    key_origin: Mapped[str] = mapped_column(String(16))  # "server" | "csr"
    key_algorithm: Mapped[str] = mapped_column(String(32))
    sealed_key: Mapped[str | None] = mapped_column(Text)
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER, hex
    not_before: Mapped[datetime] = mapped_column()
    not_after: Mapped[datetime] = mapped_column()
    log_document_id: Mapped[str | None] = mapped_column(String(32))
    revoked_at: Mapped[datetime | None] = mapped_column()
    revocation_reason: Mapped[str | None] = mapped_column(String(32))
    revocation_log_document_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CitizenHolder(Base):
    """A citizen of an administration, bound to one national id by the first citizen certificate issued to them.

    `national_id_key` is an HMAC-SHA256 of the national id under a key derived from the master key: a national id
    is guessable, so a plain hash would hide nothing, and the lookup needs the same value every time.
    """

    __tablename__ = "certificate_citizen_holders"
    __table_args__ = (
        UniqueConstraint("administration_id", "national_id_key", name="uq_certificate_citizen_holders_national_id"),
    )

    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), primary_key=True)
    citizen_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    national_id_key: Mapped[str] = mapped_column(String(64))
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)
