"""The notary domain's tables: documents (receipts), the outbox, batches (anchored Merkle trees), revocations,
provenance links, public copies and the signers of signed outputs."""

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from segell.services.administrations.api import Administration
from segell.services.models import Base, Hash32, utcnow


def _bytewise(length: int) -> String:
    """ASCII ids and codes, compared byte by byte on PostgreSQL (`COLLATE "C"`, migration 0030): their order is
    the same as under any collation, and `memcmp` is cheaper than `strcoll` in every index holding them."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class Document(Base):
    """A notarised item (a receipt): the SHA-256 of a document, accepted for an administration.

    Hashes are stored as their 32 bytes and read as 64 lower-case hex digits without 0x (`Hash32`). `leaf` and
    `leaf_index` are set when the item is placed in a batch; `status` is "pending" or "revoked": a receipt is
    anchored when its batch is (not written here).
    """

    __tablename__ = "documents"
    __table_args__ = (
        # Hash first: the one index serves both a lookup by hash (public verification) and by (hash, issuer).
        UniqueConstraint("document_hash", "administration_id", name="uq_documents_hash_administration"),
        # Over the documents that have a key only (migration 0031): bulk ones never do, and would each add an entry.
        Index(
            "uq_documents_administration_idempotency",
            "administration_id",
            "idempotency_key",
            unique=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
            sqlite_where=text("idempotency_key IS NOT NULL"),
        ),
        # An administration's documents by time: listing and exporting them page by page (keyset pagination).
        Index("ix_documents_administration_created", "administration_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(_bytewise(32), primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"))
    document_hash: Mapped[str] = mapped_column(Hash32)
    salt: Mapped[str | None] = mapped_column(String(64))
    # Marked public by the issuer: verification by hash shows its kind and title even when it is salted.
    public: Mapped[bool] = mapped_column(default=False, server_default=false())
    kind: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(300))
    metadata_json: Mapped[str | None] = mapped_column(Text)
    verification_code: Mapped[str] = mapped_column(_bytewise(20), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    leaf_index: Mapped[int | None] = mapped_column()
    leaf: Mapped[str | None] = mapped_column(Hash32)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    administration: Mapped[Administration] = relationship()
    batch: Mapped["Batch | None"] = relationship(back_populates="documents")


class OutboxEntry(Base):
    """A document accepted but not yet placed in a batch; written in the same transaction as the document."""

    __tablename__ = "notary_outbox"

    document_id: Mapped[str] = mapped_column(_bytewise(32), ForeignKey("documents.id"), primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Batch(Base):
    """One Merkle tree of one administration's documents, anchored as one root by one transaction.

    `tree` holds the 2n-1 node hashes (32 bytes each) in OpenZeppelin StandardMerkleTree array order, so any
    proof can be derived without recomputing the tree. `status` goes anchoring -> anchored; a batch filled when its
    documents were accepted starts as built (-> anchoring once a worker takes it).
    """

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    root: Mapped[str] = mapped_column(Hash32, unique=True)
    size: Mapped[int] = mapped_column()
    tree: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="anchoring", index=True)
    account: Mapped[str | None] = mapped_column(String(42))
    chain_id: Mapped[int | None] = mapped_column(BigInteger)
    contract: Mapped[str | None] = mapped_column(String(42))
    transaction_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    block_timestamp: Mapped[int | None] = mapped_column(BigInteger)
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    anchored_at: Mapped[datetime | None] = mapped_column()

    administration: Mapped[Administration] = relationship()
    documents: Mapped[list[Document]] = relationship(back_populates="batch")


class Revocation(Base):
    """A revocation of an anchored document by its issuer, as recorded on chain."""

    __tablename__ = "revocations"

    document_id: Mapped[str] = mapped_column(_bytewise(32), ForeignKey("documents.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500))
    transaction_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentSource(Base):
    """A link from a notarised output to a receipt it was made from: a signed PDF from its original, a dataset
    version from the previous one, a tally from the ballots' root. Written with the output, never changed."""

    __tablename__ = "document_sources"

    document_id: Mapped[str] = mapped_column(_bytewise(32), ForeignKey("documents.id"), primary_key=True)
    source_id: Mapped[str] = mapped_column(_bytewise(32), ForeignKey("documents.id"), primary_key=True, index=True)
    # The order the sources were named in.
    position: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentCopy(Base):
    """The file itself, kept because its issuer allowed whoever holds its verification code to download it (as the
    Spanish CSV sites serve a document by its code). Written with the document or when it is submitted again with
    a copy; served by code, and not once the document is revoked."""

    __tablename__ = "document_copies"

    document_id: Mapped[str] = mapped_column(_bytewise(32), ForeignKey("documents.id"), primary_key=True)
    # The name the issuer gave it, made safe (`services.file_names.safe_file_name`); None: from the title or code.
    file_name: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    # Deferred: lookups of whether a copy exists never read the file.
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentSigner(Base):
    """Who signed a signed output, as the domain that signed it checked when it did (the certificate was the
    administration's own, valid and not revoked): public metadata, shown where the document's kind and title are.
    Written with the output, never changed."""

    __tablename__ = "document_signers"

    document_id: Mapped[str] = mapped_column(_bytewise(32), ForeignKey("documents.id"), primary_key=True)
    # The order the signatures were made in.
    position: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    organisation: Mapped[str | None] = mapped_column(String(300))
    # employee, seal or citizen: the certificate's profile.
    kind: Mapped[str | None] = mapped_column(String(16))
    # Who issued the signing certificate (RFC 4514).
    issuer: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
