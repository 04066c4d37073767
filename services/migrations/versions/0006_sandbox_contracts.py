"""Sandbox contracts: what administrations deployed in their sandboxes, with ABI and sources.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "sandbox_contracts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("sandbox_id", sa.String(32), nullable=False),
        sa.Column("administration_id", sa.Integer, sa.ForeignKey("administrations.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source_unit", sa.String(300), nullable=False),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("abi", sa.Text, nullable=False),
        sa.Column("sources", sa.Text, nullable=False),
        sa.Column("source_hash", sa.String(64), nullable=False),
        sa.Column("compiler_version", sa.String(32), nullable=False),
        sa.Column("constructor_args", sa.Text, nullable=False),
        sa.Column("transaction_hash", sa.String(66), nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("gas_used", sa.BigInteger, nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("sandbox_id", "address", name="uq_sandbox_contracts_address"),
    )
    op.create_index("ix_sandbox_contracts_sandbox_id", "sandbox_contracts", ["sandbox_id"])
    op.create_index("ix_sandbox_contracts_administration_id", "sandbox_contracts", ["administration_id"])


def downgrade() -> None:
    op.drop_index("ix_sandbox_contracts_administration_id", "sandbox_contracts")
    op.drop_index("ix_sandbox_contracts_sandbox_id", "sandbox_contracts")
    op.drop_table("sandbox_contracts")
