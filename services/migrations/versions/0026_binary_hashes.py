"""Document hashes, Merkle leaves and batch roots stored as their 32 bytes instead of 64 hex digits: the unique
index on (document_hash, administration_id) and the one on batch roots take half the space, and at a million
documents a commit of 10,000 new ones rewrites half as many index pages.

Every value is converted in place: PostgreSQL with `decode(..., 'hex')` (BYTEA); SQLite, which has no `unhex`
before 3.41 and cannot change a column's type in place, by converting the values first and then rebuilding the two
tables with foreign keys off (as SQLite's documentation prescribes for a table other tables' foreign keys point to),
checking every foreign key before committing.

Revision ID: 0026
Revises: 0025
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"

# (table, column, nullable)
COLUMNS = (("documents", "document_hash", False), ("documents", "leaf", True), ("batches", "root", False))


def _unhex(value: object) -> object:
    return bytes.fromhex(value) if isinstance(value, str) else value


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table, column, _ in COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE BYTEA USING decode({column}, 'hex')")
        return
    bind.connection.driver_connection.create_function("segell_unhex", 1, _unhex, deterministic=True)  # type: ignore[union-attr]
    _sqlite_retype(
        [f"UPDATE {table} SET {column} = segell_unhex({column})" for table, column, _ in COLUMNS],
        sa.String(length=64),
        sa.LargeBinary(length=32),
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table, column, _ in COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR(64) USING encode({column}, 'hex')")
        return
    _sqlite_retype(
        [
            f"UPDATE {table} SET {column} = lower(hex({column})) WHERE {column} IS NOT NULL"
            for table, column, _ in COLUMNS
        ],
        sa.LargeBinary(length=32),
        sa.String(length=64),
    )


def _sqlite_retype(conversions: list[str], old: sa.types.TypeEngine[Any], new: sa.types.TypeEngine[Any]) -> None:
    """Convert the values, then rebuild the tables with the columns' new type. Foreign keys must be off while
    `documents` is dropped and its copy renamed (the outbox, revocations, sources, copies and signers point to it),
    and SQLite ignores that setting inside a transaction: what the migrations did so far is committed first."""
    bind = op.get_bind()
    connection = bind.connection.driver_connection
    assert connection is not None
    connection.commit()
    bind.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        for statement in conversions:
            op.execute(statement)
        for table in ("documents", "batches"):
            with op.batch_alter_table(table, recreate="always") as batch:
                for name, column, nullable in COLUMNS:
                    if name == table:
                        batch.alter_column(column, existing_type=old, type_=new, existing_nullable=nullable)
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by rebuilding the notary's tables: {broken[:10]}")
        connection.commit()
    finally:
        bind.exec_driver_sql("PRAGMA foreign_keys=ON")
