"""Migration 0031: an administration's idempotency keys stay unique, held by a partial index over the documents
that have one (a bulk request's documents add no entry), on SQLite and PostgreSQL; and back down to 0030, where
the unique constraint over every document holds them again."""

import secrets

from alembic import command
from sqlalchemy import Engine, text

from segell.services.db import (
    _migrations_config,
    head_revision,
    migrate,
    session_factory,
    transaction,
)
from segell.services.notary import repository, service
from tests.helpers import administration_row

INDEX = "uq_documents_administration_idempotency"


def _stored_with_key(engine: Engine, administration_id: int, key: str | None) -> bool:
    """Whether a new document of `administration_id` with idempotency key `key` is stored."""
    [row] = service._new_rows(
        administration_id, [secrets.token_hex(32)], kind=None, title=None, salted=False, public=False
    )
    row["idempotency_key"] = key
    with transaction(session_factory(engine)) as session:
        return repository.insert_document(session, row)


def _index_definition(engine: Engine) -> str | None:
    """How the database defines the index holding the keys (None: it is not an index of its own)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            query = "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = :name"
        else:
            query = "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name"
        return connection.execute(text(query), {"name": INDEX}).scalar_one_or_none()


def _to(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = _migrations_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def test_index_of_idempotency_keys_holds_only_documents_with_a_key(engine: Engine) -> None:
    definition = _index_definition(engine)
    assert definition is not None
    assert "WHERE" in definition.upper() and "idempotency_key IS NOT NULL" in definition


def test_idempotency_key_is_stored_once_peradministration_row(engine: Engine) -> None:
    first, second = administration_row(engine), administration_row(engine)
    key = secrets.token_urlsafe(16)
    assert _stored_with_key(engine, first, key)
    assert not _stored_with_key(engine, first, key)
    assert _stored_with_key(engine, second, key)
    assert [_stored_with_key(engine, first, None) for _ in range(3)] == [True] * 3


def test_downgrade_to_0030_keeps_every_document_and_the_keys_unique(engine: Engine) -> None:
    administration_id = administration_row(engine)
    key = secrets.token_urlsafe(16)
    assert _stored_with_key(engine, administration_id, key)
    assert _stored_with_key(engine, administration_id, None)
    _to(engine, "0030", down=True)
    assert "WHERE" not in (_index_definition(engine) or "").upper()
    assert not _stored_with_key(engine, administration_id, key)
    assert _stored_with_key(engine, administration_id, None)
    _to(engine, "head")
    assert "WHERE" in (_index_definition(engine) or "").upper()
    assert not _stored_with_key(engine, administration_id, key)
    with engine.connect() as connection:
        counts = connection.execute(
            text("SELECT count(*), count(idempotency_key) FROM documents WHERE administration_id = :id"),
            {"id": administration_id},
        ).one()
    assert tuple(counts) == (3, 1)
    assert migrate(engine) == head_revision()
