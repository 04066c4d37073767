"""The contracts an administration deployed in its sandboxes, with their ABI and sources."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from segell.services.models import Base, utcnow


class SandboxContract(Base):
    """A contract deployed through the API (`origin` ``deployed``), or deployed elsewhere and registered with sources
    that compile to its code (``registered``, with the `verification` match and the `compiler_settings` used; its
    creation transaction only when the owner named it). `sandbox_id` is the sandbox's id as issued (no foreign key:
    the row outlives nothing but is never read once its sandbox has ended, since every route asks the sandbox
    first)."""

    __tablename__ = "sandbox_contracts"
    __table_args__ = (UniqueConstraint("sandbox_id", "address", name="uq_sandbox_contracts_address"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sandbox_id: Mapped[str] = mapped_column(String(32), index=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source_unit: Mapped[str] = mapped_column(String(300))
    address: Mapped[str] = mapped_column(String(42))
    abi: Mapped[str] = mapped_column(Text)  # JSON
    sources: Mapped[str] = mapped_column(Text)  # JSON {path: text}, the request's own files
    source_hash: Mapped[str] = mapped_column(String(64))
    compiler_version: Mapped[str] = mapped_column(String(32))
    constructor_args: Mapped[str] = mapped_column(Text)  # JSON as sent
    transaction_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    gas_used: Mapped[int | None] = mapped_column(BigInteger)
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)  # when the row was made: deployed or registered
    origin: Mapped[str] = mapped_column(String(16), default="deployed", server_default="deployed")
    verification: Mapped[str | None] = mapped_column(String(16))  # "exact" | "partial", for a registered one
    compiler_settings: Mapped[str | None] = mapped_column(Text)  # JSON, for a registered one
