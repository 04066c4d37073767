"""An administration's language (ca, es or en: its citizens' SMS) and its own SMS texts, one per language.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"

_TEMPLATES = ("sms_template_ca", "sms_template_es", "sms_template_en")


# Columns added in place (ALTER TABLE ... ADD COLUMN): recreating the table, as batch mode would by default on SQLite,
# would drop a table other tables' foreign keys point to.
def upgrade() -> None:
    with op.batch_alter_table("administrations", recreate="never") as batch:
        batch.add_column(sa.Column("language", sa.String(2), nullable=False, server_default="ca"))
        for column in _TEMPLATES:
            batch.add_column(sa.Column(column, sa.String(160)))


def downgrade() -> None:
    with op.batch_alter_table("administrations", recreate="never") as batch:
        for column in reversed(_TEMPLATES):
            batch.drop_column(column)
        batch.drop_column("language")
