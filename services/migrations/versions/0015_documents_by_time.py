"""An index on documents (administration_id, created_at, id): an administration's documents listed and exported by
time, page by page.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    op.create_index("ix_documents_administration_created", "documents", ["administration_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_documents_administration_created", table_name="documents")
