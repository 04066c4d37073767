"""The open-data datastore's registry: each tabular resource's table, Table Schema and load report.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

from segell.services.models import UTCDateTime

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    op.create_table(
        "opendata_datastore_tables",
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("table_name", sa.String(length=63), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("rows_loaded", sa.BigInteger(), nullable=False),
        sa.Column("rows_rejected", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("loaded_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["opendata_resources.id"],
        ),
        sa.PrimaryKeyConstraint("resource_id"),
        sa.UniqueConstraint("table_name"),
    )


def downgrade() -> None:
    op.drop_table("opendata_datastore_tables")
