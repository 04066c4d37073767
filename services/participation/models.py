"""The participation domain's tables: processes, their projects and census, proposals in versions, supports, ballots.

One support per citizen per proposal and one ballot per citizen per process are primary keys, so the database
itself keeps them exact under any number of concurrent requests and API processes. No table counts anything: how
many supports a proposal has is a count of its rows, and a tally is computed from the published ballots at close.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from segell.services.models import Base, utcnow


class Process(Base):
    """A participation process of an administration: ``ideas``, ``challenge`` or ``budget``."""

    __tablename__ = "participation_processes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    process_type: Mapped[str] = mapped_column(String(16))
    title: Mapped[dict[str, str]] = mapped_column(JSON)
    description: Mapped[dict[str, str]] = mapped_column(JSON)
    #: [{"phase": "proposals" | "evaluation" | "voting" | "results", "starts_at": iso, "ends_at": iso}]
    phases: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    #: The ballot rules of a budget (budget_cap, min_projects, max_projects, min/max_projects_per_district,
    #: max_districts) or of a challenge's vote (min_projects, max_projects).
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    available_budget: Mapped[int | None] = mapped_column(BigInteger)
    services: Mapped[list[str]] = mapped_column(JSON)
    required_factor: Mapped[str | None] = mapped_column(String(16))
    eligibility: Mapped[str] = mapped_column(String(16))  # "census" | "citizens"
    ballot_replacement: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16))  # "open" | "closing" | "closed"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    ballots_count: Mapped[int | None] = mapped_column(Integer)
    ballots_root: Mapped[str | None] = mapped_column(String(64))
    ballots_sha256: Mapped[str | None] = mapped_column(String(64))
    ballots_receipt_id: Mapped[str | None] = mapped_column(String(32))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result_sha256: Mapped[str | None] = mapped_column(String(64))
    result_receipt_id: Mapped[str | None] = mapped_column(String(32))
    dataset_name: Mapped[str | None] = mapped_column(String(100))
    ballots_url: Mapped[str | None] = mapped_column(Text)
    result_url: Mapped[str | None] = mapped_column(Text)


class Project(Base):
    """A project of a participatory budget: what it costs (whole euros) and where (a district, or none: city-wide)."""

    __tablename__ = "participation_projects"

    process_id: Mapped[str] = mapped_column(ForeignKey("participation_processes.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[dict[str, str]] = mapped_column(JSON)
    description: Mapped[dict[str, str]] = mapped_column(JSON)
    cost: Mapped[int] = mapped_column(BigInteger)
    district: Mapped[str | None] = mapped_column(String(100))


class CensusEntry(Base):
    """One eligible citizen of a process, by the citizen id their login gives (``cit_...``): never a name."""

    __tablename__ = "participation_census"

    process_id: Mapped[str] = mapped_column(ForeignKey("participation_processes.id"), primary_key=True)
    citizen_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class Proposal(Base):
    """A citizen's proposal in a process; its text lives in its versions, the current one last."""

    __tablename__ = "participation_proposals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    process_id: Mapped[str] = mapped_column(ForeignKey("participation_processes.id"), index=True)
    author: Mapped[str] = mapped_column(String(64))  # the author's pseudonym in the process
    version: Mapped[int] = mapped_column(Integer)
    version_hash: Mapped[str] = mapped_column(String(64))
    verification_code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2))
    service: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    hidden_at: Mapped[datetime | None] = mapped_column()
    hidden_reason: Mapped[str | None] = mapped_column(Text)
    hidden_receipt_id: Mapped[str | None] = mapped_column(String(32))
    hidden_verification_code: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index("ix_participation_proposals_process_created", "process_id", "created_at"),)


class ProposalVersion(Base):
    """One version of a proposal: its text, its hash (which names the previous version's) and its receipt."""

    __tablename__ = "participation_proposal_versions"

    proposal_id: Mapped[str] = mapped_column(ForeignKey("participation_proposals.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_hash: Mapped[str] = mapped_column(String(64), unique=True)
    previous_hash: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    receipt_id: Mapped[str] = mapped_column(String(32))
    verification_code: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Support(Base):
    """A citizen's support of a proposal, bound to the version it was given to: one per citizen per proposal."""

    __tablename__ = "participation_supports"

    proposal_id: Mapped[str] = mapped_column(ForeignKey("participation_proposals.id"), primary_key=True)
    supporter: Mapped[str] = mapped_column(String(64), primary_key=True)  # the supporter's pseudonym
    version: Mapped[int] = mapped_column(Integer)
    version_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Ballot(Base):
    """A process's ballot of one voter (by pseudonym): the canonical record and its commitment. One per voter."""

    __tablename__ = "participation_ballots"

    process_id: Mapped[str] = mapped_column(ForeignKey("participation_processes.id"), primary_key=True)
    pseudonym: Mapped[str] = mapped_column(String(64), primary_key=True)
    commitment: Mapped[str] = mapped_column(String(64), unique=True)
    record: Mapped[str] = mapped_column(Text)
    cast_at: Mapped[datetime] = mapped_column(default=utcnow)
