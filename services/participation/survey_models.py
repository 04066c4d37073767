"""The after-transaction survey's tables: the single-use links an administration's service asks for when a citizen
completes a procedure, and the answers given through them (a rating from 1 to 5, and maybe an idea)."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from segell.services.models import Base, utcnow


class SurveyInvitation(Base):
    """A single-use link: `answered_at` is set once, by the one answer that spends it."""

    __tablename__ = "participation_survey_invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    procedure: Mapped[str] = mapped_column(String(64))
    procedure_name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(2))
    #: SHA-256 of the link's token: the database never holds a usable link.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()


class ServiceRating(Base):
    """The answer given through one invitation (one at most: `invitation_id` is unique)."""

    __tablename__ = "participation_service_ratings"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="ck_participation_service_ratings_rating"),
        Index("ix_participation_service_ratings_procedure", "administration_id", "procedure"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    invitation_id: Mapped[str] = mapped_column(ForeignKey("participation_survey_invitations.id"), unique=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"))
    procedure: Mapped[str] = mapped_column(String(64))
    rating: Mapped[int] = mapped_column(Integer)
    idea: Mapped[str | None] = mapped_column(Text)
    #: The proposal the idea became in the administration's ideas process, once it has one.
    proposal_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
