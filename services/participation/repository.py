"""The participation domain's SQL, as keyword-only functions."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Select, Table, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.participation.models import (
    Ballot,
    CensusEntry,
    Process,
    Project,
    Proposal,
    ProposalVersion,
    Support,
)

# -- processes ----------------------------------------------------------------------------------------------------


def process_by_id(session: Session, *, process_id: str) -> Process | None:
    return session.get(Process, process_id)


def processes(
    session: Session, *, administration_id: int | None, process_type: str | None, status: str | None, limit: int
) -> list[Process]:
    query = select(Process).order_by(Process.created_at.desc(), Process.id).limit(limit)
    if administration_id is not None:
        query = query.where(Process.administration_id == administration_id)
    if process_type is not None:
        query = query.where(Process.process_type == process_type)
    if status is not None:
        query = query.where(Process.status == status)
    return list(session.scalars(query))


def projects_of(session: Session, *, process_id: str) -> list[Project]:
    return list(session.scalars(select(Project).where(Project.process_id == process_id).order_by(Project.position)))


def start_closing(session: Session, *, process_id: str) -> bool:
    """Mark an open process as closing; False when it was not open. On PostgreSQL this waits for the ballots being
    cast (each holds the process row FOR SHARE) and holds back the next ones until the close commits."""
    changed = session.execute(
        update(Process).where(Process.id == process_id, Process.status == "open").values(status="closing")
    )
    return bool(changed.rowcount)  # type: ignore[attr-defined]


def statuses_for_ballots(session: Session, *, process_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Each process's status and its administration's, read after the ballots' inserts: the processes FOR SHARE,
    so a close in progress is waited for."""
    processes, administrations = Process.__table__, Administration.__table__
    query = (
        select(processes.c.id, processes.c.status, administrations.c.status)
        .join(administrations, administrations.c.id == processes.c.administration_id)
        .where(processes.c.id.in_(process_ids))
        .with_for_update(read=True, of=processes)
    )
    return {row[0]: (row[1], row[2]) for row in session.execute(query)}


# -- the census ---------------------------------------------------------------------------------------------------


def add_to_census(session: Session, *, process_id: str, citizen_ids: Iterable[str]) -> int:
    """Add ids to a process's census (an id already in it stays once); how many were new."""
    rows = [{"process_id": process_id, "citizen_id": citizen_id} for citizen_id in dict.fromkeys(citizen_ids)]
    before = census_size(session, process_id=process_id)
    insert_ignoring = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for start in range(0, len(rows), 5000):
        session.execute(insert_ignoring(CensusEntry).on_conflict_do_nothing(), rows[start : start + 5000])
    return census_size(session, process_id=process_id) - before


def census_size(session: Session, *, process_id: str) -> int:
    return int(session.scalar(select(func.count()).where(CensusEntry.process_id == process_id)) or 0)


def in_census(session: Session, *, process_id: str, citizen_id: str) -> bool:
    return session.get(CensusEntry, (process_id, citizen_id)) is not None


def in_census_of(session: Session, *, process_id: str, citizen_ids: Iterable[str]) -> set[str]:
    """Which of `citizen_ids` are in the process's census."""
    census = CensusEntry.__table__
    query = select(census.c.citizen_id).where(census.c.process_id == process_id, census.c.citizen_id.in_(citizen_ids))
    return set(session.scalars(query))


# -- proposals and supports -----------------------------------------------------------------------------------------


def proposal_by_id(session: Session, *, proposal_id: str, for_update: bool = False) -> Proposal | None:
    query = select(Proposal).where(Proposal.id == proposal_id)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def versions_of(session: Session, *, proposal_id: str) -> list[ProposalVersion]:
    query = select(ProposalVersion).where(ProposalVersion.proposal_id == proposal_id).order_by(ProposalVersion.version)
    return list(session.scalars(query))


def version_by_hash(session: Session, *, version_hash: str) -> ProposalVersion | None:
    return session.scalar(select(ProposalVersion).where(ProposalVersion.version_hash == version_hash))


def current_versions(session: Session, *, process_id: str) -> list[tuple[str, str]]:
    """(proposal id, current version hash) of a process's visible proposals: a challenge's options."""
    query = select(Proposal.id, Proposal.version_hash).where(
        Proposal.process_id == process_id, Proposal.hidden_at.is_(None)
    )
    return [(row[0], row[1]) for row in session.execute(query)]


def version_labels(session: Session, *, process_id: str) -> list[tuple[str, str, int, str, bool, bool]]:
    """(version hash, proposal id, version, title, current, hidden) of every version of a process's proposals,
    proposals in the order they were made, versions in theirs: what a challenge's ballot and result name."""
    query = (
        select(
            ProposalVersion.version_hash,
            Proposal.id,
            ProposalVersion.version,
            ProposalVersion.title,
            Proposal.version_hash == ProposalVersion.version_hash,
            Proposal.hidden_at.is_not(None),
        )
        .join(Proposal, Proposal.id == ProposalVersion.proposal_id)
        .where(Proposal.process_id == process_id)
        .order_by(Proposal.created_at, Proposal.id, ProposalVersion.version)
    )
    return [(row[0], row[1], int(row[2]), row[3], bool(row[4]), bool(row[5])) for row in session.execute(query)]


def add_support(
    session: Session, *, proposal_id: str, supporter: str, version: int, version_hash: str, created_at: datetime
) -> bool:
    """Record a support; False when the supporter had already supported the proposal (the primary key decides)."""
    values = {
        "proposal_id": proposal_id,
        "supporter": supporter,
        "version": version,
        "version_hash": version_hash,
        "created_at": created_at,
    }
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(Support).values(values)
    # RETURNING says whether the row went in: psycopg answers rowcount -1 for INSERT ... ON CONFLICT.
    return session.execute(statement.on_conflict_do_nothing().returning(Support.supporter)).first() is not None


def support_counts(session: Session, *, proposal_ids: Sequence[str]) -> dict[str, tuple[int, dict[str, int]]]:
    """Per proposal: its supports, and how many each version hash got."""
    counts: dict[str, tuple[int, dict[str, int]]] = {}
    if not proposal_ids:
        return counts
    query = (
        select(Support.proposal_id, Support.version_hash, func.count())
        .where(Support.proposal_id.in_(proposal_ids))
        .group_by(Support.proposal_id, Support.version_hash)
    )
    for proposal_id, version_hash, number in session.execute(query):
        total, per_version = counts.get(proposal_id, (0, {}))
        per_version[version_hash] = int(number)
        counts[proposal_id] = (total + int(number), per_version)
    return counts


def _proposal_filter(
    query: Select[tuple[Proposal]], *, process_id: str, text: str | None, service: str | None
) -> Select[tuple[Proposal]]:
    query = query.where(Proposal.process_id == process_id, Proposal.hidden_at.is_(None))
    if service is not None:
        query = query.where(Proposal.service == service)
    if text:
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                func.lower(Proposal.title).like(pattern, escape="\\"),
                func.lower(Proposal.body).like(pattern, escape="\\"),
            )
        )
    return query


def search_proposals(
    session: Session,
    *,
    process_id: str,
    text: str | None,
    service: str | None,
    sort: str,
    limit: int,
    offset: int,
) -> tuple[list[Proposal], int]:
    """A page of a process's visible proposals, `sort` by ``supports`` or ``newest``, and how many match."""
    total = int(
        session.scalar(
            _proposal_filter(select(func.count(Proposal.id)), process_id=process_id, text=text, service=service)
        )
        or 0
    )
    query = _proposal_filter(select(Proposal), process_id=process_id, text=text, service=service)
    if sort == "supports":
        supports = (
            select(Support.proposal_id, func.count().label("n")).group_by(Support.proposal_id).subquery("supports")
        )
        query = query.outerjoin(supports, supports.c.proposal_id == Proposal.id).order_by(
            func.coalesce(supports.c.n, 0).desc(), Proposal.created_at.desc(), Proposal.id
        )
    else:
        query = query.order_by(Proposal.created_at.desc(), Proposal.id)
    return list(session.scalars(query.limit(limit).offset(offset))), total


def matching_proposal_ids(session: Session, *, process_id: str, text: str | None, service: str | None) -> list[str]:
    query = _proposal_filter(select(Proposal.id), process_id=process_id, text=text, service=service)
    return list(session.scalars(query))


def proposals_by_ids(session: Session, *, proposal_ids: Sequence[str]) -> dict[str, Proposal]:
    return {p.id: p for p in session.scalars(select(Proposal).where(Proposal.id.in_(proposal_ids)))}


# -- ballots ------------------------------------------------------------------------------------------------------


def insert_ballots(session: Session, rows: Sequence[dict[str, object]]) -> set[tuple[str, str]]:
    """Insert ballots (one per voter and process at most), each unless its voter has one already (the primary key
    decides): the (process id, pseudonym) of those inserted."""
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    ballots = cast(Table, Ballot.__table__)
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(ballots).on_conflict_do_nothing()
    returning = statement.returning(ballots.c.process_id, ballots.c.pseudonym)
    return {(row[0], row[1]) for row in session.execute(returning, list(rows))}


def replace_ballot(
    session: Session, *, process_id: str, pseudonym: str, commitment: str, record: str, cast_at: datetime
) -> None:
    """Replace a voter's ballot."""
    session.execute(
        update(Ballot)
        .where(Ballot.process_id == process_id, Ballot.pseudonym == pseudonym)
        .values(commitment=commitment, record=record, cast_at=cast_at)
    )


def ballot_records(session: Session, *, process_id: str) -> list[str]:
    """The canonical records of a process's ballots."""
    return list(session.scalars(select(Ballot.record).where(Ballot.process_id == process_id)))


def ballot_count(session: Session, *, process_id: str) -> int:
    return int(session.scalar(select(func.count()).where(Ballot.process_id == process_id)) or 0)


def add_projects(session: Session, *, rows: list[dict[str, object]]) -> None:
    if rows:
        session.execute(insert(Project), rows)


def ballot_record(session: Session, *, process_id: str, commitment: str) -> str | None:
    query = select(Ballot.record).where(Ballot.process_id == process_id, Ballot.commitment == commitment)
    return session.scalar(query)


def commitments_of(session: Session, *, process_id: str) -> list[str]:
    return list(session.scalars(select(Ballot.commitment).where(Ballot.process_id == process_id)))


def all_version_hashes(session: Session, *, process_id: str) -> list[str]:
    """Every version hash of every proposal of a process, hidden ones included: a challenge's options at close."""
    query = (
        select(ProposalVersion.version_hash)
        .join(Proposal, Proposal.id == ProposalVersion.proposal_id)
        .where(Proposal.process_id == process_id)
        .order_by(ProposalVersion.version_hash)
    )
    return list(session.scalars(query))


def administration_codes(session: Session, *, administration_ids: Iterable[int]) -> dict[int, str]:
    ids = set(administration_ids)
    if not ids:
        return {}
    query = select(Administration.id, Administration.code).where(Administration.id.in_(ids))
    return {row[0]: row[1] for row in session.execute(query)}


def administration_id_of(session: Session, *, code: str) -> int | None:
    return session.scalar(select(Administration.id).where(Administration.code == code))
