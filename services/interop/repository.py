"""The interoperability domain's SQL, as keyword-only functions."""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, text
from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.interop.models import (
    AccessLogEntry,
    Authorisation,
    DataService,
    Exchange,
    LogDigest,
    ProviderRecord,
)
from segell.services.locks import is_shared_database, lock_key

_exchanges: Table = Exchange.__table__  # type: ignore[assignment]
_entries: Table = AccessLogEntry.__table__  # type: ignore[assignment]
_authorisations: Table = Authorisation.__table__  # type: ignore[assignment]
_records: Table = ProviderRecord.__table__  # type: ignore[assignment]

# The statements an exchange's group runs, built once and run on the connection: building a statement and the ORM's
# handling of it cost more than the query itself, once for each group of exchanges.
_AUTHORISATIONS_IN = select(
    _authorisations.c.service_id,
    _authorisations.c.consumer_id,
    _authorisations.c.procedure_code,
    _authorisations.c.status,
).where(
    _authorisations.c.service_id.in_(bindparam("services", expanding=True)),
    _authorisations.c.consumer_id.in_(bindparam("consumers", expanding=True)),
    _authorisations.c.procedure_code.in_(bindparam("procedures", expanding=True)),
)
_RECORDS_IN = select(_records.c.subject_key, _records.c.data).where(
    _records.c.service_id == bindparam("service_id"), _records.c.subject_key.in_(bindparam("keys", expanding=True))
)
_INSERT_EXCHANGES = insert(_exchanges)
_INSERT_ENTRIES = insert(_entries)


def add_service(session: Session, **values: Any) -> DataService:
    row = DataService(**values)
    session.add(row)
    session.flush()
    return row


def get_service(session: Session, service_id: str) -> DataService | None:
    return session.get(DataService, service_id)


def service_by_code(session: Session, *, provider_id: int, code: str) -> DataService | None:
    return session.scalar(select(DataService).where(DataService.provider_id == provider_id, DataService.code == code))


def list_services(session: Session) -> Sequence[tuple[DataService, str]]:
    rows = session.execute(
        select(DataService, Administration.code)
        .join(Administration, Administration.id == DataService.provider_id)
        .order_by(Administration.code, DataService.code)
    )
    return [(row[0], row[1]) for row in rows]


def administration_code(session: Session, administration_id: int) -> str:
    return session.scalars(select(Administration.code).where(Administration.id == administration_id)).one()


def put_records(session: Session, *, service_id: str, records: dict[str, dict[str, Any]], now: datetime) -> None:
    """Write a built-in provider's records, replacing a citizen's earlier one."""
    session.execute(
        delete(ProviderRecord).where(
            ProviderRecord.service_id == service_id, ProviderRecord.subject_key.in_(list(records))
        )
    )
    session.add_all(
        ProviderRecord(service_id=service_id, subject_key=key, data=data, uploaded_at=now)
        for key, data in records.items()
    )
    session.flush()


def record_of(session: Session, *, service_id: str, subject_key: str) -> ProviderRecord | None:
    return session.get(ProviderRecord, (service_id, subject_key))


def add_authorisation(session: Session, **values: Any) -> Authorisation:
    row = Authorisation(**values)
    session.add(row)
    session.flush()
    return row


def get_authorisation(session: Session, authorisation_id: str) -> Authorisation | None:
    return session.get(Authorisation, authorisation_id)


def authorisation_for(
    session: Session, *, service_id: str, consumer_id: int, procedure_code: str
) -> Authorisation | None:
    return session.scalar(
        select(Authorisation).where(
            Authorisation.service_id == service_id,
            Authorisation.consumer_id == consumer_id,
            Authorisation.procedure_code == procedure_code,
        )
    )


def authorisations_in(session: Session, *, wanted: set[tuple[str, int, str]]) -> dict[tuple[str, int, str], str]:
    """The status of the authorisation of (service, consumer, procedure) each, those that exist, in one query."""
    if not wanted:
        return {}
    rows = session.connection().execute(
        _AUTHORISATIONS_IN,
        {
            "services": sorted({service_id for service_id, _, _ in wanted}),
            "consumers": sorted({consumer_id for _, consumer_id, _ in wanted}),
            "procedures": sorted({procedure for _, _, procedure in wanted}),
        },
    )
    found = {(row[0], row[1], row[2]): str(row[3]) for row in rows}
    return {key: status for key, status in found.items() if key in wanted}


def records_in(session: Session, *, service_id: str, subject_keys: set[str]) -> dict[str, dict[str, Any]]:
    """The data of a built-in service's records for the citizens keyed `subject_keys`, those it holds."""
    found: dict[str, dict[str, Any]] = {}
    keys = sorted(subject_keys)
    connection = session.connection()
    for start in range(0, len(keys), 500):
        rows = connection.execute(_RECORDS_IN, {"service_id": service_id, "keys": keys[start : start + 500]})
        found.update((row[0], dict(row[1])) for row in rows)
    return found


def authorisations_of(session: Session, administration_id: int) -> Sequence[tuple[Authorisation, DataService]]:
    """Those the administration asked for as consumer, or decides on as provider, newest first."""
    rows = session.execute(
        select(Authorisation, DataService)
        .join(DataService, DataService.id == Authorisation.service_id)
        .where(or_(Authorisation.consumer_id == administration_id, DataService.provider_id == administration_id))
        .order_by(Authorisation.requested_at.desc(), Authorisation.id)
    )
    return [(row[0], row[1]) for row in rows]


def add_exchanges(session: Session, exchanges: list[dict[str, Any]], entries: list[dict[str, Any]]) -> None:
    """Write exchanges and their access-log entries (numbered in this order), one statement for each table."""
    if exchanges:
        connection = session.connection()
        connection.execute(_INSERT_EXCHANGES, exchanges)
        connection.execute(_INSERT_ENTRIES, entries)


def get_exchange(session: Session, exchange_id: str) -> Exchange | None:
    return session.get(Exchange, exchange_id)


def accesses_of(session: Session, *, subject_key: str, now: datetime) -> Sequence[AccessLogEntry]:
    """The log entries of a citizen that are no longer hidden at `now`, newest first."""
    return session.scalars(
        select(AccessLogEntry)
        .where(
            AccessLogEntry.subject_key == subject_key,
            or_(AccessLogEntry.hidden_until.is_(None), AccessLogEntry.hidden_until <= now),
        )
        .order_by(AccessLogEntry.at.desc(), AccessLogEntry.id.desc())
    ).all()


def access_of(session: Session, *, subject_key: str, exchange_id: str, now: datetime) -> AccessLogEntry | None:
    """One log entry of a citizen, unless it is still hidden at `now`."""
    return session.scalar(
        select(AccessLogEntry).where(
            AccessLogEntry.exchange_id == exchange_id,
            AccessLogEntry.subject_key == subject_key,
            or_(AccessLogEntry.hidden_until.is_(None), AccessLogEntry.hidden_until <= now),
        )
    )


def administration_codes(session: Session, ids: set[int]) -> dict[int, tuple[str, str]]:
    """(code, name) of each administration id."""
    rows = session.execute(
        select(Administration.id, Administration.code, Administration.name).where(Administration.id.in_(ids))
    )
    return {row[0]: (row[1], row[2]) for row in rows}


def log_entries_of_day(session: Session, *, consumer_id: int, day: date) -> Sequence[AccessLogEntry]:
    return session.scalars(
        select(AccessLogEntry)
        .where(AccessLogEntry.consumer_id == consumer_id, AccessLogEntry.day == day)
        .order_by(AccessLogEntry.id)
    ).all()


def days_to_close(session: Session, *, before: date) -> Sequence[tuple[int, date]]:
    """(consumer, day) of every day before `before` that has entries and no digest."""
    rows = session.execute(
        select(AccessLogEntry.consumer_id, AccessLogEntry.day)
        .outerjoin(
            LogDigest, (LogDigest.consumer_id == AccessLogEntry.consumer_id) & (LogDigest.day == AccessLogEntry.day)
        )
        .where(AccessLogEntry.day < before, LogDigest.day.is_(None))
        .group_by(AccessLogEntry.consumer_id, AccessLogEntry.day)
        .order_by(AccessLogEntry.day)
    )
    return [(row[0], row[1]) for row in rows]


def lock_log_day(session: Session, *, consumer_id: int, day: date) -> None:
    """Hold one consumer's log of one day until the transaction ends, across the processes sharing PostgreSQL (on
    SQLite a write transaction holds the whole database already)."""
    connection = session.connection()
    if is_shared_database(connection.engine):
        key = lock_key(connection, f"interop-log-day:{consumer_id}:{day.isoformat()}")
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def add_digest(session: Session, digest: LogDigest) -> None:
    session.add(digest)
    session.flush()


def digest_of(session: Session, *, consumer_id: int, day: date) -> LogDigest | None:
    return session.get(LogDigest, (consumer_id, day))


def count_entries(session: Session, *, consumer_id: int, day: date) -> int:
    return (
        session.scalar(select(func.count()).where(AccessLogEntry.consumer_id == consumer_id, AccessLogEntry.day == day))
        or 0
    )
