"""The interoperability domain's tables: the catalogue of data services, the authorisations per procedure, the
records built-in providers uploaded, the exchanges with their sealed answers, and the access log citizens read.

A national id is never stored: every table keys the citizen by `subject_key` (a keyed hash, `api.subject_key`)."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from segell.services.models import Base, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")


class DataService(Base):
    """A data service a provider administration offers: answered from its uploaded records (`builtin`) or by its
    own HTTPS endpoint (`webhook`, signed with `sealed_webhook_secret`)."""

    __tablename__ = "interop_services"
    __table_args__ = (UniqueConstraint("provider_id", "code"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    response_schema: Mapped[dict[str, Any]] = mapped_column(JSON)
    legal_bases: Mapped[list[str]] = mapped_column(JSON)
    consent_required: Mapped[bool] = mapped_column()
    routing: Mapped[str] = mapped_column(String(10))
    endpoint_url: Mapped[str | None] = mapped_column(String(500))
    sealed_webhook_secret: Mapped[str | None] = mapped_column(Text)
    seal_certificate_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Authorisation(Base):
    """A consumer's access to a service for one procedure: `pending` until the provider grants or refuses it."""

    __tablename__ = "interop_authorisations"
    __table_args__ = (UniqueConstraint("service_id", "consumer_id", "procedure_code"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("interop_services.id"), index=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    procedure_code: Mapped[str] = mapped_column(String(60))
    justification: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()


class ProviderRecord(Base):
    """One citizen's entry in a built-in provider's register (its residence register, say), as it uploaded it."""

    __tablename__ = "interop_records"

    service_id: Mapped[str] = mapped_column(ForeignKey("interop_services.id"), primary_key=True)
    subject_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Exchange(Base):
    """One request and its sealed answer: the documents exactly as hashed and notarised."""

    __tablename__ = "interop_exchanges"
    __table_args__ = (Index("ix_interop_exchanges_consumer", "consumer_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("interop_services.id"), index=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    subject_key: Mapped[str] = mapped_column(String(64))
    request_document: Mapped[str] = mapped_column(Text)
    request_hash: Mapped[str] = mapped_column(String(64))
    answer_jws: Mapped[str] = mapped_column(Text)
    answer_hash: Mapped[str] = mapped_column(String(64))
    request_receipt_id: Mapped[str] = mapped_column(String(32))
    answer_receipt_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AccessLogEntry(Base):
    """Who looked at a citizen's data, when, and why: one per exchange, written in its transaction.

    `entry_hash` is the SHA-256 of the entry's canonical JSON (`domain.access_entry_document`); each day's entries of
    one consumer are digested and notarised (`LogDigest`), so that one deleted or altered is detectable."""

    __tablename__ = "interop_access_log"
    __table_args__ = (
        Index("ix_interop_access_log_subject", "subject_key", "at"),
        Index("ix_interop_access_log_day", "consumer_id", "day"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    exchange_id: Mapped[str] = mapped_column(String(32), unique=True)
    subject_key: Mapped[str] = mapped_column(String(64))
    consumer_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"))
    service_code: Mapped[str] = mapped_column(String(40))
    officer: Mapped[str] = mapped_column(String(200))
    procedure_code: Mapped[str] = mapped_column(String(60))
    case_id: Mapped[str] = mapped_column(String(100))
    legal_basis: Mapped[str] = mapped_column(String(300))
    consent_reference: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column()
    day: Mapped[date] = mapped_column()
    hidden_until: Mapped[datetime | None] = mapped_column()
    entry_hash: Mapped[str] = mapped_column(String(64))


class LogDigest(Base):
    """One consumer's access log of one day, closed: how many entries, the digest of their hashes, its receipt."""

    __tablename__ = "interop_log_digests"

    consumer_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    entry_count: Mapped[int] = mapped_column()
    entries_digest: Mapped[str] = mapped_column(String(64))
    document_hash: Mapped[str] = mapped_column(String(64))
    receipt_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
