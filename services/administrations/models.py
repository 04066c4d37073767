"""The administrations domain's tables: the consortium's members, their chain accounts and API keys."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from segell.services.models import Base, utcnow


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
    # What its citizens read: the language of its SMS, and its own SMS texts (None: Segell's default text).
    language: Mapped[str] = mapped_column(String(2), default="ca", server_default="ca")
    sms_template_ca: Mapped[str | None] = mapped_column(String(160))
    sms_template_es: Mapped[str | None] = mapped_column(String(160))
    sms_template_en: Mapped[str | None] = mapped_column(String(160))

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
