"""Mandatory publications (Llei 19/2014) and the reads of the recipients configured for the deployment.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

from segell.services.models import UTCDateTime

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    op.create_table(
        "opendata_submissions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=False),
        sa.Column("block", sa.String(length=20), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("superseded_by", sa.String(length=36), nullable=True),
        sa.Column("inhabitants", sa.Integer(), nullable=True),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("receipt_id", sa.String(length=32), nullable=False),
        sa.Column("submitted_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administrations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["opendata_datasets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("administration_id", "block", "period", "version"),
    )
    with op.batch_alter_table("opendata_submissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opendata_submissions_administration_id"), ["administration_id"], unique=False
        )

    op.create_table(
        "opendata_submission_accesses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("recipient", sa.String(length=60), nullable=False),
        sa.Column("what", sa.String(length=20), nullable=False),
        sa.Column("accessed_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["opendata_submissions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("opendata_submission_accesses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opendata_submission_accesses_submission_id"), ["submission_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("opendata_submission_accesses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opendata_submission_accesses_submission_id"))

    op.drop_table("opendata_submission_accesses")
    with op.batch_alter_table("opendata_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opendata_submissions_administration_id"))

    op.drop_table("opendata_submissions")
