"""On PostgreSQL, the references of `documents` to its administration and its batch are checked once per statement
instead of once per row: the two foreign keys give way to triggers that check the same thing over all the rows a
statement wrote (a transition table) and lock each referenced row once, as a foreign key check does.

A foreign key runs one query per inserted row and key; for a bulk request's 10,000 rows, all of one administration
and one batch, that was a third of PostgreSQL's time. The triggers keep every guarantee of the foreign keys:

- a document written (inserted, or its `administration_id` or `batch_id` changed) refers to rows that exist: they
  are locked `FOR KEY SHARE` (a concurrent delete of one of them waits for the commit, then finds the document)
  and counted, and a missing one raises `foreign_key_violation` (SQLSTATE 23503), as the foreign key did;
- an administration or a batch cannot be deleted, nor its id changed, nor its table truncated, while a document
  refers to it. The check of a delete sees the documents committed meanwhile only under READ COMMITTED (each
  statement of the trigger takes a new snapshot), the isolation Segell runs in: under a stricter one a delete of a
  referenced table's row is refused rather than checked against an older snapshot.

SQLite keeps its foreign keys (`PRAGMA foreign_keys=ON`); the models still declare both references, which
`migrations/env.py` leaves out of PostgreSQL's comparison.

Revision ID: 0028
Revises: 0027
"""

from alembic import op

revision = "0028"
down_revision = "0027"

# (foreign key column, referenced table) of `documents`
REFERENCES = (("administration_id", "administrations"), ("batch_id", "batches"))


def _locked(column: str, table: str) -> str:
    """How many of the rows of `table` the written documents refer to exist, each locked as a foreign key check
    locks it."""
    return (
        f"(SELECT count(*) FROM (SELECT FROM {table} r WHERE r.id IN (SELECT {column} FROM written)"
        " FOR KEY SHARE OF r) AS locked)"
    )


def _check_written() -> str:
    """The function checking the references of the documents a statement wrote (`written`), in one query (a single
    submission's statement pays for one); the batches only when a written document has one (a document accepted
    alone waits for its batch in the outbox)."""
    (administration, administrations), (batch, batches) = REFERENCES
    return (
        "CREATE FUNCTION documents_check_references() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        f" IF (SELECT count(DISTINCT {administration}) = {_locked(administration, administrations)}"
        f" AND (count(DISTINCT {batch}) = 0 OR count(DISTINCT {batch}) = {_locked(batch, batches)}) FROM written)"
        " THEN RETURN NULL; END IF;"
        " RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = 'insert or update on table"
        f' "documents" violates its reference to "{administrations}" or "{batches}"\', DETAIL = \'A document\'\'s'
        f" {administration} or {batch} is not present in its table.'; END $$"
    )


def _check_referenced(column: str, table: str) -> list[str]:
    """The function and triggers refusing to delete, renumber or truncate `table`'s rows documents refer to."""
    refused = (
        f" RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', MESSAGE = 'update or delete on table \"{table}\""
        f" violates the reference from table \"documents\"', DETAIL = 'A document''s {column} refers to it.';"
    )
    return [
        f"CREATE FUNCTION {table}_check_documents() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        " IF TG_OP = 'TRUNCATE' THEN"
        f"  IF EXISTS (SELECT FROM documents WHERE {column} IS NOT NULL) THEN{refused} END IF;"
        "  RETURN NULL;"
        " END IF;"
        " IF current_setting('transaction_isolation') <> 'read committed' THEN RAISE EXCEPTION USING"
        "  ERRCODE = 'foreign_key_violation', MESSAGE = 'rows of table \"" + table + '" are deleted or renumbered'
        " only under READ COMMITTED: their documents are checked with a new snapshot'; END IF;"
        f" IF EXISTS (SELECT FROM documents WHERE {column} = OLD.id) THEN{refused} END IF;"
        " RETURN NULL; END $$",
        f"CREATE TRIGGER {table}_documents_delete AFTER DELETE ON {table}"
        f" FOR EACH ROW EXECUTE FUNCTION {table}_check_documents()",
        f"CREATE TRIGGER {table}_documents_renumber AFTER UPDATE OF id ON {table}"
        f" FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION {table}_check_documents()",
        f"CREATE TRIGGER {table}_documents_truncate AFTER TRUNCATE ON {table}"
        f" FOR EACH STATEMENT EXECUTE FUNCTION {table}_check_documents()",
    ]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column, _ in REFERENCES:
        op.execute(f"ALTER TABLE documents DROP CONSTRAINT documents_{column}_fkey")
    op.execute(_check_written())
    op.execute(
        "CREATE TRIGGER documents_references_insert AFTER INSERT ON documents REFERENCING NEW TABLE AS written"
        " FOR EACH STATEMENT EXECUTE FUNCTION documents_check_references()"
    )
    # A transition table cannot go with a column list (`UPDATE OF`): every update is checked, over its rows only.
    op.execute(
        "CREATE TRIGGER documents_references_update AFTER UPDATE ON documents REFERENCING NEW TABLE AS written"
        " FOR EACH STATEMENT EXECUTE FUNCTION documents_check_references()"
    )
    for column, table in REFERENCES:
        for statement in _check_referenced(column, table):
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for _, table in REFERENCES:
        for trigger in ("delete", "renumber", "truncate"):
            op.execute(f"DROP TRIGGER {table}_documents_{trigger} ON {table}")
        op.execute(f"DROP FUNCTION {table}_check_documents()")
    for trigger in ("insert", "update"):
        op.execute(f"DROP TRIGGER documents_references_{trigger} ON documents")
    op.execute("DROP FUNCTION documents_check_references()")
    for column, table in REFERENCES:
        op.execute(
            f"ALTER TABLE documents ADD CONSTRAINT documents_{column}_fkey"
            f" FOREIGN KEY ({column}) REFERENCES {table}(id)"
        )
