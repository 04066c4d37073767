"""Tables of citizen authentication. Phone numbers, client addresses and codes are kept only as keyed hashes, or
sealed under the master key where they must be read back (the sandbox's SMS outbox, TOTP secrets)."""

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from segell.services.models import Base, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")


class OtpChallenge(Base):
    """A one-time code sent to a phone for an administration; only a keyed hash of the code is stored.

    `status` goes pending -> used | exhausted (too many wrong codes) | superseded (a newer code was sent).
    """

    __tablename__ = "citizen_otp_challenges"
    __table_args__ = (Index("ix_citizen_otp_challenges_phone", "administration_id", "phone_hash", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"))
    phone_hash: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class SmsOutboxEntry(Base):
    """A text message the sandbox gateway 'sent': the operator and its administration read it back until the code
    in it expires, when it is deleted. Number and text are sealed together; `phone_hash` finds a number's messages."""

    __tablename__ = "citizen_sms_outbox"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    sealed_message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AuthEvent(Base):
    """One counted event for rate limits and lock-out: a code sent, a verification tried, a verification failed.

    `subject` is a keyed hash naming what is limited: ``phone:...`` or ``address:...``.
    """

    __tablename__ = "citizen_auth_events"
    __table_args__ = (Index("ix_citizen_auth_events_subject", "administration_id", "kind", "subject", "at"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column()


class LimitTurn(Base):
    """One row per subject the limits count (``phone:...``, ``address:...``, ``citizen:...``).

    An operation that counts events for a subject updates the subject's row before it reads the counts, and holds
    it until it commits: operations on one subject take turns, whichever API process serves them (a row lock on
    PostgreSQL; the database's write lock on SQLite), so no two read the same count.
    """

    __tablename__ = "citizen_limit_turns"
    __table_args__ = (Index("ix_citizen_limit_turns_taken_at", "administration_id", "taken_at"),)

    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    taken_at: Mapped[datetime] = mapped_column()


class TotpEnrolment(Base):
    """A citizen's TOTP secret (RFC 6238), sealed under the master key. `status` goes pending -> active; a newer
    enrolment replaces the older one once confirmed. `last_step` is the last time step accepted (no replay)."""

    __tablename__ = "citizen_totp"
    __table_args__ = (Index("ix_citizen_totp_citizen", "administration_id", "citizen_id", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"))
    citizen_id: Mapped[str] = mapped_column(String(64))
    sealed_secret: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column()


class TokenSigningKey(Base):
    """An ES256 key that signs citizen tokens; the private key is sealed, the public JWK published."""

    __tablename__ = "citizen_token_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    sealed_key: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
