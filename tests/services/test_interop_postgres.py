"""Interoperability on PostgreSQL: an exchange, a refusal, the access log's notarised day and a deleted entry
detected, against a server whose database is a PostgreSQL schema of its own.

Runs when SEGELL_TEST_POSTGRES_URL is set (CI sets it)."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select

from segell.services.interop import api as interop
from segell.services.interop.models import AccessLogEntry
from tests.helpers import PostgresSchemas, RunningServer, make_settings, runtime_of, serve
from tests.services.test_interop import CITIZEN, Party, ask, authorise, register_service


@pytest.fixture(scope="module")
def pg_server(postgres: PostgresSchemas, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with postgres.schema("segell_interop") as database_url:
        yield from serve(make_settings(tmp_path_factory.mktemp("segell-pg"), database_url=database_url))


def test_exchange_refusal_and_log_day_on_postgres(pg_server: RunningServer) -> None:
    town_hall, register = Party(pg_server, "Ajuntament de Salt"), Party(pg_server, "Consell Comarcal")
    service = register_service(register)
    stored = register.http.put(
        f"/v1/interop/services/{service['id']}/records",
        json={"records": [{"national_id": CITIZEN, "data": {"municipality": "Salt", "since": "2021-06-15"}}]},
    )
    assert stored.json() == {"stored": 1}

    refused = ask(town_hall, register)
    authorise(town_hall, register, "RESIDENCE", "PADRO-ALTA")
    answered = [ask(town_hall, register) for _ in range(2)]

    assert refused.status_code == 403 and refused.json()["error"]["code"] == "no_authorisation"
    assert [response.status_code for response in answered] == [201, 201]
    assert answered[0].json()["answer"]["data"] == {"municipality": "Salt", "since": "2021-06-15"}
    runtime = runtime_of(pg_server)
    key = interop.subject_key(runtime.master_key, CITIZEN)
    with runtime.transaction() as session:
        seen = interop.accesses_of(session, key, datetime.now(UTC))
        consumer_id, day = seen[0].consumer_id, seen[0].day
        interop.close_day(session, consumer_id, day)
    assert {entry.exchange_id for entry in seen} == {response.json()["id"] for response in answered}
    with runtime.transaction() as session:
        assert interop.verify_day(session, consumer_id, day).intact is True
        session.execute(delete(AccessLogEntry).where(AccessLogEntry.exchange_id == answered[0].json()["id"]))
    with runtime.transaction() as session:
        after = interop.verify_day(session, consumer_id, day)
        left = session.scalars(select(AccessLogEntry.exchange_id).where(AccessLogEntry.subject_key == key)).all()
    assert (after.intact, after.entry_count, after.notarised_count) == (False, 1, 2)
    assert left == [answered[1].json()["id"]]
    town_hall.http.close()
    register.http.close()
