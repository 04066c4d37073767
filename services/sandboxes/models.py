"""Tables of the sandboxes: one row per sandbox, its funded accounts (keys sealed) and its snapshots."""

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from segell.services.administrations.api import Administration
from segell.services.models import Base, utcnow


class Sandbox(Base):
    """An isolated chain owned by one administration.

    `status` goes running -> deleted (by its owner) or expired (reaped). A sandbox that is no longer running
    keeps its row, so that its id answers "deleted" or "expired" rather than "unknown".
    """

    __tablename__ = "sandboxes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    backend: Mapped[str] = mapped_column(String(16))
    chain_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="running", index=True)
    node_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    registry_address: Mapped[str] = mapped_column(String(42))
    notary_address: Mapped[str] = mapped_column(String(42))
    deployment_block: Mapped[int] = mapped_column(BigInteger)
    governance_address: Mapped[str] = mapped_column(String(42))
    governance_sealed_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None] = mapped_column()

    administration: Mapped[Administration] = relationship()
    accounts: Mapped[list["SandboxAccount"]] = relationship(
        back_populates="sandbox", order_by="SandboxAccount.position", cascade="all, delete-orphan"
    )
    snapshots: Mapped[list["SandboxSnapshot"]] = relationship(
        back_populates="sandbox", order_by="SandboxSnapshot.created_at", cascade="all, delete-orphan"
    )


class SandboxAccount(Base):
    """A funded account of a sandbox; position 0 is the owner's member account (admitted in the sandbox's registry)."""

    __tablename__ = "sandbox_accounts"
    __table_args__ = (UniqueConstraint("sandbox_id", "position", name="uq_sandbox_accounts_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    address: Mapped[str] = mapped_column(String(42))
    sealed_key: Mapped[str] = mapped_column(Text)

    sandbox: Mapped[Sandbox] = relationship(back_populates="accounts")


class SandboxSnapshot(Base):
    """A saved state of a sandbox's chain; reverting to it restores that chain, blocks and all."""

    __tablename__ = "sandbox_snapshots"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sandbox_id: Mapped[str] = mapped_column(ForeignKey("sandboxes.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(100))
    head_block: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    sandbox: Mapped[Sandbox] = relationship(back_populates="snapshots")
