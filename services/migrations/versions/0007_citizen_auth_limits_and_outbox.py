"""Citizen authentication: one row per counted number, address or citizen, which operations take turns on, so
that the rate limits and the lock-out hold under concurrent requests.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def _administration(**options: bool) -> "sa.Column[int]":
    return sa.Column("administration_id", sa.Integer, sa.ForeignKey("administrations.id"), nullable=False, **options)


def upgrade() -> None:
    op.create_table(
        "citizen_limit_turns",
        _administration(primary_key=True),
        sa.Column("subject", sa.String(80), primary_key=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_citizen_limit_turns_taken_at", "citizen_limit_turns", ["administration_id", "taken_at"])


def downgrade() -> None:
    op.drop_table("citizen_limit_turns")
