"""Provenance: the receipts a notarised output was made from.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "document_sources",
        sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.id"), primary_key=True),
        sa.Column("source_id", sa.String(32), sa.ForeignKey("documents.id"), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_document_sources_source_id", "document_sources", ["source_id"])


def downgrade() -> None:
    op.drop_index("ix_document_sources_source_id", table_name="document_sources")
    op.drop_table("document_sources")
