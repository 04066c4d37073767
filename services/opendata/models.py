"""The open-data domain's tables: datasets, their resources (files kept under ``$SEGELL_HOME/opendata``) and the
immutable versions each change makes, each notarised."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from segell.services.models import Base, utcnow


class Dataset(Base):
    __tablename__ = "opendata_datasets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    title: Mapped[dict[str, str]] = mapped_column(JSON)
    description: Mapped[dict[str, str]] = mapped_column(JSON)
    themes: Mapped[list[str]] = mapped_column(JSON)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    licence: Mapped[str] = mapped_column(String(40))
    temporal_start: Mapped[date | None] = mapped_column()
    temporal_end: Mapped[date | None] = mapped_column()
    spatial: Mapped[str | None] = mapped_column(String(300))
    frequency: Mapped[str | None] = mapped_column(String(20))
    private: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(10), default="active")
    #: Lower-case name, titles, descriptions and keywords, for `package_search`'s `q`.
    search_text: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow)


class Resource(Base):
    __tablename__ = "opendata_resources"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("opendata_datasets.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(10))
    filename: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    #: The file's Table Schema as its publisher gave it (CKAN's resource `schema`); its `primaryKey` matches rows
    #: between versions.
    table_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetVersion(Base):
    """What a dataset was after one change: its metadata and its resources' hashes, never changed again."""

    __tablename__ = "opendata_dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("opendata_datasets.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    activity: Mapped[str] = mapped_column(String(20))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    receipt_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SearchEntry(Base):
    """One active dataset as `package_search` finds it: its folded text (matched by the database's own full-text
    search: an FTS5 table on SQLite, a table of ``tsvector`` with a GIN index on PostgreSQL, both kept by triggers
    made by the migrations), and what it is sorted and shown by. Written with every change of the dataset, in its
    transaction; a deleted dataset has none."""

    __tablename__ = "opendata_search"
    __table_args__ = (
        Index("ix_opendata_search_modified", "modified_at", "id"),
        Index("ix_opendata_search_created", "created_at", "id"),
        Index("ix_opendata_search_name", "name", "id"),
        Index("ix_opendata_search_title", "title", "id"),
        Index("ix_opendata_search_administration", "administration_id", "private"),
        # Ids are never reused, so that an id names one entry's content forever (search_repository.index).
        {"sqlite_autoincrement": True},
    )

    #: The integer the full-text index and the facet rows know the dataset by; a changed dataset's entry is written
    #: again under a new one.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("opendata_datasets.id"), unique=True)
    administration_id: Mapped[int] = mapped_column(Integer)
    private: Mapped[bool] = mapped_column()
    name: Mapped[str] = mapped_column(String(100))
    #: The Catalan title, folded, for `title_string` sorting.
    title: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column()
    modified_at: Mapped[datetime] = mapped_column()
    #: The current version's verification code, so that a page of results needs no look-up per dataset.
    verification_code: Mapped[str | None] = mapped_column(String(40))
    #: Name, titles and descriptions in ca/es/en, keywords and publisher: lower case, accents folded, words
    #: separated by one space.
    text: Mapped[str] = mapped_column(Text)


class SearchValue(Base):
    """A value one of the facet fields takes (an organization, a theme, a keyword, a format...), by integer id,
    with how many public datasets hold it (the facet counts of a search with no `q` and no `fq`)."""

    __tablename__ = "opendata_search_values"
    __table_args__ = (
        UniqueConstraint("field", "value"),
        Index("ix_opendata_search_values_folded", "field", "folded"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: The facet field's number (`search.FACET_FIELDS`).
    field: Mapped[int] = mapped_column(SmallInteger)
    value: Mapped[str] = mapped_column(String(300))
    #: The value in lower case, as `fq` terms are matched.
    folded: Mapped[str] = mapped_column(String(300))
    public_datasets: Mapped[int] = mapped_column(Integer, default=0)


class SearchFacet(Base):
    """A dataset holds a facet value: what `fq` filters on and facets count, by integers only."""

    __tablename__ = "opendata_search_facets"
    __table_args__ = (Index("ix_opendata_search_facets_value", "value_id", "entry_id"),)

    entry_id: Mapped[int] = mapped_column(ForeignKey("opendata_search.id"), primary_key=True)
    field: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    value_id: Mapped[int] = mapped_column(ForeignKey("opendata_search_values.id"), primary_key=True)


class SearchVersion(Base):
    """Which state the search entries are in (one row): every write of entries gives it a new random version, in
    its transaction, so two reads that find the same version see the same entries, even across a rolled-back write
    (a process keeps which entries exist under that version, `search_repository._Entries.live`)."""

    __tablename__ = "opendata_search_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: 32 random hex digits.
    version: Mapped[str] = mapped_column(String(32))


class Submission(Base):
    """One structured submission of a mandatory publication (Llei 19/2014): an administration's block for a
    period, validated against the block's Table Schema, notarised and published. A correction is the next
    version of the same (administration, block, period); the one it replaces stays, marked superseded."""

    __tablename__ = "opendata_submissions"
    __table_args__ = (UniqueConstraint("administration_id", "block", "period", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    administration_id: Mapped[int] = mapped_column(ForeignKey("administrations.id"), index=True)
    #: ``budget``, ``salaries``, ``personnel``, ``contracts``, ``agreements``, ``subsidies`` or ``debt``.
    block: Mapped[str] = mapped_column(String(20))
    #: The year the submission covers.
    period: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    #: ``current`` or ``superseded``.
    status: Mapped[str] = mapped_column(String(12), default="current")
    superseded_by: Mapped[str | None] = mapped_column(String(36))
    #: Inhabitants the administration serves in that period, for figures per inhabitant.
    inhabitants: Mapped[int | None] = mapped_column(Integer)
    row_count: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(BigInteger)
    #: The submitted file's SHA-256: the file stored under the catalogue's files, and the hash notarised.
    sha256: Mapped[str] = mapped_column(String(64))
    #: Totals the portal charts, computed from the typed rows at submission (for a budget: per direction and
    #: chapter, ``{"expense": {"1": {"initial": ..., "final": ..., "executed": ...}}, "income": {...}}``).
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The administration's dataset for this block and the resource holding this version's file.
    dataset_id: Mapped[str] = mapped_column(ForeignKey("opendata_datasets.id"))
    resource_id: Mapped[str] = mapped_column(String(36))
    receipt_id: Mapped[str] = mapped_column(String(32))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubmissionAccess(Base):
    """A recipient configured for the deployment read a submission: who, what and when."""

    __tablename__ = "opendata_submission_accesses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("opendata_submissions.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(60))
    #: ``metadata``, ``file`` or ``rows``.
    what: Mapped[str] = mapped_column(String(20))
    accessed_at: Mapped[datetime] = mapped_column(default=utcnow)
