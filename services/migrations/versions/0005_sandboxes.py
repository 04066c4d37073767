"""Sandboxes: isolated chains per administration, their funded accounts and snapshots.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "sandboxes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("administration_id", sa.Integer, sa.ForeignKey("administrations.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("node_admin", sa.Boolean, nullable=False),
        sa.Column("registry_address", sa.String(42), nullable=False),
        sa.Column("notary_address", sa.String(42), nullable=False),
        sa.Column("deployment_block", sa.BigInteger, nullable=False),
        sa.Column("governance_address", sa.String(42), nullable=False),
        sa.Column("governance_sealed_key", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_sandboxes_administration_id", "sandboxes", ["administration_id"])
    op.create_index("ix_sandboxes_status", "sandboxes", ["status"])
    op.create_index("ix_sandboxes_expires_at", "sandboxes", ["expires_at"])
    op.create_table(
        "sandbox_accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sandbox_id", sa.String(32), sa.ForeignKey("sandboxes.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("sealed_key", sa.Text, nullable=False),
        sa.UniqueConstraint("sandbox_id", "position", name="uq_sandbox_accounts_position"),
    )
    op.create_index("ix_sandbox_accounts_sandbox_id", "sandbox_accounts", ["sandbox_id"])
    op.create_table(
        "sandbox_snapshots",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("sandbox_id", sa.String(32), sa.ForeignKey("sandboxes.id"), nullable=False),
        sa.Column("name", sa.String(100)),
        sa.Column("head_block", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sandbox_snapshots_sandbox_id", "sandbox_snapshots", ["sandbox_id"])


def downgrade() -> None:
    op.drop_table("sandbox_snapshots")
    op.drop_table("sandbox_accounts")
    op.drop_table("sandboxes")
