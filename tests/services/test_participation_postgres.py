"""Participation's limits on PostgreSQL: one ballot per voter and one support per citizen per proposal, exact under
50 concurrent requests; a replacing ballot and a close on it."""

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import PostgresSchemas
from tests.helpers import RunningServer, make_settings, serve
from tests.services.participation_support import at_once, budget_process, citizen_token, new_phone, texts

PREFIX = "/v1/participation"


@pytest.fixture(scope="module")
def pg_server(postgres: PostgresSchemas, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with postgres.schema("segell_participation") as database_url:
        yield from serve(make_settings(tmp_path_factory.mktemp("segell-pg"), database_url=database_url))


def census(admin: httpx.Client, process_id: str, phones: list[str]) -> None:
    ids = admin.post(f"{PREFIX}/census/citizen-ids", json={"phones": phones}).json()["citizen_ids"]
    assert admin.post(f"{PREFIX}/processes/{process_id}/census", json={"citizen_ids": ids}).status_code == 200


def test_limits_are_exact_under_50_concurrent_requests_on_postgresql(pg_server: RunningServer) -> None:
    code = "L08PGPART"
    phone = new_phone()
    with pg_server.client(pg_server.admit(code=code)) as admin:
        refusing = admin.post(f"{PREFIX}/processes", json=budget_process()).json()["id"]
        replacing = admin.post(f"{PREFIX}/processes", json=budget_process(ballot_replacement=True)).json()["id"]
        ideas = admin.post(
            f"{PREFIX}/processes", json={"type": "ideas", "title": texts("I"), "description": texts("I")}
        ).json()["id"]
        for process_id in (refusing, replacing, ideas):
            census(admin, process_id, [phone])
        token = citizen_token(pg_server, code, phone)
        headers = {"Authorization": f"Bearer {token}"}
        with pg_server.client(token) as author:
            proposal = author.post(f"{PREFIX}/processes/{ideas}/proposals", json={"title": "T", "body": "B"}).json()

        ballots = at_once(
            pg_server,
            50,
            lambda c: c.post(f"{PREFIX}/processes/{refusing}/ballots", json={"choices": ["P1", "P2"]}, headers=headers),
        )
        supports = at_once(
            pg_server,
            50,
            lambda c: c.post(
                f"{PREFIX}/proposals/{proposal['id']}/supports",
                json={"version_hash": proposal["version_hash"]},
                headers=headers,
            ),
        )
        replacements = at_once(
            pg_server,
            50,
            lambda c: c.post(
                f"{PREFIX}/processes/{replacing}/ballots", json={"choices": ["P3", "P4"]}, headers=headers
            ),
        )
        refused_tally = admin.post(f"{PREFIX}/processes/{refusing}/close").json()["tally"]
        replaced_tally = admin.post(f"{PREFIX}/processes/{replacing}/close").json()["tally"]

    assert ballots == [201] + [409] * 49
    assert supports == [201] + [409] * 49
    assert replacements == [201] * 50
    assert (refused_tally["ballots_count"], replaced_tally["ballots_count"]) == (1, 1)
    assert {t["option"]: t["votes"] for t in replaced_tally["tally"]}["P3"] == 1
