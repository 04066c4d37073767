"""Run only by tests/test_postgres_fixture.py, in a pytest process of its own (its name keeps it out of the suite)."""


def test_probe_asks_for_a_postgres_database(postgres_database: str) -> None:
    assert postgres_database.startswith("postgresql")
