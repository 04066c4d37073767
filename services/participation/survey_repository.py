"""SQL of the after-transaction survey."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from segell.services.participation.models import Process
from segell.services.participation.survey_models import ServiceRating, SurveyInvitation


def add_invitation(session: Session, invitation: SurveyInvitation) -> None:
    session.add(invitation)
    session.flush()


def invitation_by_token_hash(session: Session, *, token_hash: str) -> SurveyInvitation | None:
    return session.scalars(select(SurveyInvitation).where(SurveyInvitation.token_hash == token_hash)).first()


def spend_invitation(session: Session, *, token_hash: str, now: datetime) -> bool:
    """Mark the invitation answered, if it is still open: one statement, so that of answers racing for one link
    exactly one finds it open (PostgreSQL re-checks the condition once the row lock it waited for is released;
    SQLite runs writers one at a time)."""
    statement = (
        update(SurveyInvitation)
        .where(
            and_(
                SurveyInvitation.token_hash == token_hash,
                SurveyInvitation.answered_at.is_(None),
                SurveyInvitation.expires_at > now,
            )
        )
        .values(answered_at=now)
        .execution_options(synchronize_session=False)
    )
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def add_rating(session: Session, rating: ServiceRating) -> None:
    session.add(rating)
    session.flush()


def procedure_names(session: Session, *, administration_id: int) -> dict[str, str]:
    """The latest name each procedure was given in an invitation."""
    query = (
        select(SurveyInvitation.procedure, SurveyInvitation.procedure_name)
        .where(SurveyInvitation.administration_id == administration_id, SurveyInvitation.procedure_name.is_not(None))
        .order_by(SurveyInvitation.created_at)
    )
    return {procedure: name for procedure, name in session.execute(query) if name}


def rating_counts(session: Session, *, administration_id: int) -> Sequence[tuple[str, int, int]]:
    """(procedure, rating, count) of every rating the administration's procedures received."""
    query = (
        select(ServiceRating.procedure, ServiceRating.rating, func.count())
        .where(ServiceRating.administration_id == administration_id)
        .group_by(ServiceRating.procedure, ServiceRating.rating)
        .order_by(ServiceRating.procedure, ServiceRating.rating)
    )
    return [(procedure, int(rating), int(count)) for procedure, rating, count in session.execute(query)]


def ideas_without_proposal(session: Session, *, administration_id: int, limit: int) -> list[ServiceRating]:
    query = (
        select(ServiceRating)
        .where(
            ServiceRating.administration_id == administration_id,
            ServiceRating.idea.is_not(None),
            ServiceRating.proposal_id.is_(None),
        )
        .order_by(ServiceRating.created_at)
        .limit(limit)
    )
    return list(session.scalars(query))


def open_ideas_processes(session: Session, *, administration_id: int) -> list[Process]:
    """The administration's open ideas processes that take an idea from anyone with a link (no census, no factor),
    newest first."""
    query = (
        select(Process)
        .where(
            Process.administration_id == administration_id,
            Process.process_type == "ideas",
            Process.status == "open",
            Process.eligibility == "citizens",
            Process.required_factor.is_(None),
        )
        .order_by(Process.created_at.desc())
    )
    return list(session.scalars(query))
