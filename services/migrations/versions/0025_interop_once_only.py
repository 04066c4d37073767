"""The interop domain's once-only tables: citizen logins bound to subjects, reusable documents and the requests
for them.

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

from segell.services.models import UTCDateTime

revision = "0025"
down_revision = "0024"


def upgrade() -> None:
    op.create_table(
        "interop_citizen_subjects",
        sa.Column("administration_id", sa.Integer(), nullable=False),
        sa.Column("citizen_id", sa.String(length=64), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("bound_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["administration_id"], ["administrations.id"]),
        sa.PrimaryKeyConstraint("administration_id", "citizen_id"),
    )
    op.create_index(
        "uq_interop_citizen_subjects_subject",
        "interop_citizen_subjects",
        ["administration_id", "subject_key"],
        unique=True,
    )
    op.create_table(
        "interop_reusable_documents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("holder_id", sa.Integer(), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("document_type", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("legal_bases", sa.JSON(), nullable=False),
        sa.Column("seal_certificate_id", sa.String(length=40), nullable=False),
        sa.Column("receipt_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["holder_id"], ["administrations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_interop_reusable_documents_holder_id"), "interop_reusable_documents", ["holder_id"], unique=False
    )
    op.create_index(
        op.f("ix_interop_reusable_documents_subject_key"), "interop_reusable_documents", ["subject_key"], unique=False
    )
    op.create_table(
        "interop_once_only_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("consumer_id", sa.Integer(), nullable=False),
        sa.Column("procedure_code", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=100), nullable=False),
        sa.Column("legal_basis", sa.String(length=300), nullable=True),
        sa.Column("officer", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("request_document", sa.Text(), nullable=True),
        sa.Column("answer_jws", sa.Text(), nullable=True),
        sa.Column("request_receipt_id", sa.String(length=32), nullable=True),
        sa.Column("answer_receipt_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["consumer_id"], ["administrations.id"]),
        sa.ForeignKeyConstraint(["document_id"], ["interop_reusable_documents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_interop_once_only_requests_consumer_id"), "interop_once_only_requests", ["consumer_id"], unique=False
    )
    op.create_index(
        op.f("ix_interop_once_only_requests_document_id"), "interop_once_only_requests", ["document_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("interop_once_only_requests")
    op.drop_table("interop_reusable_documents")
    op.drop_table("interop_citizen_subjects")
