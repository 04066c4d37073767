"""A document refers to an administration and a batch that exist, on SQLite (foreign keys) and on PostgreSQL (the
statement-level checks of migration 0028): written by COPY, INSERT or UPDATE, and whatever is deleted, renumbered or
truncated on the other side, even while a concurrent transaction writes the document."""

import secrets
import sqlite3
import threading
from typing import Any

import psycopg
import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from segell.services.db import _migrations_config, migrate, session_factory, transaction
from segell.services.notary import repository, service
from tests.helpers import administration_row

REFUSED = (IntegrityError, psycopg.errors.ForeignKeyViolation, sqlite3.IntegrityError)


def _batch(engine: Engine, administration_id: int) -> int:
    with transaction(session_factory(engine)) as session:
        batch_id = repository.insert_built_batch(
            session, administration_id=administration_id, root=secrets.token_hex(32), size=1, tree=bytes(32)
        )
    assert batch_id is not None
    return batch_id


def _rows(administration_id: int, batch_id: int | None, count: int = 3) -> list[dict[str, Any]]:
    hashes = [secrets.token_hex(32) for _ in range(count)]
    rows = service._new_rows(administration_id, hashes, kind=None, title=None, salted=False, public=False)
    for index, row in enumerate(rows):
        row.update(batch_id=batch_id, leaf=secrets.token_bytes(32), leaf_index=index)
    return rows


def _count(engine: Engine, sql: str = "SELECT count(*) FROM documents") -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def test_documents_of_existing_administration_and_batch_are_stored(engine: Engine) -> None:
    administration_id = administration_row(engine)
    batch_id = _batch(engine, administration_id)
    with transaction(session_factory(engine)) as session:
        assert repository.insert_new_documents(session, _rows(administration_id, batch_id, 50))
        assert repository.insert_documents(session, _rows(administration_id, None)) == 3
    assert _count(engine) == 53


@pytest.mark.parametrize("unknown", ["administration", "batch"])
def test_bulk_documents_referring_to_a_missing_row_are_refused(engine: Engine, unknown: str) -> None:
    administration_id = administration_row(engine)
    batch_id = _batch(engine, administration_id)
    rows = _rows(administration_id, batch_id, 50)
    rows[17]["administration_id" if unknown == "administration" else "batch_id"] = 10_000 + batch_id
    with pytest.raises(REFUSED), transaction(session_factory(engine)) as session:
        repository.insert_new_documents(session, rows)
    assert _count(engine) == 0


def test_document_moved_to_a_missing_batch_is_refused(engine: Engine) -> None:
    administration_id = administration_row(engine)
    batch_id = _batch(engine, administration_id)
    with transaction(session_factory(engine)) as session:
        repository.insert_documents(session, _rows(administration_id, None))
    with pytest.raises(REFUSED), engine.begin() as connection:
        connection.execute(text("UPDATE documents SET batch_id = :batch"), {"batch": batch_id + 1})
    with engine.begin() as connection:
        assert connection.execute(text("UPDATE documents SET batch_id = :batch"), {"batch": batch_id}).rowcount == 3
    assert _count(engine, "SELECT count(*) FROM documents WHERE batch_id IS NOT NULL") == 3


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM batches",
        "DELETE FROM administrations",
        "UPDATE batches SET id = id + 1000",
        "UPDATE administrations SET id = id + 1000",
    ],
)
def test_referenced_row_is_not_deleted_nor_renumbered(engine: Engine, statement: str) -> None:
    administration_id = administration_row(engine)
    batch_id = _batch(engine, administration_id)
    with transaction(session_factory(engine)) as session:
        repository.insert_new_documents(session, _rows(administration_id, batch_id))
    if "administrations" in statement:  # its other rows (API keys, the batch) refer to it by foreign keys too
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM batches WHERE id <> :batch"), {"batch": batch_id})
    with pytest.raises(REFUSED), engine.begin() as connection:
        connection.execute(text(statement))
    assert _count(engine, f"SELECT count(*) FROM batches WHERE id = {batch_id}") == 1


def test_batch_whose_documents_are_removed_first_is_discarded(engine: Engine) -> None:
    administration_id = administration_row(engine)
    batch_id = _batch(engine, administration_id)
    with transaction(session_factory(engine)) as session:
        repository.insert_new_documents(session, _rows(administration_id, batch_id))
        repository.discard_batches(session, [batch_id])
    assert (_count(engine), _count(engine, "SELECT count(*) FROM batches")) == (0, 0)


def test_referenced_table_is_not_truncated_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    administration_id = administration_row(engine)
    batch_id = _batch(engine, administration_id)
    with transaction(session_factory(engine)) as session:
        repository.insert_new_documents(session, _rows(administration_id, batch_id))
    with pytest.raises(REFUSED), engine.begin() as connection:
        connection.execute(text("TRUNCATE batches"))
    with engine.begin() as connection:  # with the documents, it is
        connection.execute(text("TRUNCATE documents, batches CASCADE"))
    assert _count(engine, "SELECT count(*) FROM batches") == 0


def test_batch_deleted_while_its_documents_are_written_is_refused_after_their_commit(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite writes one transaction at a time")
    administration_id = administration_row(engine)
    batch_id = _batch(engine, administration_id)
    outcome: list[BaseException | int] = []

    def delete_batch() -> None:
        try:
            with engine.begin() as connection:
                outcome.append(connection.execute(text(f"DELETE FROM batches WHERE id = {batch_id}")).rowcount)
        except BaseException as error:  # noqa: BLE001 - reported to the test's thread
            outcome.append(error)

    with transaction(session_factory(engine)) as session:
        repository.insert_new_documents(session, _rows(administration_id, batch_id))
        deleting = threading.Thread(target=delete_batch)
        deleting.start()
        deleting.join(1.0)
        assert deleting.is_alive(), "the delete must wait for the documents' transaction"
    deleting.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], REFUSED), outcome
    assert _count(engine) == 3


def test_downgrade_puts_the_foreign_keys_back_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite kept its foreign keys")
    config = _migrations_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0027")
    referred = {key["referred_table"] for key in inspect(engine).get_foreign_keys("documents")}
    assert referred == {"administrations", "batches"}
    migrate(engine)
    assert inspect(engine).get_foreign_keys("documents") == []


def test_statement_writing_no_document_passes_the_reference_check(engine: Engine) -> None:
    with engine.begin() as connection:
        assert connection.execute(text("UPDATE documents SET status = 'pending' WHERE 1 = 0")).rowcount == 0
    assert _count(engine) == 0


BYTEWISE = {
    ("documents", "id"),
    ("documents", "verification_code"),
    ("notary_outbox", "document_id"),
    ("revocations", "document_id"),
    ("document_sources", "document_id"),
    ("document_sources", "source_id"),
    ("document_copies", "document_id"),
    ("document_signers", "document_id"),
}


def _collated(engine: Engine) -> dict[tuple[str, str], str | None]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT table_name, column_name, collation_name FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
            )
        ).all()
    return {(table, column): collation for table, column, collation in rows if (table, column) in BYTEWISE}


def test_document_ids_and_codes_compare_bytewise_on_postgresql_until_downgraded(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite compares them byte by byte already (BINARY)")
    assert _collated(engine) == dict.fromkeys(BYTEWISE, "C")
    administration_id = administration_row(engine)
    with transaction(session_factory(engine)) as session:
        # Fewer than a batch: rows cast from arrays (the column types without their collation), and outbox entries.
        text_ = service.submit_many_json(
            session, administration_id, [secrets.token_hex(32) for _ in range(3)], kind=None, salted=False
        )
    assert text_.count(b'"id"') == 3
    config = _migrations_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0029")
    assert _collated(engine) == dict.fromkeys(BYTEWISE)
    migrate(engine)
    assert _collated(engine) == dict.fromkeys(BYTEWISE, "C")
