"""A survey link takes exactly one answer, however many arrive at once: 50 answers fired together through one link
on SQLite and on PostgreSQL (when SEGELL_TEST_POSTGRES_URL is set) leave one rating, and 49 are told it is spent."""

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import RunningServer, make_settings, serve

CONCURRENT = 50


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp(f"segell-survey-{request.param}")
    if request.param == "sqlite":
        yield from serve(make_settings(home))
        return
    with request.getfixturevalue("postgres").schema("segell_survey") as database_url:
        yield from serve(make_settings(home, database_url=database_url))


def test_fifty_answers_at_once_through_one_link_record_exactly_one(server: RunningServer) -> None:
    code = "L08000050"
    with server.client(server.admit(code=code)) as council:
        invitation = council.post("/v1/participation/invitations", json={"procedure": "PADRO-CERT"})
    token = invitation.json()["token"]

    async def answer_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as http:
            path = f"/v1/participation/invitations/{token}/answer"
            return list(await asyncio.gather(*(http.post(path, json={"rating": 1 + n % 5}) for n in range(CONCURRENT))))

    answers = asyncio.run(answer_all())

    outcomes = Counter(
        (response.status_code, response.json()["error"]["code"] if response.status_code >= 400 else None)
        for response in answers
    )
    assert outcomes == {(201, None): 1, (409, "survey_answered"): CONCURRENT - 1}
    with server.client() as anyone:
        ratings = anyone.get(f"/v1/participation/ratings/{code}").json()["procedures"]
    winner = next(response.json()["rating"] for response in answers if response.status_code == 201)
    assert [(p["procedure"], p["count"], p["average"]) for p in ratings] == [("PADRO-CERT", 1, float(winner))]
