"""Citizen certificates need the citizen: the pseudonym a certificate was issued to, and each citizen's national id.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.add_column("certificates", sa.Column("citizen_id", sa.String(64)))
    op.create_table(
        "certificate_citizen_holders",
        sa.Column("administration_id", sa.Integer, sa.ForeignKey("administrations.id"), primary_key=True),
        sa.Column("citizen_id", sa.String(64), primary_key=True),
        sa.Column("national_id_key", sa.String(64), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("administration_id", "national_id_key", name="uq_certificate_citizen_holders_national_id"),
    )


def downgrade() -> None:
    op.drop_table("certificate_citizen_holders")
    with op.batch_alter_table("certificates") as batch:
        batch.drop_column("citizen_id")
