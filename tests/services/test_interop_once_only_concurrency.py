"""Once-only under concurrent requests, on SQLite and PostgreSQL: one decision per request, one delivery (and one
access-log entry) however many fetch it at once."""

import asyncio
import base64
import secrets
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers import RunningServer, admit, log_in_citizen, make_pdf, make_settings, serve

AT_ONCE = 50


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp(f"segell-once-only-{request.param}")
    if request.param == "sqlite":
        yield from serve(make_settings(home))
        return
    with request.getfixturevalue("postgres").schema("segell_once_only") as database_url:
        yield from serve(make_settings(home, database_url=database_url))


def at_once(server: RunningServer, token: str, method: str, path: str, bodies: list[object]) -> list[httpx.Response]:
    """Send every request at the same time, each on a connection of its own."""

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits, timeout=120) as http:
            return list(await asyncio.gather(*(http.request(method, path, json=body) for body in bodies)))

    return asyncio.run(send_all())


def test_one_decision_and_one_delivery_under_concurrent_requests(server: RunningServer) -> None:
    subject = f"{secrets.randbelow(10**8):08d}C"
    with admit(server, "Institut de Proves") as holder, admit(server, "Ajuntament de Proves") as consumer:
        kept = holder.http.post(
            "/v1/interop/once-only/documents",
            json={
                "national_id": subject,
                "document_type": "DIPLOMA",
                "title": "Títol",
                "file_name": "titol.pdf",
                "content_base64": base64.b64encode(make_pdf("Titol")).decode(),
                "seal_certificate": holder.issue("seal"),
            },
        )
        assert kept.status_code == 201, kept.text
        asked = consumer.http.post(
            "/v1/interop/once-only/requests",
            json={
                "national_id": subject,
                "document_type": "DIPLOMA",
                "procedure_code": "BEQUES",
                "case_id": "B-1",
                "officer": "Pere Vidal",
            },
        )
        request_id = asked.json()["id"]
        citizen = log_in_citizen(consumer.http)
        bound = consumer.http.post("/v1/interop/citizens", json={"citizen_token": citizen, "national_id": subject})
        assert bound.status_code == 200, bound.text

        decisions = [{"decision": "consent" if i % 2 else "refuse"} for i in range(AT_ONCE)]
        decided = at_once(server, citizen, "POST", f"/v1/me/once-only/{request_id}/decision", decisions)
        outcome = Counter(r.json()["status"] if r.status_code == 200 else r.json()["error"]["code"] for r in decided)
        assert sum(outcome[status] for status in ("authorised", "refused")) == 1, outcome
        assert outcome["already_decided"] == AT_ONCE - 1, outcome
        final = consumer.http.get(f"/v1/interop/once-only/requests/{request_id}").json()["status"]
        assert final == next(status for status in ("authorised", "refused") if outcome[status])
        if final == "refused":
            # The document cannot be fetched: ask again, and let the citizen consent this time.
            request_id = consumer.http.post(
                "/v1/interop/once-only/requests",
                json={
                    "national_id": subject,
                    "document_type": "DIPLOMA",
                    "procedure_code": "BEQUES",
                    "case_id": "B-1",
                    "officer": "Pere Vidal",
                },
            ).json()["id"]
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {citizen}"}) as http:
                assert http.post(f"/v1/me/once-only/{request_id}/decision", json={"decision": "consent"}).is_success

        consumer_key = consumer.key
        fetched = at_once(
            server, consumer_key, "GET", f"/v1/interop/once-only/requests/{request_id}/document", [None] * AT_ONCE
        )
        assert [r.status_code for r in fetched] == [200] * AT_ONCE, [r.text for r in fetched if r.status_code != 200]
        assert len({r.json()["answer_jws"] for r in fetched}) == 1
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {citizen}"}) as http:
            logged = http.get("/v1/me/access").json()["accesses"]
        assert [access["id"] for access in logged] == [request_id]
