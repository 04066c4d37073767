"""The interoperability domain: the catalogue of data services, authorisations per procedure, built-in providers'
records, exchanges with their sealed answers, the access log and its notarised daily digests.

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

from segell.services.models import UTCDateTime

revision = "0024"
down_revision = "0023"


def upgrade() -> None:
    op.create_table(
        "interop_access_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("exchange_id", sa.String(length=32), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("consumer_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("service_code", sa.String(length=40), nullable=False),
        sa.Column("officer", sa.String(length=200), nullable=False),
        sa.Column("procedure_code", sa.String(length=60), nullable=False),
        sa.Column("case_id", sa.String(length=100), nullable=False),
        sa.Column("legal_basis", sa.String(length=300), nullable=False),
        sa.Column("consent_reference", sa.String(length=200), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hidden_until", UTCDateTime(), nullable=True),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["administrations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["administrations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("exchange_id"),
    )
    with op.batch_alter_table("interop_access_log", schema=None) as batch_op:
        batch_op.create_index("ix_interop_access_log_day", ["consumer_id", "day"], unique=False)
        batch_op.create_index("ix_interop_access_log_subject", ["subject_key", "at"], unique=False)

    op.create_table(
        "interop_log_digests",
        sa.Column("consumer_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("entries_digest", sa.String(length=64), nullable=False),
        sa.Column("document_hash", sa.String(length=64), nullable=False),
        sa.Column("receipt_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["administrations.id"],
        ),
        sa.PrimaryKeyConstraint("consumer_id", "day"),
    )
    op.create_table(
        "interop_services",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("response_schema", sa.JSON(), nullable=False),
        sa.Column("legal_bases", sa.JSON(), nullable=False),
        sa.Column("consent_required", sa.Boolean(), nullable=False),
        sa.Column("routing", sa.String(length=10), nullable=False),
        sa.Column("endpoint_url", sa.String(length=500), nullable=True),
        sa.Column("sealed_webhook_secret", sa.Text(), nullable=True),
        sa.Column("seal_certificate_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["administrations.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_id", "code"),
    )
    with op.batch_alter_table("interop_services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interop_services_provider_id"), ["provider_id"], unique=False)

    op.create_table(
        "interop_authorisations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=False),
        sa.Column("consumer_id", sa.Integer(), nullable=False),
        sa.Column("procedure_code", sa.String(length=60), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["administrations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["interop_services.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_id", "consumer_id", "procedure_code"),
    )
    with op.batch_alter_table("interop_authorisations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interop_authorisations_consumer_id"), ["consumer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_interop_authorisations_service_id"), ["service_id"], unique=False)

    op.create_table(
        "interop_exchanges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("service_id", sa.String(length=32), nullable=False),
        sa.Column("consumer_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("request_document", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("answer_jws", sa.Text(), nullable=False),
        sa.Column("answer_hash", sa.String(length=64), nullable=False),
        sa.Column("request_receipt_id", sa.String(length=32), nullable=False),
        sa.Column("answer_receipt_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"],
            ["administrations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["administrations.id"],
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["interop_services.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("interop_exchanges", schema=None) as batch_op:
        batch_op.create_index("ix_interop_exchanges_consumer", ["consumer_id", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_interop_exchanges_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_interop_exchanges_service_id"), ["service_id"], unique=False)

    op.create_table(
        "interop_records",
        sa.Column("service_id", sa.String(length=32), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["interop_services.id"],
        ),
        sa.PrimaryKeyConstraint("service_id", "subject_key"),
    )


def downgrade() -> None:
    op.drop_table("interop_records")
    with op.batch_alter_table("interop_exchanges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interop_exchanges_service_id"))
        batch_op.drop_index(batch_op.f("ix_interop_exchanges_provider_id"))
        batch_op.drop_index("ix_interop_exchanges_consumer")

    op.drop_table("interop_exchanges")
    with op.batch_alter_table("interop_authorisations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interop_authorisations_service_id"))
        batch_op.drop_index(batch_op.f("ix_interop_authorisations_consumer_id"))

    op.drop_table("interop_authorisations")
    with op.batch_alter_table("interop_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interop_services_provider_id"))

    op.drop_table("interop_services")
    op.drop_table("interop_log_digests")
    with op.batch_alter_table("interop_access_log", schema=None) as batch_op:
        batch_op.drop_index("ix_interop_access_log_subject")
        batch_op.drop_index("ix_interop_access_log_day")

    op.drop_table("interop_access_log")
