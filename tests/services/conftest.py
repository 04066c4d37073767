"""What the services' tests share beyond tests/conftest.py: the formats of the API's schema that fuzzing must draw
from real examples, which no JSON Schema can describe, and a migrated database on each backend."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.pytest.plugin import SchemathesisFunction
from sqlalchemy import Engine

from segell.services.db import create_db_engine, migrate
from segell.services.opendata.publications_router import FILE_FORMATS

SAMPLE = Path(__file__).resolve().parents[2] / "services" / "opendata" / "sample"

# A submitted file of each block: the sample files, which are valid against the block's Table Schema.
for _block, _format in FILE_FORMATS.items():
    _files = sorted(path.read_bytes() for path in SAMPLE.glob(f"*/{_block}-*.csv"))
    schemathesis.openapi.format(_format, st.sampled_from(_files))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each fuzzed operation's test its own node id, `...::test_name[METHOD /path]`.

    Under pytest 9 schemathesis's test items take their node id from the test function's name alone, so every
    operation's test had the same id; pytest-xdist schedules by node id, and ran one operation's test where the
    schema has ~140 (`make test`: 1,941 passed of 2,080 collected).
    """
    for item in items:
        if isinstance(item, SchemathesisFunction) and item.operation_label and item.id.params is None:
            item._id = item.id.with_params(item.operation_label)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database migrated to the newest revision: a SQLite file, then a PostgreSQL schema of its own (modules
    that need another database define their own `engine`)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/segell.db"
    else:
        url = request.getfixturevalue("postgres_database")
    engine = create_db_engine(url)
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()
