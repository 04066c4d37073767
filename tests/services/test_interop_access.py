"""A citizen reads who accessed their data (`/v1/me/access`), with their login with Segell's citizen
authentication, against a real server where two administrations exchange residence data."""

import csv
import io
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from segell.services.notary.settings import NotarySettings
from tests.helpers import RunningServer, Tenant, admit, log_in_citizen, make_settings, movable_clock, new_phone, serve

LEGAL_BASIS = "https://www.boe.es/eli/es/l/1985/04/02/7"
RESIDENCE_SCHEMA = {
    "type": "object",
    "required": ["municipality", "since"],
    "properties": {"municipality": {"type": "string"}, "since": {"type": "string"}},
}


def national_id() -> str:
    return f"{secrets.randbelow(10**8):08d}T"


@dataclass
class Exchange:
    """Two administrations: `provider` keeps the residence register, `consumer` asks it during its procedures."""

    provider: Tenant
    consumer: Tenant

    def ask(self, subject: str, **extra: Any) -> dict[str, Any]:
        body = {
            "provider": self.provider.code,
            "service": "RESIDENCE",
            "subject": {"national_id": subject},
            "purpose": {"procedure_code": "AJUTS-MENJADOR", "case_id": "2026-000417", "legal_basis": LEGAL_BASIS},
            "officer": "Marta Soler (tècnica de serveis socials)",
            **extra,
        }
        response = self.consumer.http.post("/v1/interop/requests", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def register(self, subject: str) -> None:
        services = self.provider.http.get("/v1/interop/services").json()["items"]
        service_id = next(s["id"] for s in services if s["provider"] == self.provider.code)
        records = {"records": [{"national_id": subject, "data": {"municipality": "Girona", "since": "2019-03-01"}}]}
        response = self.provider.http.put(f"/v1/interop/services/{service_id}/records", json=records)
        assert response.status_code == 200, response.text


def set_up_exchange(server: RunningServer, provider: Tenant, consumer: Tenant) -> Exchange:
    registration = {
        "code": "RESIDENCE",
        "description": "Padró municipal d'habitants: municipi i data d'alta.",
        "response_schema": RESIDENCE_SCHEMA,
        "legal_bases": [LEGAL_BASIS],
        "consent_required": False,
        "seal_certificate": provider.issue("seal"),
    }
    response = provider.http.post("/v1/interop/services", json=registration)
    assert response.status_code == 201, response.text
    asked = consumer.http.post(
        "/v1/interop/authorisations",
        json={
            "provider": provider.code,
            "service": "RESIDENCE",
            "procedure_code": "AJUTS-MENJADOR",
            "justification": "Ajuts de menjador escolar: cal acreditar l'empadronament.",
        },
    )
    assert asked.status_code == 201, asked.text
    granted = provider.http.post(
        f"/v1/interop/authorisations/{asked.json()['id']}/decision", json={"decision": "grant"}
    )
    assert granted.status_code == 200, granted.text
    return Exchange(provider, consumer)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-access"), NotarySettings(batch_max_wait=0.05)))


@pytest.fixture(scope="module")
def exchange(server: RunningServer) -> Iterator[Exchange]:
    with admit(server, "Padró de Girona") as provider, admit(server, "Ajuntament de Salt") as consumer:
        yield set_up_exchange(server, provider, consumer)


def citizen_of(exchange: Exchange, subject: str, phone: str | None = None) -> httpx.Client:
    """The citizen holding `subject`, logged in with the consumer, who bound their login to their national id."""
    token = log_in_citizen(exchange.consumer.http, phone)
    bound = exchange.consumer.http.post("/v1/interop/citizens", json={"citizen_token": token, "national_id": subject})
    assert bound.status_code == 200, bound.text
    return httpx.Client(base_url=str(exchange.consumer.http.base_url), headers={"Authorization": f"Bearer {token}"})


def accesses(citizen: httpx.Client) -> list[dict[str, Any]]:
    response = citizen.get("/v1/me/access")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()["accesses"]
    return result


def test_citizen_sees_who_accessed_their_residence_data_when_and_why(exchange: Exchange) -> None:
    subject = national_id()
    exchange.register(subject)
    before = datetime.now(UTC)
    answered = exchange.ask(subject)
    with citizen_of(exchange, subject) as citizen:
        seen = accesses(citizen)
    assert [access["id"] for access in seen] == [answered["id"]]
    access = seen[0]
    assert access["consumer"] == {"code": exchange.consumer.code, "name": "Ajuntament de Salt"}
    assert access["provider"] == {"code": exchange.provider.code, "name": "Padró de Girona"}
    assert (access["data"], access["procedure_code"], access["case_id"]) == (
        "RESIDENCE",
        "AJUTS-MENJADOR",
        "2026-000417",
    )
    assert access["legal_basis"] == LEGAL_BASIS
    assert access["officer"] == "Marta Soler (tècnica de serveis socials)"
    assert before <= datetime.fromisoformat(access["at"]) <= datetime.now(UTC)


def test_another_citizen_sees_none_of_it(exchange: Exchange) -> None:
    subject = national_id()
    exchange.register(subject)
    exchange.ask(subject)
    with citizen_of(exchange, national_id()) as someone_else:
        assert accesses(someone_else) == []


def test_citizen_logged_in_with_another_administration_sees_the_same_accesses(exchange: Exchange) -> None:
    subject = national_id()
    exchange.register(subject)
    answered = exchange.ask(subject)
    token = log_in_citizen(exchange.provider.http)
    bound = exchange.provider.http.post("/v1/interop/citizens", json={"citizen_token": token, "national_id": subject})
    assert bound.status_code == 200, bound.text
    with httpx.Client(base_url=str(exchange.provider.http.base_url), headers={"Authorization": f"Bearer {token}"}) as c:
        assert [access["id"] for access in accesses(c)] == [answered["id"]]


def test_access_hidden_until_a_date_is_shown_only_from_that_date(server: RunningServer, exchange: Exchange) -> None:
    subject = national_id()
    exchange.register(subject)
    shown = exchange.ask(subject)
    hidden = exchange.ask(subject, hidden_until=(datetime.now(UTC) + timedelta(days=30)).isoformat())
    phone = new_phone()
    with citizen_of(exchange, subject, phone) as citizen:
        assert [access["id"] for access in accesses(citizen)] == [shown["id"]]
        exported = citizen.get("/v1/me/access/export", params={"format": "json"}).json()
        assert [access["id"] for access in exported["accesses"]] == [shown["id"]]
    with movable_clock(server) as clock:
        clock.advance(days=30, seconds=1)
        # The earlier token expired meanwhile: the citizen logs in again, on the day the access is shown.
        token = log_in_citizen(exchange.consumer.http, phone)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as citizen:
            assert [access["id"] for access in accesses(citizen)] == [hidden["id"], shown["id"]]


def test_export_holds_every_access_as_csv_and_json(exchange: Exchange) -> None:
    subject = national_id()
    exchange.register(subject)
    first = exchange.ask(subject)
    second = exchange.ask(
        subject,
        purpose={
            "procedure_code": "AJUTS-MENJADOR",
            "case_id": "=HYPERLINK(1)",
            "legal_basis": LEGAL_BASIS,
        },
    )
    with citizen_of(exchange, subject) as citizen:
        as_csv = citizen.get("/v1/me/access/export", params={"format": "csv"})
        as_json = citizen.get("/v1/me/access/export", params={"format": "json"})
        shown = accesses(citizen)
    assert as_csv.status_code == 200 and as_json.status_code == 200
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert as_csv.headers["content-disposition"].startswith('attachment; filename="segell-accesses-')
    assert as_csv.headers["cache-control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert [row["id"] for row in rows] == [second["id"], first["id"]]
    assert rows[1]["consumer_name"] == "Ajuntament de Salt" and rows[1]["provider_code"] == exchange.provider.code
    assert (rows[1]["data"], rows[1]["procedure_code"], rows[1]["legal_basis"]) == (
        "RESIDENCE",
        "AJUTS-MENJADOR",
        LEGAL_BASIS,
    )
    # A case id a spreadsheet would run as a formula is written as text.
    assert rows[0]["case_id"] == "'=HYPERLINK(1)"
    document = json.loads(as_json.content)
    assert document["format"] == "segell-access-log-export/1"
    assert document["administration"] == {"code": exchange.consumer.code, "name": "Ajuntament de Salt"}
    assert [entry["id"] for entry in document["accesses"]] == [access["id"] for access in shown]
    assert document["accesses"][0]["case_id"] == "=HYPERLINK(1)"
    assert document["accesses"][1]["at"] == shown[1]["at"].replace("+00:00", "Z")


def test_access_log_before_the_login_is_bound_answers_404_citizen_not_identified(exchange: Exchange) -> None:
    token = log_in_citizen(exchange.consumer.http)
    with httpx.Client(base_url=str(exchange.consumer.http.base_url), headers={"Authorization": f"Bearer {token}"}) as c:
        response = c.get("/v1/me/access")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "citizen_not_identified"
    assert "/v1/interop/citizens" in error["message"]


def test_access_log_without_a_citizen_token_answers_401(exchange: Exchange, server: RunningServer) -> None:
    with server.client() as anonymous:
        assert anonymous.get("/v1/me/access").status_code == 401
    # An administration's API key is not a citizen's login.
    assert exchange.consumer.http.get("/v1/me/access").json()["error"]["code"] == "invalid_token"


def test_binding_refuses_a_login_with_another_administration(exchange: Exchange) -> None:
    token = log_in_citizen(exchange.provider.http)
    response = exchange.consumer.http.post(
        "/v1/interop/citizens", json={"citizen_token": token, "national_id": national_id()}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "citizen_of_another_administration"


def test_binding_refuses_another_national_id_for_a_bound_login_and_another_login_for_a_bound_id(
    exchange: Exchange,
) -> None:
    subject = national_id()
    token = log_in_citizen(exchange.consumer.http)
    bind = exchange.consumer.http.post
    assert bind("/v1/interop/citizens", json={"citizen_token": token, "national_id": subject}).status_code == 200
    # The same again is no change.
    assert (
        bind("/v1/interop/citizens", json={"citizen_token": token, "national_id": subject.lower()}).status_code == 200
    )
    other_id = bind("/v1/interop/citizens", json={"citizen_token": token, "national_id": national_id()})
    assert (other_id.status_code, other_id.json()["error"]["code"]) == (403, "citizen_mismatch")
    other_login = log_in_citizen(exchange.consumer.http)
    taken = bind("/v1/interop/citizens", json={"citizen_token": other_login, "national_id": subject})
    assert (taken.status_code, taken.json()["error"]["code"]) == (403, "citizen_mismatch")
