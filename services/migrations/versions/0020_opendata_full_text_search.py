"""The open-data catalogue's search index: one row per active dataset with its folded text, matched by the
database's own full-text search (an FTS5 table kept by triggers on SQLite; a generated `tsvector` column with a
GIN index on PostgreSQL), and its facet values as integers.

The datasets already published are indexed when the catalogue starts (`opendata.search.index_missing`).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

from segell.services.models import UTCDateTime

revision = "0020"
down_revision = "0019"

# Kept out of the models (autogenerate cannot describe them): `migrations/env.py` leaves them out of comparisons.
SQLITE_FULL_TEXT = (
    "CREATE VIRTUAL TABLE opendata_search_fts USING fts5(text, content='opendata_search', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER opendata_search_fts_insert AFTER INSERT ON opendata_search BEGIN"
    " INSERT INTO opendata_search_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER opendata_search_fts_delete AFTER DELETE ON opendata_search BEGIN"
    " INSERT INTO opendata_search_fts(opendata_search_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER opendata_search_fts_update AFTER UPDATE OF text ON opendata_search BEGIN"
    " INSERT INTO opendata_search_fts(opendata_search_fts, rowid, text) VALUES ('delete', old.id, old.text);"
    " INSERT INTO opendata_search_fts(rowid, text) VALUES (new.id, new.text); END",
)
POSTGRESQL_FULL_TEXT = (
    "ALTER TABLE opendata_search ADD COLUMN text_vector tsvector"
    " GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, text)) STORED",
    "CREATE INDEX ix_opendata_search_text_vector ON opendata_search USING gin (text_vector)",
)


def upgrade() -> None:
    op.create_table(
        "opendata_search_values",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("field", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("folded", sa.String(length=300), nullable=False),
        sa.Column("public_datasets", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("field", "value"),
    )
    with op.batch_alter_table("opendata_search_values", schema=None) as batch_op:
        batch_op.create_index("ix_opendata_search_values_folded", ["field", "folded"], unique=False)

    op.create_table(
        "opendata_search",
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
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["opendata_datasets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id"),
    )
    with op.batch_alter_table("opendata_search", schema=None) as batch_op:
        batch_op.create_index("ix_opendata_search_administration", ["administration_id", "private"], unique=False)
        batch_op.create_index("ix_opendata_search_created", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_opendata_search_modified", ["modified_at", "id"], unique=False)
        batch_op.create_index("ix_opendata_search_name", ["name", "id"], unique=False)
        batch_op.create_index("ix_opendata_search_title", ["title", "id"], unique=False)

    op.create_table(
        "opendata_search_facets",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.SmallInteger(), nullable=False),
        sa.Column("value_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["opendata_search.id"],
        ),
        sa.ForeignKeyConstraint(
            ["value_id"],
            ["opendata_search_values.id"],
        ),
        sa.PrimaryKeyConstraint("entry_id", "field", "value_id"),
    )
    with op.batch_alter_table("opendata_search_facets", schema=None) as batch_op:
        batch_op.create_index("ix_opendata_search_facets_value", ["value_id", "entry_id"], unique=False)

    dialect = op.get_bind().dialect.name
    for statement in (
        SQLITE_FULL_TEXT if dialect == "sqlite" else POSTGRESQL_FULL_TEXT if dialect == "postgresql" else ()
    ):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER opendata_search_fts_{trigger}")
        op.execute("DROP TABLE opendata_search_fts")
    with op.batch_alter_table("opendata_search_facets", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_search_facets_value")

    op.drop_table("opendata_search_facets")
    with op.batch_alter_table("opendata_search", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_search_title")
        batch_op.drop_index("ix_opendata_search_name")
        batch_op.drop_index("ix_opendata_search_modified")
        batch_op.drop_index("ix_opendata_search_created")
        batch_op.drop_index("ix_opendata_search_administration")

    op.drop_table("opendata_search")
    with op.batch_alter_table("opendata_search_values", schema=None) as batch_op:
        batch_op.drop_index("ix_opendata_search_values_folded")

    op.drop_table("opendata_search_values")
