"""Migrations and storage on SQLite (always) and PostgreSQL (when SEGELL_TEST_POSTGRES_URL is set, as in CI)."""

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from segell.services import db
from segell.services.administrations import repository, service


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
