"""Administrations, their chain accounts and API keys.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "administrations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("chain_id", sa.String(66), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("admission_tx", sa.String(66)),
    )
    op.create_table(
        "chain_accounts",
        sa.Column("address", sa.String(42), primary_key=True),
        sa.Column("administration_id", sa.Integer, sa.ForeignKey("administrations.id"), nullable=False),
        sa.Column("sealed_key", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_chain_accounts_administration_id", "chain_accounts", ["administration_id"])
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("administration_id", sa.Integer, sa.ForeignKey("administrations.id")),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_api_keys_administration_id", "api_keys", ["administration_id"])


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_table("chain_accounts")
    op.drop_table("administrations")
