"""Sandbox contracts deployed elsewhere and registered with their sources: `origin`, the match and the settings used;
a registered contract's creation transaction may be unknown.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"


# No table points to sandbox_contracts, so SQLite may recreate it to make the columns nullable.
def upgrade() -> None:
    with op.batch_alter_table("sandbox_contracts") as batch:
        batch.add_column(sa.Column("origin", sa.String(16), nullable=False, server_default="deployed"))
        batch.add_column(sa.Column("verification", sa.String(16), nullable=True))
        batch.add_column(sa.Column("compiler_settings", sa.Text, nullable=True))
        batch.alter_column("transaction_hash", existing_type=sa.String(66), nullable=True)
        batch.alter_column("block_number", existing_type=sa.BigInteger, nullable=True)
        batch.alter_column("gas_used", existing_type=sa.BigInteger, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM sandbox_contracts WHERE origin <> 'deployed'")
    with op.batch_alter_table("sandbox_contracts") as batch:
        batch.alter_column("gas_used", existing_type=sa.BigInteger, nullable=False)
        batch.alter_column("block_number", existing_type=sa.BigInteger, nullable=False)
        batch.alter_column("transaction_hash", existing_type=sa.String(66), nullable=False)
        batch.drop_column("compiler_settings")
        batch.drop_column("verification")
        batch.drop_column("origin")
