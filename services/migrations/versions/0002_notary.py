"""Notary: documents (receipts), the anchoring outbox, batches and revocations.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("administration_id", sa.Integer, sa.ForeignKey("administrations.id"), nullable=False),
        sa.Column("root", sa.String(64), nullable=False, unique=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("tree", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("account", sa.String(42)),
        sa.Column("chain_id", sa.BigInteger),
        sa.Column("contract", sa.String(42)),
        sa.Column("transaction_hash", sa.String(66)),
        sa.Column("block_number", sa.BigInteger),
        sa.Column("block_hash", sa.String(66)),
        sa.Column("block_timestamp", sa.BigInteger),
        sa.Column("gas_used", sa.BigInteger),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("anchored_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_batches_administration_id", "batches", ["administration_id"])
    op.create_index("ix_batches_status", "batches", ["status"])
    op.create_table(
        "documents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("administration_id", sa.Integer, sa.ForeignKey("administrations.id"), nullable=False),
        sa.Column("document_hash", sa.String(64), nullable=False),
        sa.Column("salt", sa.String(64)),
        sa.Column("kind", sa.String(64)),
        sa.Column("title", sa.String(300)),
        sa.Column("metadata_json", sa.Text),
        sa.Column("verification_code", sa.String(20), nullable=False, unique=True),
        sa.Column("idempotency_key", sa.String(200)),
        sa.Column("request_fingerprint", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id")),
        sa.Column("leaf_index", sa.Integer),
        sa.Column("leaf", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("document_hash", "administration_id", name="uq_documents_hash_administration"),
        sa.UniqueConstraint("administration_id", "idempotency_key", name="uq_documents_administration_idempotency"),
    )
    op.create_index("ix_documents_batch_id", "documents", ["batch_id"])
    op.create_table(
        "notary_outbox",
        sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.id"), primary_key=True),
        sa.Column("administration_id", sa.Integer, sa.ForeignKey("administrations.id"), nullable=False),
        sa.Column("seq", _BIG, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notary_outbox_administration_id", "notary_outbox", ["administration_id"])
    op.create_index("ix_notary_outbox_seq", "notary_outbox", ["seq"])
    op.create_table(
        "revocations",
        sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.id"), primary_key=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("transaction_hash", sa.String(66), nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
        sa.Column("block_timestamp", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("revocations")
    op.drop_table("notary_outbox")
    op.drop_table("documents")
    op.drop_table("batches")
