"""The after-transaction survey: single-use invitations and the ratings given through them.

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

from segell.services.models import UTCDateTime

revision = "0023"
down_revision = "0022"


def upgrade() -> None:
    op.create_table(
        "participation_survey_invitations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=False),
        sa.Column("procedure", sa.String(length=64), nullable=False),
        sa.Column("procedure_name", sa.String(length=200), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administrations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("participation_survey_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participation_survey_invitations_administration_id"), ["administration_id"], unique=False
        )

    op.create_table(
        "participation_service_ratings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("invitation_id", sa.String(length=32), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=False),
        sa.Column("procedure", sa.String(length=64), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("idea", sa.Text(), nullable=True),
        sa.Column("proposal_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_participation_service_ratings_rating"),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administrations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["participation_survey_invitations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("invitation_id"),
    )
    with op.batch_alter_table("participation_service_ratings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_participation_service_ratings_procedure", ["administration_id", "procedure"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("participation_service_ratings", schema=None) as batch_op:
        batch_op.drop_index("ix_participation_service_ratings_procedure")

    op.drop_table("participation_service_ratings")
    with op.batch_alter_table("participation_survey_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participation_survey_invitations_administration_id"))

    op.drop_table("participation_survey_invitations")
