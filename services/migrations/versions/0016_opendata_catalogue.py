"""The open-data catalogue: datasets, their resources and their notarised versions.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from segell.services.models import UTCDateTime

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
    op.create_table(
        "opendata_datasets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("description", sa.JSON(), nullable=False),
        sa.Column("themes", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("licence", sa.String(length=40), nullable=False),
        sa.Column("temporal_start", sa.Date(), nullable=True),
        sa.Column("temporal_end", sa.Date(), nullable=True),
        sa.Column("spatial", sa.String(length=300), nullable=True),
        sa.Column("frequency", sa.String(length=20), nullable=True),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["administration_id"],
            ["administrations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("opendata_datasets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opendata_datasets_administration_id"), ["administration_id"], unique=False)

    op.create_table(
        "opendata_dataset_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("activity", sa.String(length=20), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("receipt_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["opendata_datasets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "number"),
    )
    with op.batch_alter_table("opendata_dataset_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opendata_dataset_versions_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "opendata_resources",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("dataset_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["opendata_datasets.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("opendata_resources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opendata_resources_dataset_id"), ["dataset_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("opendata_resources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opendata_resources_dataset_id"))

    op.drop_table("opendata_resources")
    with op.batch_alter_table("opendata_dataset_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opendata_dataset_versions_dataset_id"))

    op.drop_table("opendata_dataset_versions")
    with op.batch_alter_table("opendata_datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opendata_datasets_administration_id"))

    op.drop_table("opendata_datasets")
