"""An open-data resource's Table Schema, as its publisher gives it.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"


def upgrade() -> None:
    with op.batch_alter_table("opendata_resources") as batch_op:
        batch_op.add_column(sa.Column("table_schema", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("opendata_resources") as batch_op:
        batch_op.drop_column("table_schema")
