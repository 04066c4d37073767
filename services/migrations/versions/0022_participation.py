"""Participation: processes with their projects and census, proposals in versions linked by hash, supports (one per
citizen per proposal) and ballots (one per voter per process), both kept exact by their primary keys.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

from segell.services.models import UTCDateTime

revision = "0022"
down_revision = "0021"


def upgrade() -> None:
    op.create_table(
        "participation_processes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=False),
        sa.Column("process_type", sa.String(length=16), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("description", sa.JSON(), nullable=False),
        sa.Column("phases", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("available_budget", sa.BigInteger(), nullable=True),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("required_factor", sa.String(length=16), nullable=True),
        sa.Column("eligibility", sa.String(length=16), nullable=False),
        sa.Column("ballot_replacement", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("ballots_count", sa.Integer(), nullable=True),
        sa.Column("ballots_root", sa.String(length=64), nullable=True),
        sa.Column("ballots_sha256", sa.String(length=64), nullable=True),
        sa.Column("ballots_receipt_id", sa.String(length=32), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("result_sha256", sa.String(length=64), nullable=True),
        sa.Column("result_receipt_id", sa.String(length=32), nullable=True),
        sa.Column("dataset_name", sa.String(length=100), nullable=True),
        sa.Column("ballots_url", sa.Text(), nullable=True),
        sa.Column("result_url", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administrations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("participation_processes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participation_processes_administration_id"), ["administration_id"], unique=False
        )

    op.create_table(
        "participation_ballots",
        sa.Column("process_id", sa.String(length=32), nullable=False),
        sa.Column("pseudonym", sa.String(length=64), nullable=False),
        sa.Column("commitment", sa.String(length=64), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("cast_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["participation_processes.id"],
        ),
        sa.PrimaryKeyConstraint("process_id", "pseudonym"),
        sa.UniqueConstraint("commitment"),
    )
    op.create_table(
        "participation_census",
        sa.Column("process_id", sa.String(length=32), nullable=False),
        sa.Column("citizen_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["participation_processes.id"],
        ),
        sa.PrimaryKeyConstraint("process_id", "citizen_id"),
    )
    op.create_table(
        "participation_projects",
        sa.Column("process_id", sa.String(length=32), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("description", sa.JSON(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("district", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["participation_processes.id"],
        ),
        sa.PrimaryKeyConstraint("process_id", "id"),
    )
    op.create_table(
        "participation_proposals",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("process_id", sa.String(length=32), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("version_hash", sa.String(length=64), nullable=False),
        sa.Column("verification_code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("service", sa.String(length=100), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("hidden_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("hidden_reason", sa.Text(), nullable=True),
        sa.Column("hidden_receipt_id", sa.String(length=32), nullable=True),
        sa.Column("hidden_verification_code", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["process_id"],
            ["participation_processes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("participation_proposals", schema=None) as batch_op:
        batch_op.create_index("ix_participation_proposals_process_created", ["process_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_participation_proposals_process_id"), ["process_id"], unique=False)

    op.create_table(
        "participation_proposal_versions",
        sa.Column("proposal_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("version_hash", sa.String(length=64), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("receipt_id", sa.String(length=32), nullable=False),
        sa.Column("verification_code", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["participation_proposals.id"],
        ),
        sa.PrimaryKeyConstraint("proposal_id", "version"),
        sa.UniqueConstraint("version_hash"),
    )
    op.create_table(
        "participation_supports",
        sa.Column("proposal_id", sa.String(length=32), nullable=False),
        sa.Column("supporter", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("version_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["participation_proposals.id"],
        ),
        sa.PrimaryKeyConstraint("proposal_id", "supporter"),
    )


def downgrade() -> None:
    op.drop_table("participation_supports")
    op.drop_table("participation_proposal_versions")
    with op.batch_alter_table("participation_proposals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participation_proposals_process_id"))
        batch_op.drop_index("ix_participation_proposals_process_created")

    op.drop_table("participation_proposals")
    op.drop_table("participation_projects")
    op.drop_table("participation_census")
    op.drop_table("participation_ballots")
    with op.batch_alter_table("participation_processes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participation_processes_administration_id"))

    op.drop_table("participation_processes")
