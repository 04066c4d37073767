"""Fixtures shared by the whole suite: a real Segell server on 127.0.0.1 over a real chain and database, and
PostgreSQL schemas of their own. Plain functions and classes the tests share are in tests/helpers.py."""

import os
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from segell.chain.anvil import find_anvil
from segell.chain.nodes import AnvilNotFound
from tests.helpers import PostgresSchemas, RunningServer, make_settings, serve

POSTGRES_URL_VARIABLE = "SEGELL_TEST_POSTGRES_URL"
POSTGRES_URL_EXAMPLE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config.option, "loadscopereorder"):  # pytest-xdist: take the modules in the order below
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules with slow tests (restarts, kills, notebooks, installs) first, then the others, largest first.

    `make test` hands whole modules to its workers in this order (--dist loadfile; `pytest_configure` turns off
    xdist's own order, by number of tests, which put the few-but-long modules last, where one of them kept a worker
    busy long after the other had run out of modules)."""
    sizes = Counter(item.path for item in items)
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    first: dict[object, int] = {}
    for position, item in enumerate(items):
        first.setdefault(item.path, position)
    items.sort(key=lambda item: (item.path not in slow, -sizes[item.path], first[item.path]))


@pytest.fixture(scope="module")
def segell_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A Segell server on the embedded chain with a fresh SEGELL_HOME, shared by the tests of one module."""
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-home")))


@pytest.fixture(scope="module")
def anvil_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A Segell server managing its own anvil node, shared by the tests of one module."""
    try:
        find_anvil(None)
    except AnvilNotFound:
        pytest.skip("anvil not installed (make setup installs it from npm)")
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-anvil"), chain="anvil"))


@pytest.fixture
def governance(segell_server: RunningServer) -> Iterator[httpx.Client]:
    with segell_server.client(segell_server.governance_key) as client:
        yield client


@pytest.fixture(scope="module")
def issuer(segell_server: RunningServer) -> Iterator[httpx.Client]:
    """An HTTP client of an administration admitted for the module's tests."""
    with segell_server.client(segell_server.admit()) as client:
        yield client


@pytest.fixture(scope="module")
def other_issuer(segell_server: RunningServer) -> Iterator[httpx.Client]:
    """Another administration's client, for what one tenant must not see or change of another's."""
    with segell_server.client(segell_server.admit()) as client:
        yield client


@pytest.fixture
def runner() -> CliRunner:
    """Runs the `segell` CLI in process."""
    return CliRunner()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresSchemas]:
    """PostgreSQL for the tests that run on it too.

    Unset SEGELL_TEST_POSTGRES_URL skips them (and fails on CI, which must set it); a URL that is set but whose
    server does not answer fails them: a CI run whose database is down must not pass by skipping.
    """
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_URL_VARIABLE} must be set in CI (.ci/run sets it)", pytrace=False)
        pytest.skip(f"PostgreSQL not configured: set {POSTGRES_URL_VARIABLE}={POSTGRES_URL_EXAMPLE} to run this on it")
    schemas = PostgresSchemas(url)
    try:
        with schemas.admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        schemas.admin.dispose()
        where = make_url(url).render_as_string(hide_password=True)
        pytest.fail(f"{POSTGRES_URL_VARIABLE} is set but PostgreSQL at {where} does not answer: {error}", pytrace=False)
    yield schemas
    schemas.admin.dispose()


@pytest.fixture
def postgres_database(postgres: PostgresSchemas) -> Iterator[str]:
    """A PostgreSQL database URL on a fresh schema of this test's own, dropped after it."""
    with postgres.schema() as url:
        yield url
