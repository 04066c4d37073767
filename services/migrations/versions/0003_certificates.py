"""Certificate authority: the root and issuing CAs, and the certificates issued.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "certificate_authorities",
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("certificate_der", sa.LargeBinary, nullable=False),
        sa.Column("sealed_key", sa.Text, nullable=False),
        sa.Column("crl_der", sa.LargeBinary),
        sa.Column("crl_number", sa.Integer, nullable=False),
        sa.Column("crl_next_update", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "certificates",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("administration_id", sa.Integer, sa.ForeignKey("administrations.id"), nullable=False),
        sa.Column("profile", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("common_name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254)),
        sa.Column("national_id_salt", sa.String(64)),
        sa.Column("national_id_hash", sa.String(64)),
        sa.Column("key_origin", sa.String(16), nullable=False),
        sa.Column("key_algorithm", sa.String(32), nullable=False),
        sa.Column("sealed_key", sa.Text),
        sa.Column("certificate_der", sa.LargeBinary, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("log_document_id", sa.String(32)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("revocation_reason", sa.String(32)),
        sa.Column("revocation_log_document_id", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_certificates_administration_id", "certificates", ["administration_id"])


def downgrade() -> None:
    op.drop_index("ix_certificates_administration_id", "certificates")
    op.drop_table("certificates")
    op.drop_table("certificate_authorities")
