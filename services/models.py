"""SQLAlchemy models: the service database is Segell's system of record."""

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, false
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every database: SQLite stores no offset, so it is put back on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


class Administration(Base):
    """A member of the consortium: a tenant with API keys and chain accounts."""

    __tablename__ = "administrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    registry_id: Mapped[str] = mapped_column(String(66), unique=True)  # bytes32 id on the registry, 0x-hex
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    admitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    admission_tx: Mapped[str | None] = mapped_column(String(66))

    accounts: Mapped[list["ChainAccount"]] = relationship(
        back_populates="administration", order_by="ChainAccount.created_at"
    )


class ChainAccount(Base):
    """An administration's chain account; the private key is sealed under the master key."""

    __tablename__ = "chain_accounts"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    sealed_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    administration: Mapped[Administration] = relationship(back_populates="accounts")


class ApiKey(Base):
    """An API key; only a hash of its secret is stored. No administration means the governance key."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    administration_id: Mapped[int | None] = mapped_column(ForeignKey("administrations.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()

    administration: Mapped[Administration | None] = relationship()


class Document(Base):
    """A notarised item (a receipt): the SHA-256 of a document, accepted for an administration.

    Hashes are stored as 64 lower-case hex digits without 0x. `leaf` and `leaf_index` are set when the item is
    placed in a batch; `status` is "pending" or "revoked": a receipt is anchored when its batch is (not written here).
    """

    __tablename__ = "documents"
    __table_args__ = (
        # Hash first: the one index serves both a lookup by hash (public verification) and by (hash, issuer).
        UniqueConstraint("document_hash", "administration_id", name="uq_documents_hash_administration"),
        UniqueConstraint("administration_id", "idempotency_key", name="uq_documents_administration_idempotency"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"))
    document_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str | None] = mapped_column(String(64))
    # Marked public by the issuer: verification by hash shows its kind and title even when it is salted.
    public: Mapped[bool] = mapped_column(default=False, server_default=false())
    kind: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(300))
    metadata_json: Mapped[str | None] = mapped_column(Text)
    verification_code: Mapped[str] = mapped_column(String(20), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_fingerprint: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    leaf_index: Mapped[int | None] = mapped_column()
    leaf: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    administration: Mapped[Administration] = relationship()
    batch: Mapped["Batch | None"] = relationship(back_populates="documents")


class OutboxEntry(Base):
    """A document accepted but not yet placed in a batch; written in the same transaction as the document."""

    __tablename__ = "notary_outbox"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
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
    root: Mapped[str] = mapped_column(String(64), unique=True)
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

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(500))
    transaction_hash: Mapped[str] = mapped_column(String(66))
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_timestamp: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
