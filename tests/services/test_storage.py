"""Migrations and storage on SQLite (always) and PostgreSQL (when SEGELL_TEST_POSTGRES_URL is set, as in CI)."""

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from segell.services import db
from segell.services.administrations import repository, service
from tests.helpers import PostgresSchemas


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        engine = db.create_db_engine(f"sqlite:///{tmp_path / 'segell.db'}")
        yield engine
        engine.dispose()
    else:
        with request.getfixturevalue("postgres").schema() as url:
            engine = create_engine(url)
            yield engine
            engine.dispose()


def test_migrate_creates_the_schema_of_the_models(engine: Engine) -> None:
    assert db.current_revision(engine) is None
    assert db.migrate(engine) == db.head_revision()
    # Autogenerate's own comparison, as `make migration` runs it: what the app makes at run time is left out.
    assert db.migration_diff(engine) == []


def test_migrate_renames_the_administrations_chain_id_to_registry_id_keeping_rows(engine: Engine) -> None:
    config = db._migrations_config()
    registry_id = service.registry_id_for("L01080193")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
        connection.execute(
            text(
                "INSERT INTO administrations (id, code, chain_id, name, status, admitted_at)"
                " VALUES (1, 'L01080193', :registry_id, 'Ajuntament', 'active', CURRENT_TIMESTAMP)"
            ),
            {"registry_id": registry_id},
        )
        connection.execute(
            text(
                "INSERT INTO chain_accounts (address, administration_id, sealed_key, created_at)"
                " VALUES ('0x01', 1, 'sealed', CURRENT_TIMESTAMP)"
            )
        )

    assert db.migrate(engine) == db.head_revision()

    with engine.connect() as connection:
        rows = connection.execute(text("SELECT code, registry_id FROM administrations")).all()
        accounts = connection.execute(text("SELECT administration_id FROM chain_accounts")).scalars().all()
    assert rows == [("L01080193", registry_id)]
    assert accounts == [1]
    sessions = db.session_factory(engine)
    with pytest.raises(IntegrityError), db.transaction(sessions) as session:
        repository.add_administration(session, code="L2", registry_id=registry_id, name="Two", admission_tx=None)


def test_migrate_twice_changes_nothing(engine: Engine) -> None:
    db.migrate(engine)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as session:
        repository.add_administration(session, code="L1", registry_id="0x01", name="One", admission_tx=None)
    assert db.migrate(engine) == db.head_revision()
    with db.transaction(sessions) as session:
        assert [a.code for a in repository.list_all(session)] == ["L1"]


def test_failed_transaction_keeps_nothing(engine: Engine) -> None:
    db.migrate(engine)
    sessions = db.session_factory(engine)
    with pytest.raises(RuntimeError), db.transaction(sessions) as session:
        repository.add_administration(session, code="L2", registry_id="0x02", name="Two", admission_tx=None)
        raise RuntimeError("fails before commit")
    with db.transaction(sessions) as session:
        assert repository.get_by_code(session, "L2") is None


def test_api_key_round_trip_authenticates(engine: Engine) -> None:
    db.migrate(engine)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as session:
        administration = repository.add_administration(
            session, code="L3", registry_id="0x03", name="Three", admission_tx=None
        )
        issued = service.issue_key(session, administration)
    with db.transaction(sessions) as session:
        caller = service.authenticate(session, issued.secret)
        assert caller.role == "administration"
        assert caller.administration is not None and caller.administration.code == "L3"
        stored = repository.get_api_key(session, issued.record.id)
        assert stored is not None and issued.secret.split("_", 2)[2] not in stored.secret_hash


def test_code_is_unique(engine: Engine) -> None:
    db.migrate(engine)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as session:
        repository.add_administration(session, code="L4", registry_id="0x04", name="Four", admission_tx=None)
    with pytest.raises(Exception, match="(?i)unique|duplicate"), db.transaction(sessions) as session:
        repository.add_administration(session, code="L4", registry_id="0x05", name="Again", admission_tx=None)


@pytest.mark.postgres
def test_postgres_connection_closed_by_the_server_while_idle_is_replaced(
    postgres: PostgresSchemas, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.create_db_engine(postgres.url)
    try:
        with engine.connect() as connection:
            first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        # Back in the pool; the server closes it (a restart, an idle timeout) while nobody uses it.
        with postgres.admin.begin() as admin:
            assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar_one() is True
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
        with engine.connect() as connection:
            second = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert second != first
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_connection_in_steady_use_is_used_without_a_ping(postgres: PostgresSchemas) -> None:
    """No round trip is spent checking a connection that was in use a moment ago: one the server killed meanwhile
    fails its next statement (and the pool is then renewed), as any connection lost in use does."""
    engine = db.create_db_engine(postgres.url)
    try:
        with engine.connect() as connection:
            first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with postgres.admin.begin() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        with pytest.raises(OperationalError), engine.connect() as connection:
            connection.execute(text("SELECT pg_backend_pid()"))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
    finally:
        engine.dispose()
