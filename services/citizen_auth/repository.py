"""SQL for citizen authentication."""

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar

from sqlalchemy import CursorResult, Select, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.citizen_auth.models import AuthEvent, LimitTurn, OtpChallenge, SmsOutboxEntry, TotpEnrolment

RowT = TypeVar("RowT")


def take_turns(session: Session, administration_id: int, subjects: Iterable[str], now: datetime) -> None:
    """Wait until no other transaction counts events for these subjects, and keep them until this one ends.

    It must be the first statement of the transaction: on SQLite the write opens the transaction under the
    database's write lock, so that the counts read next are the latest; on PostgreSQL the upsert locks each
    subject's row. Rows are taken in one order, so that two operations never wait for each other.
    """
    rows = [{"administration_id": administration_id, "subject": s, "taken_at": now} for s in sorted(set(subjects))]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    upsert = dialect.insert(LimitTurn).values(rows)
    upsert = upsert.on_conflict_do_update(
        index_elements=[LimitTurn.administration_id, LimitTurn.subject], set_={"taken_at": upsert.excluded.taken_at}
    )
    session.execute(upsert)


def recent_event_times(
    session: Session, administration_id: int, kind: str, subject: str, *, since: datetime, limit: int
) -> list[datetime]:
    """The times of the `limit` newest events since `since`, newest first."""
    query = (
        select(AuthEvent.at)
        .where(
            AuthEvent.administration_id == administration_id,
            AuthEvent.kind == kind,
            AuthEvent.subject == subject,
            AuthEvent.at > since,
        )
        .order_by(AuthEvent.at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def add_event(session: Session, administration_id: int, kind: str, subject: str, at: datetime) -> None:
    session.add(AuthEvent(administration_id=administration_id, kind=kind, subject=subject, at=at))


def clear_events(session: Session, administration_id: int, kinds: tuple[str, ...], subject: str) -> None:
    session.execute(
        delete(AuthEvent).where(
            AuthEvent.administration_id == administration_id, AuthEvent.kind.in_(kinds), AuthEvent.subject == subject
        )
    )


def supersede_pending(session: Session, administration_id: int, phone_hash: str) -> None:
    session.execute(
        update(OtpChallenge)
        .where(
            OtpChallenge.administration_id == administration_id,
            OtpChallenge.phone_hash == phone_hash,
            OtpChallenge.status == "pending",
        )
        .values(status="superseded")
    )


def pending_challenge(session: Session, administration_id: int, phone_hash: str) -> OtpChallenge | None:
    query = select(OtpChallenge).where(
        OtpChallenge.administration_id == administration_id,
        OtpChallenge.phone_hash == phone_hash,
        OtpChallenge.status == "pending",
    )
    return session.scalar(query.order_by(OtpChallenge.created_at.desc()).limit(1))


def _changed(result: object) -> bool:
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def take_attempt(session: Session, challenge_id: str, max_attempts: int, now: datetime) -> bool:
    """Count one try against a live challenge; False when it is used up, expired or already spent (atomic)."""
    result = session.execute(
        update(OtpChallenge)
        .where(
            OtpChallenge.id == challenge_id,
            OtpChallenge.status == "pending",
            OtpChallenge.attempts < max_attempts,
            OtpChallenge.expires_at > now,
        )
        .values(attempts=OtpChallenge.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


def set_challenge_status(
    session: Session, challenge_id: str, status: str, *, used_at: datetime | None = None, only_pending: bool = True
) -> bool:
    query = update(OtpChallenge).where(OtpChallenge.id == challenge_id)
    if only_pending:
        query = query.where(OtpChallenge.status == "pending")
    values: dict[str, object] = {"status": status}
    if used_at is not None:
        values["used_at"] = used_at
    return _changed(session.execute(query.values(**values).execution_options(synchronize_session=False)))


def add_outbox_message(
    session: Session,
    *,
    administration_id: int,
    phone_hash: str,
    sealed_message: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    session.add(
        SmsOutboxEntry(
            administration_id=administration_id,
            phone_hash=phone_hash,
            sealed_message=sealed_message,
            created_at=created_at,
            expires_at=expires_at,
        )
    )


def outbox(
    session: Session, *, administration_id: int | None, phone_hash: str | None, now: datetime, limit: int
) -> list[tuple[SmsOutboxEntry, str]]:
    """The messages whose code has not expired yet, newest first, with their administration's code."""
    query = (
        select(SmsOutboxEntry, Administration.code)
        .join(Administration, Administration.id == SmsOutboxEntry.administration_id)
        .where(SmsOutboxEntry.expires_at > now)
    )
    if administration_id is not None:
        query = query.where(SmsOutboxEntry.administration_id == administration_id)
    if phone_hash is not None:
        query = query.where(SmsOutboxEntry.phone_hash == phone_hash)
    rows = session.execute(query.order_by(SmsOutboxEntry.id.desc()).limit(limit)).all()
    return [(entry, code) for entry, code in rows]


def _unlocked(query: Select[RowT]) -> Select[RowT]:
    # A clean-up never waits for, nor makes wait, a login that holds a row: it leaves that row for the next one.
    return query.with_for_update(skip_locked=True)


def delete_expired_messages(session: Session, *, now: datetime) -> None:
    """Delete every administration's outbox messages whose code has expired."""
    expired = _unlocked(select(SmsOutboxEntry.id).where(SmsOutboxEntry.expires_at <= now))
    session.execute(delete(SmsOutboxEntry).where(SmsOutboxEntry.id.in_(expired)))


def totp_enrolment(session: Session, administration_id: int, citizen_id: str, status: str) -> TotpEnrolment | None:
    query = select(TotpEnrolment).where(
        TotpEnrolment.administration_id == administration_id,
        TotpEnrolment.citizen_id == citizen_id,
        TotpEnrolment.status == status,
    )
    return session.scalar(query.order_by(TotpEnrolment.created_at.desc()).limit(1))


def delete_totp(session: Session, administration_id: int, citizen_id: str, status: str) -> None:
    session.execute(
        delete(TotpEnrolment).where(
            TotpEnrolment.administration_id == administration_id,
            TotpEnrolment.citizen_id == citizen_id,
            TotpEnrolment.status == status,
        )
    )


def advance_totp_step(session: Session, enrolment_id: str, step: int) -> bool:
    """Record `step` as used; False when it, or a later one, already was (a replay, or a concurrent login)."""
    result = session.execute(
        update(TotpEnrolment)
        .where(
            TotpEnrolment.id == enrolment_id,
            or_(TotpEnrolment.last_step.is_(None), TotpEnrolment.last_step < step),
        )
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    return _changed(result)


def prune(session: Session, administration_id: int, *, before: datetime) -> None:
    """Forget what no rule looks at any more: events, turns, and finished or expired challenges older than `before`."""
    events = select(AuthEvent.id).where(AuthEvent.administration_id == administration_id, AuthEvent.at < before)
    session.execute(delete(AuthEvent).where(AuthEvent.id.in_(_unlocked(events))))
    challenges = select(OtpChallenge.id).where(
        OtpChallenge.administration_id == administration_id, OtpChallenge.expires_at < before
    )
    session.execute(delete(OtpChallenge).where(OtpChallenge.id.in_(_unlocked(challenges))))
    turns = select(LimitTurn.subject).where(
        LimitTurn.administration_id == administration_id, LimitTurn.taken_at < before
    )
    unlocked_turns = LimitTurn.subject.in_(_unlocked(turns))
    session.execute(delete(LimitTurn).where(LimitTurn.administration_id == administration_id, unlocked_turns))
