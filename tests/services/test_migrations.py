"""The migrations and every domain's models agree: autogenerate against a database at head finds nothing to write."""

from pathlib import Path

from sqlalchemy import Engine, text

from segell.services.db import create_db_engine, head_revision, migrate, migration_diff


def _at_head(engine: Engine) -> Engine:
    assert migrate(engine) == head_revision()
    return engine


def test_autogenerate_against_a_database_at_head_finds_no_difference(tmp_path: Path) -> None:
    engine = _at_head(create_db_engine(f"sqlite:///{tmp_path}/segell.db"))
    try:
        assert migration_diff(engine) == []
    finally:
        engine.dispose()


def test_autogenerate_finds_a_table_the_migrations_lack(tmp_path: Path) -> None:
    engine = _at_head(create_db_engine(f"sqlite:///{tmp_path}/segell.db"))
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP TABLE revocations"))
        diff = migration_diff(engine)
    finally:
        engine.dispose()
    assert [(operation, table.name) for operation, table in diff] == [("add_table", "revocations")]
