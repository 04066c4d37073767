"""The SQL of mandatory publications: submissions and their recipients' reads, as keyword-only functions."""

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.opendata.models import Submission, SubmissionAccess


def current_submission(
    session: Session, *, administration_id: int, block: str, period: int, for_update: bool = False
) -> Submission | None:
    query = select(Submission).where(
        Submission.administration_id == administration_id,
        Submission.block == block,
        Submission.period == period,
        Submission.status == "current",
    )
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def lock_submissions(session: Session, *, administration_id: int, block: str, period: int) -> None:
    """Lock every version of the block and year: a concurrent correction waits here until the one before it
    commits, then reads what that one left current (a fresh statement sees its new row)."""
    query = select(Submission.id).where(
        Submission.administration_id == administration_id, Submission.block == block, Submission.period == period
    )
    session.execute(query.with_for_update())


def last_version(session: Session, *, administration_id: int, block: str, period: int) -> int:
    query = select(func.max(Submission.version)).where(
        Submission.administration_id == administration_id, Submission.block == block, Submission.period == period
    )
    return session.scalar(query) or 0


def dataset_id_of_block(session: Session, *, administration_id: int, block: str) -> str | None:
    """The administration's dataset for the block, as its submissions name it."""
    query = select(Submission.dataset_id).where(
        Submission.administration_id == administration_id, Submission.block == block
    )
    return session.scalars(query.order_by(Submission.submitted_at.desc()).limit(1)).first()


def current_of_block(session: Session, *, block: str) -> list[tuple[Submission, Administration]]:
    """Every administration's current submissions of the block, by administration code and period."""
    query = (
        select(Submission, Administration)
        .join(Administration, Administration.id == Submission.administration_id)
        .where(Submission.block == block, Submission.status == "current")
        .order_by(Administration.code, Submission.period)
    )
    return [(submission, administration) for submission, administration in session.execute(query)]


def submissions(
    session: Session,
    *,
    administration_id: int | None = None,
    block: str | None = None,
    period: int | None = None,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[tuple[Submission, Administration]], int]:
    """Submissions matching the filters, newest first (`limit` of them from `offset`, or all), and how many match
    in all."""
    query = select(Submission, Administration).join(Administration, Administration.id == Submission.administration_id)
    if administration_id is not None:
        query = query.where(Submission.administration_id == administration_id)
    if block is not None:
        query = query.where(Submission.block == block)
    if period is not None:
        query = query.where(Submission.period == period)
    if status is not None:
        query = query.where(Submission.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = query.order_by(Submission.submitted_at.desc(), Submission.id).limit(limit).offset(offset)
    return [(submission, administration) for submission, administration in session.execute(page)], total


def submission_by_id(session: Session, *, submission_id: str) -> tuple[Submission, Administration] | None:
    query = (
        select(Submission, Administration)
        .join(Administration, Administration.id == Submission.administration_id)
        .where(Submission.id == submission_id)
    )
    row = session.execute(query).first()
    return (row[0], row[1]) if row is not None else None


def record_accesses(session: Session, *, submission_ids: Sequence[str], recipient: str, what: str) -> None:
    session.add_all(SubmissionAccess(submission_id=sid, recipient=recipient, what=what) for sid in submission_ids)
    session.flush()


def accesses_of(session: Session, *, submission_id: str) -> list[SubmissionAccess]:
    query = select(SubmissionAccess).where(SubmissionAccess.submission_id == submission_id)
    return list(session.scalars(query.order_by(SubmissionAccess.accessed_at, SubmissionAccess.id)))


def first_admitted(session: Session) -> Administration | None:
    query = select(Administration).order_by(Administration.admitted_at, Administration.id).limit(1)
    return session.scalars(query).first()
