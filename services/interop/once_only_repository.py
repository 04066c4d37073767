"""SQL of the once-only tables: citizen subjects, reusable documents and the requests for them."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.interop.api import AccessLogEntry
from segell.services.interop.once_only_models import CitizenSubject, OnceOnlyRequest, ReusableDocument


def administration(session: Session, administration_id: int) -> Administration:
    found = session.get(Administration, administration_id)
    assert found is not None, "a foreign key names it"
    return found


def subject_of_citizen(session: Session, administration_id: int, citizen_id: str) -> CitizenSubject | None:
    return session.get(CitizenSubject, (administration_id, citizen_id))


def citizen_of_subject(session: Session, administration_id: int, subject_key: str) -> CitizenSubject | None:
    return session.scalars(
        select(CitizenSubject).where(
            CitizenSubject.administration_id == administration_id, CitizenSubject.subject_key == subject_key
        )
    ).first()


def add_citizen_subject(
    session: Session, *, administration_id: int, citizen_id: str, subject_key: str, now: datetime
) -> CitizenSubject:
    row = CitizenSubject(
        administration_id=administration_id, citizen_id=citizen_id, subject_key=subject_key, bound_at=now
    )
    session.add(row)
    session.flush()
    return row


def add_document(session: Session, row: ReusableDocument) -> ReusableDocument:
    session.add(row)
    session.flush()
    return row


def document(session: Session, document_id: str) -> ReusableDocument | None:
    return session.get(ReusableDocument, document_id)


def latest_document(session: Session, subject_key: str, document_type: str) -> ReusableDocument | None:
    """The subject's most recent document of that type still reusable, whoever holds it."""
    return session.scalars(
        select(ReusableDocument)
        .where(
            ReusableDocument.subject_key == subject_key,
            ReusableDocument.document_type == document_type,
            ReusableDocument.withdrawn_at.is_(None),
        )
        .order_by(ReusableDocument.created_at.desc(), ReusableDocument.id)
        .limit(1)
    ).first()


def add_request(session: Session, row: OnceOnlyRequest) -> OnceOnlyRequest:
    session.add(row)
    session.flush()
    return row


def request(session: Session, request_id: str) -> OnceOnlyRequest | None:
    return session.get(OnceOnlyRequest, request_id)


def decide(session: Session, request_id: str, subject_key: str, *, status: str, now: datetime) -> bool:
    """Record the citizen's decision on a request for their document still waiting for it, as the transaction's
    first statement (it waits for a decision being taken at the same time); False when there is none."""
    theirs = select(ReusableDocument.id).where(ReusableDocument.subject_key == subject_key)
    result = session.execute(
        update(OnceOnlyRequest)
        .where(
            OnceOnlyRequest.id == request_id,
            OnceOnlyRequest.status == "consent_pending",
            OnceOnlyRequest.document_id.in_(theirs),
        )
        .values(status=status, decided_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def claim_delivery(session: Session, request_id: str, consumer_id: int, now: datetime) -> bool:
    """Mark an authorised request of the consumer delivered, as the transaction's first statement, so that one
    delivery only is made of it however many fetch it at once; False when it is not (or no longer) authorised."""
    result = session.execute(
        update(OnceOnlyRequest)
        .where(
            OnceOnlyRequest.id == request_id,
            OnceOnlyRequest.consumer_id == consumer_id,
            OnceOnlyRequest.status == "authorised",
        )
        .values(status="delivered", delivered_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def requests_for_subject(session: Session, subject_key: str) -> Sequence[tuple[OnceOnlyRequest, ReusableDocument]]:
    rows = session.execute(
        select(OnceOnlyRequest, ReusableDocument)
        .join(ReusableDocument, ReusableDocument.id == OnceOnlyRequest.document_id)
        .where(ReusableDocument.subject_key == subject_key)
        .order_by(OnceOnlyRequest.created_at.desc(), OnceOnlyRequest.id)
    ).all()
    return [(row[0], row[1]) for row in rows]


def deliver(
    session: Session,
    row: OnceOnlyRequest,
    entry: AccessLogEntry,
    *,
    request_document: str,
    answer_jws: str,
    request_receipt_id: str,
    answer_receipt_id: str,
) -> None:
    """Record a claimed request's delivery and its access-log entry, in the caller's transaction."""
    row.request_document = request_document
    row.answer_jws = answer_jws
    row.request_receipt_id = request_receipt_id
    row.answer_receipt_id = answer_receipt_id
    session.add(entry)
    session.flush()
