"""The open-data search index never reuses an entry id (AUTOINCREMENT on SQLite; PostgreSQL's sequence never did),
so that an id names one entry's content forever: a changed dataset's entry is written again under a new id, and
each process keeps what it has read of an entry by id without ever holding a stale copy.

On SQLite the table is rebuilt with the same rows and ids (and its facet rows, whose table refers to it); the
full-text index keeps its rows, which are keyed by the same ids. PostgreSQL needs nothing.

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

from segell.services.models import UTCDateTime

revision = "0021"
down_revision = "0020"

TRIGGERS = (
    "CREATE TRIGGER opendata_search_fts_insert AFTER INSERT ON opendata_search BEGIN"
    " INSERT INTO opendata_search_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER opendata_search_fts_delete AFTER DELETE ON opendata_search BEGIN"
    " INSERT INTO opendata_search_fts(opendata_search_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER opendata_search_fts_update AFTER UPDATE OF text ON opendata_search BEGIN"
    " INSERT INTO opendata_search_fts(opendata_search_fts, rowid, text) VALUES ('delete', old.id, old.text);"
    " INSERT INTO opendata_search_fts(rowid, text) VALUES (new.id, new.text); END",
)
ENTRY_COLUMNS = (
    "id, dataset_id, administration_id, private, name, title, created_at, modified_at, verification_code, text"
)
ENTRY_INDEXES = (
    ("ix_opendata_search_administration", ["administration_id", "private"]),
    ("ix_opendata_search_created", ["created_at", "id"]),
    ("ix_opendata_search_modified", ["modified_at", "id"]),
    ("ix_opendata_search_name", ["name", "id"]),
    ("ix_opendata_search_title", ["title", "id"]),
)


def _rebuild(autoincrement: bool) -> None:
    """Copy both tables into new ones (the entries' with or without AUTOINCREMENT), then put them in place: the
    facet rows first, so that dropping the old tables leaves no row referring to a dropped one."""
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER opendata_search_fts_{trigger}")
    op.create_table(
        "opendata_search_new",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("verification_code", sa.String(length=40), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["opendata_datasets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id"),
        sqlite_autoincrement=autoincrement,
    )
    op.execute(f"INSERT INTO opendata_search_new ({ENTRY_COLUMNS}) SELECT {ENTRY_COLUMNS} FROM opendata_search")
    op.create_table(
        "opendata_search_facets_new",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.SmallInteger(), nullable=False),
        sa.Column("value_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["opendata_search_new.id"]),
        sa.ForeignKeyConstraint(["value_id"], ["opendata_search_values.id"]),
        sa.PrimaryKeyConstraint("entry_id", "field", "value_id"),
    )
    op.execute(
        "INSERT INTO opendata_search_facets_new (entry_id, field, value_id)"
        " SELECT entry_id, field, value_id FROM opendata_search_facets"
    )
    op.drop_table("opendata_search_facets")
    op.drop_table("opendata_search")
    # Renaming the entries' table also renames the new facet table's reference to it.
    op.rename_table("opendata_search_new", "opendata_search")
    op.rename_table("opendata_search_facets_new", "opendata_search_facets")
    for name, columns in ENTRY_INDEXES:
        op.create_index(name, "opendata_search", columns, unique=False)
    op.create_index("ix_opendata_search_facets_value", "opendata_search_facets", ["value_id", "entry_id"], unique=False)
    for statement in TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=False)
