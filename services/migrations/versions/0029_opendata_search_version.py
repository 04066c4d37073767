"""`opendata_search_version`: one row naming the state of the open-data search entries, a new random version with
every write of them, so that a process can tell in one cheap read whether the entries it knows to exist are still
those the database holds, and match and count words among them itself instead of asking the database.

Revision ID: 0029
Revises: 0028
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"


def upgrade() -> None:
    table = op.create_table(
        "opendata_search_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(table, [{"id": 1, "version": uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table("opendata_search_version")
