"""The once-only tables: documents a citizen submitted to one administration that it marked reusable, the requests
other administrations make for them, and which citizen login stands for which subject.

A reusable document keeps its bytes, not only their hash: Segell brokers the exchange, so the citizen can preview
the very file another administration will receive, and the holder need not be reachable when it is fetched. The
subject is kept only as the interop domain's subject key (a keyed hash of the national id), never in plain text.
"""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from segell.services.models import Base, utcnow


class CitizenSubject(Base):
    """A citizen login (an administration's pseudonym of a citizen) bound to the subject key of a national id.

    The administration the citizen logged in with binds it, with the citizen's token as consent, as it binds a
    citizen certificate's holder: it knows whose phone number it sent the code to. The first binding stays; a
    login cannot be bound to another national id, nor a national id to another login of the same administration.
    """

    __tablename__ = "interop_citizen_subjects"

    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), primary_key=True)
    citizen_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_key: Mapped[str] = mapped_column(String(64))
    bound_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("uq_interop_citizen_subjects_subject", "administration_id", "subject_key", unique=True),)


class ReusableDocument(Base):
    """A document a citizen submitted to its holder, which marked it reusable by other administrations."""

    __tablename__ = "interop_reusable_documents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    subject_key: Mapped[str] = mapped_column(String(64), index=True)
    document_type: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    media_type: Mapped[str] = mapped_column(String(100))
    file_name: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    #: The norms (ELI URIs) under which another administration may obtain it without the citizen's consent.
    legal_bases: Mapped[list[str]] = mapped_column(JSON)
    #: The holder's seal certificate, with which the document's delivery is sealed.
    seal_certificate_id: Mapped[str] = mapped_column(String(40))
    receipt_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column()


class OnceOnlyRequest(Base):
    """Another administration's request for a reusable document, for one procedure.

    `status`: ``consent_pending`` (waiting for the citizen, who may preview the document), ``refused`` (the citizen
    said no), ``authorised`` (the citizen consented, or the request cites a legal basis the holder accepts) and
    ``delivered`` (the consumer received it, with its evidence).
    """

    __tablename__ = "interop_once_only_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("interop_reusable_documents.id"), index=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    procedure_code: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(100))
    legal_basis: Mapped[str | None] = mapped_column(String(300))
    officer: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    #: Once delivered: the request document and the holder's sealed answer exactly as hashed and notarised (the
    #: evidence file is made of them and of both receipts' proof bundles).
    request_document: Mapped[str | None] = mapped_column(Text)
    answer_jws: Mapped[str | None] = mapped_column(Text)
    request_receipt_id: Mapped[str | None] = mapped_column(String(32))
    answer_receipt_id: Mapped[str | None] = mapped_column(String(32))
