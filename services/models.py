"""SQLAlchemy models: the service database is Segell's system of record."""

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, String, Text
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
    chain_id: Mapped[str] = mapped_column(String(66), unique=True)  # bytes32 id on the registry, 0x-hex
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
