"""The after-transaction survey over the real API: a single-use link per completed procedure, one answer through
it, and the ratings per procedure, read by anyone and published as an open dataset whose version verifies."""

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import create_engine, update

from segell.services.participation.survey_models import SurveyInvitation
from tests.helpers import RunningServer


@pytest.fixture(scope="module")
def council(segell_server: RunningServer) -> Iterator[httpx.Client]:
    with segell_server.client(segell_server.admit(code="L08019099", name="Ajuntament de Survey")) as client:
        yield client


def invite(client: httpx.Client, procedure: str = "PADRO-CERT", **extra: object) -> dict[str, str]:
    response = client.post("/v1/participation/invitations", json={"procedure": procedure, **extra})
    assert response.status_code == 201, response.text
    return dict(response.json())


def answer(server: RunningServer, token: str, **body: object) -> httpx.Response:
    with server.client() as anyone:
        return anyone.post(f"/v1/participation/invitations/{token}/answer", json=body)


def test_invitation_link_leads_to_the_survey_page_of_the_procedure(
    segell_server: RunningServer, council: httpx.Client
) -> None:
    invitation = invite(council, procedure_name="Certificat de padró", language="es")

    assert invitation["url"] == f"{segell_server.url}/participation/survey/{invitation['token']}?lang=es"
    with segell_server.client() as anyone:
        view = anyone.get(f"/v1/participation/invitations/{invitation['token']}").json()
    assert (view["administration"], view["procedure"], view["procedure_name"], view["status"]) == (
        "Ajuntament de Survey",
        "PADRO-CERT",
        "Certificat de padró",
        "open",
    )


def test_survey_link_takes_one_answer_only(segell_server: RunningServer, council: httpx.Client) -> None:
    token = invite(council)["token"]

    first = answer(segell_server, token, rating=4, idea="Que el certificat arribi també per correu electrònic.")
    second = answer(segell_server, token, rating=1)

    assert first.status_code == 201, first.text
    assert (first.json()["rating"], first.json()["idea_recorded"]) == (4, True)
    assert (second.status_code, second.json()["error"]["code"]) == (409, "survey_answered")
    with segell_server.client() as anyone:
        assert anyone.get(f"/v1/participation/invitations/{token}").json()["status"] == "answered"


def test_survey_answer_refuses_a_rating_outside_one_to_five(
    segell_server: RunningServer, council: httpx.Client
) -> None:
    token = invite(council)["token"]

    refused = [answer(segell_server, token, rating=value).status_code for value in (0, 6, "5", True)]

    assert refused == [422, 422, 422, 422]
    assert answer(segell_server, token, rating=5).status_code == 201


def test_survey_answer_through_an_unknown_link_answers_404(segell_server: RunningServer) -> None:
    response = answer(segell_server, "A" * 32, rating=3)

    assert (response.status_code, response.json()["error"]["code"]) == (404, "survey_not_found")


def test_invitation_needs_an_administrations_key(segell_server: RunningServer) -> None:
    with segell_server.client(segell_server.governance_key) as governance:
        as_governance = governance.post("/v1/participation/invitations", json={"procedure": "X"})
    with segell_server.client() as anyone:
        without_key = anyone.post("/v1/participation/invitations", json={"procedure": "X"})

    assert (as_governance.status_code, as_governance.json()["error"]["code"]) == (403, "administration_key_required")
    assert without_key.status_code == 401


def test_ratings_per_procedure_are_published_as_an_open_dataset_that_verifies(
    segell_server: RunningServer,
) -> None:
    with segell_server.client(segell_server.admit(code="L17079000", name="Ajuntament de Girona")) as girona:
        for procedure, values in (("LLICENCIA-OBRES", [2, 4]), ("PADRO-CERT", [5, 5, 3])):
            for value in values:
                token = invite(girona, procedure, procedure_name=procedure.title())["token"]
                assert answer(segell_server, token, rating=value).status_code == 201
        invite(girona, "NEVER-ANSWERED")
        published = girona.post("/v1/participation/ratings")

    assert published.status_code == 201, published.text
    publication = published.json()
    assert (publication["dataset"], publication["procedures"], publication["answers"]) == (
        "l17079000-valoracio-tramits",
        2,
        5,
    )
    with segell_server.client() as anyone:
        ratings = anyone.get("/v1/participation/ratings/L17079000").json()
        rows = list(csv.DictReader(io.StringIO(anyone.get(publication["download_url"]).text)))
        verified = anyone.get("/v1/verify", params={"code": publication["verification_code"]})
    assert [(p["procedure"], p["count"], p["average"], p["counts"]) for p in ratings["procedures"]] == [
        ("LLICENCIA-OBRES", 2, 3.0, [0, 1, 0, 1, 0]),
        ("PADRO-CERT", 3, 4.33, [0, 0, 1, 0, 2]),
    ]
    assert [(r["procedure"], r["answers"], r["average"], r["rated_5"]) for r in rows] == [
        ("LLICENCIA-OBRES", "2", "3.00", "0"),
        ("PADRO-CERT", "3", "4.33", "2"),
    ]
    assert verified.status_code == 200, verified.text
    assert verified.json()["matches"][0]["kind"] == "dataset-version"


def open_ideas_process(client: httpx.Client, services: list[str]) -> str:
    text = {"ca": "Idees per als tràmits", "es": "Ideas para los trámites", "en": "Ideas for the procedures"}
    response = client.post(
        "/v1/participation/processes",
        json={"type": "ideas", "title": text, "description": text, "services": services, "eligibility": "citizens"},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_survey_idea_becomes_a_proposal_of_the_ideas_process_for_the_procedure(
    segell_server: RunningServer,
) -> None:
    with segell_server.client(segell_server.admit(name="Ajuntament de Reus")) as reus:
        waiting = invite(reus, "PADRO-CERT")["token"]
        before = answer(segell_server, waiting, rating=3, idea="Poder demanar-lo\nsense cita prèvia.")
        process_id = open_ideas_process(reus, ["PADRO-CERT", "LLICENCIA-OBRES"])
        after = answer(segell_server, invite(reus, "LLICENCIA-OBRES")["token"], rating=2, idea="Menys paper.")
        without_idea = answer(segell_server, invite(reus, "LLICENCIA-OBRES")["token"], rating=5)
        linked = reus.post("/v1/participation/survey-ideas")
        linked_again = reus.post("/v1/participation/survey-ideas")
        proposals = reus.get(f"/v1/participation/processes/{process_id}/proposals", params={"sort": "newest"}).json()

    assert before.json()["proposal_id"] is None
    assert after.json()["proposal_id"] is not None
    assert without_idea.json()["proposal_id"] is None
    assert (linked.json()["linked"], linked_again.json()["linked"]) == (1, 0)
    assert sorted((p["title"], p["body"], p["service"]) for p in proposals["items"]) == [
        ("Menys paper.", "Menys paper.", "LLICENCIA-OBRES"),
        ("Poder demanar-lo sense cita prèvia.", "Poder demanar-lo sense cita prèvia.", "PADRO-CERT"),
    ]
    assert after.json()["proposal_id"] in {p["id"] for p in proposals["items"]}


def test_survey_link_past_its_expiry_answers_410(segell_server: RunningServer, council: httpx.Client) -> None:
    invitation = invite(council, expires_in_days=1)
    # A day later, as the database sees it.
    engine = create_engine(segell_server.settings.sqlalchemy_url)
    with engine.begin() as connection:
        connection.execute(
            update(SurveyInvitation)
            .where(SurveyInvitation.id == invitation["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    engine.dispose()

    response = answer(segell_server, invitation["token"], rating=5)

    assert (response.status_code, response.json()["error"]["code"]) == (410, "survey_expired")
    with segell_server.client() as anyone:
        assert anyone.get(f"/v1/participation/invitations/{invitation['token']}").json()["status"] == "expired"
