"""The SQL the transparency portal reads: mandatory publications (`Submission`) and who published them."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.opendata.models import Submission


def publishing_administrations(session: Session) -> list[Administration]:
    """Administrations with at least one submission, by code."""
    publishing = select(Submission.administration_id).distinct()
    query = select(Administration).where(Administration.id.in_(publishing)).order_by(Administration.code)
    return list(session.scalars(query))


def administration_by_code(session: Session, *, code: str) -> Administration | None:
    return session.scalars(select(Administration).where(func.lower(Administration.code) == code.lower())).first()


def submissions(
    session: Session,
    *,
    administration_ids: list[int] | None = None,
    block: str | None = None,
    period: int | None = None,
    current_only: bool = False,
) -> list[Submission]:
    """Submissions by administration, block, period (newest first) and version (newest first)."""
    query = select(Submission)
    if administration_ids is not None:
        query = query.where(Submission.administration_id.in_(administration_ids))
    if block is not None:
        query = query.where(Submission.block == block)
    if period is not None:
        query = query.where(Submission.period == period)
    if current_only:
        query = query.where(Submission.status == "current")
    order = (Submission.administration_id, Submission.block, Submission.period.desc(), Submission.version.desc())
    return list(session.scalars(query.order_by(*order)))
