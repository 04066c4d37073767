"""The uniqueness of (administration, idempotency key) held by a partial unique index over the documents that have a
key, instead of a unique constraint over all of them.

Only a document submitted alone with an `Idempotency-Key` has one; a bulk request's documents never do, yet each
of them added an entry (its administration and NULL) to the constraint's index: 6 % of what PostgreSQL spent
inserting them. NULLs never collided in that index either, so the same pairs are refused as before, and the
lookup of a key (`administration_id = ? AND idempotency_key = ?`) implies the index's condition and still uses it.
`ON CONFLICT DO NOTHING` without a target skips rows that a partial unique index refuses, on both databases.

SQLite cannot drop a table's constraint in place: `documents` is rebuilt as migration 0026 rebuilt it, with foreign
keys off while it is dropped and its copy renamed (other tables point to it), checked before committing.

Revision ID: 0031
Revises: 0030
"""

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision = "0031"
down_revision = "0030"

NAME = "uq_documents_administration_idempotency"
COLUMNS = ["administration_id", "idempotency_key"]
HAS_KEY = sa.text("idempotency_key IS NOT NULL")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(NAME, "documents", type_="unique")
    else:
        _sqlite_rebuild(lambda batch: batch.drop_constraint(NAME, type_="unique"))
    op.create_index(NAME, "documents", COLUMNS, unique=True, postgresql_where=HAS_KEY, sqlite_where=HAS_KEY)


def downgrade() -> None:
    op.drop_index(NAME, table_name="documents")
    if op.get_bind().dialect.name == "postgresql":
        op.create_unique_constraint(NAME, "documents", COLUMNS)
    else:
        _sqlite_rebuild(lambda batch: batch.create_unique_constraint(NAME, COLUMNS))


def _sqlite_rebuild(change: Callable[[BatchOperations], None]) -> None:
    """Rebuild `documents` with `change` made to it. SQLite ignores `foreign_keys` inside a transaction: what the
    migrations did so far is committed first."""
    bind = op.get_bind()
    connection = bind.connection.driver_connection
    assert connection is not None
    connection.commit()
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        with op.batch_alter_table("documents", recreate="always") as batch:
            change(batch)
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by rebuilding documents: {broken[:10]}")
        connection.commit()
    finally:
        bind.exec_driver_sql("PRAGMA foreign_keys=ON")
