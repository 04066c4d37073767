"""`opendata_search_changes`: one row counting the writes of the open-data search entries, so that a process can
tell, in one cheap read, whether the entries it knows to exist are still those the database holds (and take each
word's document count for relevance from what it holds instead of counting in the database).

Revision ID: 0028
Revises: 0027
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"


def upgrade() -> None:
    op.create_table(
        "opendata_search_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO opendata_search_changes (id, changes) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("opendata_search_changes")
