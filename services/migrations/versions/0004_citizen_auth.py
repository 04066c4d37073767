"""Citizen authentication: one-time code challenges, the SMS outbox, rate-limit events, TOTP, token keys.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _administration() -> "sa.Column[int]":
    return sa.Column("administration_id", sa.Integer, sa.ForeignKey("administrations.id"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "citizen_otp_challenges",
        sa.Column("id", sa.String(32), primary_key=True),
        _administration(),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "ix_citizen_otp_challenges_phone", "citizen_otp_challenges", ["administration_id", "phone_hash", "status"]
    )
    op.create_table(
        "citizen_sms_outbox",
        sa.Column("id", _BIG, primary_key=True, autoincrement=True),
        _administration(),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_citizen_sms_outbox_administration_id", "citizen_sms_outbox", ["administration_id"])
    op.create_table(
        "citizen_auth_events",
        sa.Column("id", _BIG, primary_key=True, autoincrement=True),
        _administration(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_citizen_auth_events_subject", "citizen_auth_events", ["administration_id", "kind", "subject", "at"]
    )
    op.create_table(
        "citizen_totp",
        sa.Column("id", sa.String(32), primary_key=True),
        _administration(),
        sa.Column("citizen_id", sa.String(64), nullable=False),
        sa.Column("sealed_secret", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("last_step", sa.BigInteger),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_citizen_totp_citizen", "citizen_totp", ["administration_id", "citizen_id", "status"])
    op.create_table(
        "citizen_token_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("sealed_key", sa.Text, nullable=False),
        sa.Column("public_jwk", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("citizen_token_keys")
    op.drop_table("citizen_totp")
    op.drop_table("citizen_auth_events")
    op.drop_table("citizen_sms_outbox")
    op.drop_table("citizen_otp_challenges")
