"""On PostgreSQL, documents' ids and verification codes (and the columns referring to documents) are compared byte by
byte (`COLLATE "C"`), and the references of the documents a statement wrote are checked with one pass over them.

Ids (hex digits) and codes (digits and upper-case letters) are ASCII, whose order is the same under "C" as under the
database's default collation, `C.UTF-8` or a language's: no index order, no listing and no uniqueness changes. But
only "C" compares by `memcmp`; any other collation goes through the C library's `strcoll` on a copy of each
value. A bulk request's 10,000 documents each add an entry to five indexes holding an id or a code; for them that
was about a tenth of PostgreSQL's time. The columns referring to a document's id take the same collation, so that
joins compare both sides alike.

The function of migration 0028 read the rows a statement wrote four times (the distinct administrations and batches,
then each referenced table's rows among them); it now reads them once, into the arrays of their distinct ids, and
locks and counts those rows as before (a statement writing no row passes, as before).

Revision ID: 0030
Revises: 0029
"""

from alembic import op

revision = "0030"
down_revision = "0029"

# (table, column, length) compared byte by byte
BYTEWISE = (
    ("documents", "id", 32),
    ("documents", "verification_code", 20),
    ("notary_outbox", "document_id", 32),
    ("revocations", "document_id", 32),
    ("document_sources", "document_id", 32),
    ("document_sources", "source_id", 32),
    ("document_copies", "document_id", 32),
    ("document_signers", "document_id", 32),
)

_REFUSED = (
    " RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = 'insert or update on table"
    ' "documents" violates its reference to "administrations" or "batches"\', DETAIL = \'A document\'\'s'
    " administration_id or batch_id is not present in its table.'; END $$"
)


def _locked(table: str, ids: str) -> str:
    """Whether every row of `table` whose id is in the array `ids` exists, each locked as a foreign key check locks
    it (true for no ids)."""
    return (
        f"coalesce((SELECT count(*) FROM (SELECT FROM {table} r WHERE r.id = ANY ({ids}) FOR KEY SHARE OF r)"
        f" AS locked) = cardinality({ids}), true)"
    )


CHECK_WRITTEN = (
    "CREATE OR REPLACE FUNCTION documents_check_references() RETURNS trigger LANGUAGE plpgsql AS $$"
    " DECLARE administration_ids integer[]; batch_ids integer[]; BEGIN"
    " SELECT array_agg(DISTINCT administration_id), array_agg(DISTINCT batch_id) FILTER (WHERE batch_id IS NOT NULL)"
    " INTO administration_ids, batch_ids FROM written;"
    f" IF {_locked('administrations', 'administration_ids')} AND {_locked('batches', 'batch_ids')}"
    " THEN RETURN NULL; END IF;" + _REFUSED
)

# Migration 0028's function, for the downgrade.
CHECK_WRITTEN_0028 = (
    "CREATE OR REPLACE FUNCTION documents_check_references() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF (SELECT count(DISTINCT administration_id) = (SELECT count(*) FROM (SELECT FROM administrations r"
    " WHERE r.id IN (SELECT administration_id FROM written) FOR KEY SHARE OF r) AS locked)"
    " AND (count(DISTINCT batch_id) = 0 OR count(DISTINCT batch_id) = (SELECT count(*) FROM (SELECT FROM batches r"
    " WHERE r.id IN (SELECT batch_id FROM written) FOR KEY SHARE OF r) AS locked)) FROM written)"
    " THEN RETURN NULL; END IF;" + _REFUSED
)


def _collate(collation: str) -> None:
    for table, column, length in BYTEWISE:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar({length}) COLLATE "{collation}"')


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _collate("C")
    op.execute(CHECK_WRITTEN)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(CHECK_WRITTEN_0028)
    _collate("default")
