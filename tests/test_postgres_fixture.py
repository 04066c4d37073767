"""The `postgres` fixture: skips when PostgreSQL is not configured, fails when it is configured but down, and gives
each user a schema of its own that is dropped afterwards."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from tests.helpers import PostgresSchemas, closed_port

REPO = Path(__file__).resolve().parents[1]


def run_probe(postgres_url: str | None) -> subprocess.CompletedProcess[str]:
    """pytest in a process of its own, with the suite's conftest, on one test that asks for a PostgreSQL database."""
    env = {name: value for name, value in os.environ.items() if name not in ("SEGELL_TEST_POSTGRES_URL", "CI")}
    if postgres_url is not None:
        env["SEGELL_TEST_POSTGRES_URL"] = postgres_url
    # The probe needs none of the plugins (hypothesis, xdist, schemathesis...), whose loading takes most of its start.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", "tests/postgres_probe.py"]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_postgres_fixture_fails_when_the_url_is_set_and_the_server_does_not_answer() -> None:
    result = run_probe(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test")

    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert "SEGELL_TEST_POSTGRES_URL is set but PostgreSQL at" in result.stdout
    assert "skipped" not in result.stdout


def test_postgres_fixture_skips_saying_how_to_enable_when_the_url_is_unset() -> None:
    result = run_probe(None)

    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "set SEGELL_TEST_POSTGRES_URL=postgresql+psycopg://" in result.stdout


@pytest.mark.postgres
def test_postgres_schema_is_fresh_and_dropped_afterwards(postgres: PostgresSchemas) -> None:
    with postgres.schema("segell_probe") as url:
        schema = make_url(url).query["options"].removeprefix("-csearch_path=")
        engine = create_engine(url)
        with engine.begin() as connection:
            tables_before = connection.execute(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()")
            ).scalar_one()
            connection.execute(text("CREATE TABLE probe (id integer)"))
            created_in = connection.execute(
                text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'probe'")
            ).scalar_one()
        engine.dispose()
    with postgres.admin.connect() as connection:
        left = connection.execute(
            text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = :name"), {"name": schema}
        ).scalar_one()

    assert schema.startswith("segell_probe_")
    assert (tables_before, created_in, left) == (0, schema, 0)
