"""An administration's bytes32 id in the on-chain registry is `registry_id`: `chain_id` names only EIP-155 chain ids.

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"


# A rename only: ALTER TABLE ... RENAME COLUMN on SQLite and PostgreSQL alike. Recreating the table, as batch mode
# would by default on SQLite, would drop a table other tables' foreign keys point to.
def upgrade() -> None:
    with op.batch_alter_table("administrations", recreate="never") as batch:
        batch.alter_column("chain_id", new_column_name="registry_id")


def downgrade() -> None:
    with op.batch_alter_table("administrations", recreate="never") as batch:
        batch.alter_column("registry_id", new_column_name="chain_id")
