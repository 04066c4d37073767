"""Citizen authentication: one row per counted number, address or citizen, which operations take turns on, so
that the rate limits and the lock-out hold under concurrent requests; and a sealed SMS outbox.

The outbox is made again: its messages become sealed under the master key (which migrations do not hold) and are
deleted when their code expires, so the plain-text messages of the old table are not kept.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _administration(*, primary_key: bool = False) -> "sa.Column[int]":
    return sa.Column(
        "administration_id", sa.Integer, sa.ForeignKey("administrations.id"), nullable=False, primary_key=primary_key
    )


def upgrade() -> None:
    op.create_table(
        "citizen_limit_turns",
        _administration(primary_key=True),
        sa.Column("subject", sa.String(80), primary_key=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_citizen_limit_turns_taken_at", "citizen_limit_turns", ["administration_id", "taken_at"])

    op.drop_index("ix_citizen_sms_outbox_administration_id", table_name="citizen_sms_outbox")
    op.drop_table("citizen_sms_outbox")
    op.create_table(
        "citizen_sms_outbox",
        sa.Column("id", _BIG, primary_key=True, autoincrement=True),
        _administration(),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("sealed_message", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_citizen_sms_outbox_administration_id", "citizen_sms_outbox", ["administration_id"])
    op.create_index("ix_citizen_sms_outbox_phone_hash", "citizen_sms_outbox", ["phone_hash"])
    op.create_index("ix_citizen_sms_outbox_expires_at", "citizen_sms_outbox", ["expires_at"])


def downgrade() -> None:
    op.drop_table("citizen_sms_outbox")
    op.create_table(
        "citizen_sms_outbox",
        sa.Column("id", _BIG, primary_key=True, autoincrement=True),
        _administration(),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_citizen_sms_outbox_administration_id", "citizen_sms_outbox", ["administration_id"])
    op.drop_table("citizen_limit_turns")
