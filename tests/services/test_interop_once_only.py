"""Once-only: a citizen's document one administration keeps, obtained by another with the citizen's consent (given
after a preview) or under a legal basis the holder accepts; sealed, notarised, logged and verifiable as any exchange."""

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from segell.services.cli import app as cli
from segell.services.interop import api as interop
from segell.services.notary.settings import NotarySettings
from tests.helpers import RunningServer, Tenant, admit, log_in_citizen, make_pdf, make_settings, serve

EDUCATION_LAW = "https://www.boe.es/eli/es/lo/2006/05/03/2"
OTHER_LAW = "https://www.boe.es/eli/es/l/2015/10/01/39"
GDPR = "http://data.europa.eu/eli/reg/2016/679/oj"


def national_id() -> str:
    return f"{secrets.randbelow(10**8):08d}R"


@dataclass
class OnceOnly:
    """`holder` keeps the citizens' diplomas; `consumer` asks for them in its procedures."""

    holder: Tenant
    consumer: Tenant
    seal_certificate: str

    def keep(self, subject: str, content: bytes, **extra: Any) -> dict[str, Any]:
        body = {
            "national_id": subject,
            "document_type": "DIPLOMA",
            "title": "Títol de graduat en Educació Secundària",
            "file_name": "títol-ESO.pdf",
            "media_type": "application/pdf",
            "content_base64": base64.b64encode(content).decode(),
            "legal_bases": [EDUCATION_LAW],
            "seal_certificate": self.seal_certificate,
            **extra,
        }
        response = self.holder.http.post("/v1/interop/once-only/documents", json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def ask(self, subject: str, **extra: Any) -> httpx.Response:
        body = {
            "national_id": subject,
            "document_type": "DIPLOMA",
            "procedure_code": "BEQUES-2027",
            "case_id": "B-2027-118",
            "officer": "Pere Vidal",
            **extra,
        }
        return self.consumer.http.post("/v1/interop/once-only/requests", json=body)

    def asked(self, subject: str, **extra: Any) -> dict[str, Any]:
        response = self.ask(subject, **extra)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def fetch(self, request_id: str) -> httpx.Response:
        return self.consumer.http.get(f"/v1/interop/once-only/requests/{request_id}/document")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-once-only"), NotarySettings(batch_max_wait=0.05)))


@pytest.fixture(scope="module")
def once_only(server: RunningServer) -> Iterator[OnceOnly]:
    with admit(server, "Institut Vicens Vives") as holder, admit(server, "Ajuntament de Figueres") as consumer:
        yield OnceOnly(holder, consumer, holder.issue("seal"))


def citizen_of(once_only: OnceOnly, subject: str) -> httpx.Client:
    """The citizen holding `subject`, logged in with the consumer, their login bound to their national id."""
    token = log_in_citizen(once_only.consumer.http)
    bound = once_only.consumer.http.post("/v1/interop/citizens", json={"citizen_token": token, "national_id": subject})
    assert bound.status_code == 200, bound.text
    return httpx.Client(base_url=str(once_only.consumer.http.base_url), headers={"Authorization": f"Bearer {token}"})


def evidence_when_anchored(once_only: OnceOnly, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        response = once_only.consumer.http.get(f"/v1/interop/once-only/requests/{request_id}/evidence")
        if response.status_code != 409 or response.json()["error"]["code"] != "not_anchored":
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result
        assert time.monotonic() < deadline, "the delivery was not anchored"
        time.sleep(0.1)


def test_consent_bound_fetch_is_refused_until_the_citizen_consents_on_their_page_then_delivered(
    once_only: OnceOnly, runner: CliRunner, tmp_path: Path
) -> None:
    subject = national_id()
    content = make_pdf("Titol de graduat en ESO: Nuria Serra")
    kept = once_only.keep(subject, content)
    request = once_only.asked(subject)
    assert request["status"] == "consent_pending" and request["legal_basis"] is None

    refused = once_only.fetch(request["id"])
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "consent_missing"
    assert "/me/access" in refused.json()["error"]["message"]

    with citizen_of(once_only, subject) as citizen:
        listed = citizen.get("/v1/me/once-only").json()["requests"]
        assert [(r["id"], r["status"], r["consumer"]["name"], r["holder"]["name"]) for r in listed] == [
            (request["id"], "consent_pending", "Ajuntament de Figueres", "Institut Vicens Vives")
        ]
        preview = citizen.get(f"/v1/me/once-only/{request['id']}/preview")
        assert preview.status_code == 200 and preview.content == content
        assert preview.headers["content-type"] == "application/pdf"
        assert "attachment" in preview.headers["content-disposition"]
        decided = citizen.post(f"/v1/me/once-only/{request['id']}/decision", json={"decision": "consent"})
        assert decided.status_code == 200 and decided.json()["status"] == "authorised"

        delivered = once_only.fetch(request["id"])
        assert delivered.status_code == 200, delivered.text
        delivery = delivered.json()
        assert base64.b64decode(delivery["content_base64"]) == content
        assert delivery["sha256"] == hashlib.sha256(content).hexdigest() == kept["sha256"]
        assert delivery["answer"]["data"]["sha256"] == kept["sha256"]
        assert delivery["answer"]["request_hash"] == delivery["request_hash"]
        assert delivery["request"]["status"] == "delivered"
        # Fetched again: the same delivery, not a second access.
        assert once_only.fetch(request["id"]).json()["answer_jws"] == delivery["answer_jws"]

        logged = citizen.get("/v1/me/access").json()["accesses"]
    assert [(a["id"], a["data"], a["procedure_code"], a["legal_basis"]) for a in logged] == [
        (request["id"], "DIPLOMA", "BEQUES-2027", GDPR)
    ]
    assert logged[0]["consent_reference"] == f"segell:once-only:{request['id']}"
    assert logged[0]["consumer"]["code"] == once_only.consumer.code
    assert logged[0]["provider"]["code"] == once_only.holder.code

    evidence = evidence_when_anchored(once_only, request["id"])
    checked = interop.verify_evidence(evidence)
    assert checked.valid, checked.problems
    assert checked.answer is not None and checked.answer["data"]["sha256"] == kept["sha256"]
    # With the command anyone runs offline, trusting the deployment's root certificate; an altered request is no
    # longer the one whose hash the sealed answer names.
    (tmp_path / "root.pem").write_text(once_only.consumer.http.get("/v1/ca/root.pem").text)
    tampered = json.loads(json.dumps(evidence))
    tampered["request_json"] = tampered["request_json"].replace("BEQUES-2027", "BEQUES-2028")
    for name, document in (("evidence", evidence), ("tampered", tampered)):
        (tmp_path / f"{name}.json").write_text(json.dumps(document))
    root = str(tmp_path / "root.pem")
    offline = runner.invoke(cli, ["interop", "verify", str(tmp_path / "evidence.json"), "--root", root, "--json"])
    assert offline.exit_code == 0, offline.output
    assert json.loads(offline.stdout)["valid"] is True
    altered = runner.invoke(cli, ["interop", "verify", str(tmp_path / "tampered.json"), "--root", root, "--json"])
    assert altered.exit_code == 1
    assert any("request" in problem for problem in json.loads(altered.stdout)["problems"])


def test_citizen_refusal_keeps_the_document_from_the_consumer(once_only: OnceOnly) -> None:
    subject = national_id()
    once_only.keep(subject, make_pdf("Titol: Jordi Pla"))
    request = once_only.asked(subject)
    with citizen_of(once_only, subject) as citizen:
        decided = citizen.post(f"/v1/me/once-only/{request['id']}/decision", json={"decision": "refuse"})
        assert decided.json()["status"] == "refused"
        again = citizen.post(f"/v1/me/once-only/{request['id']}/decision", json={"decision": "consent"})
        assert (again.status_code, again.json()["error"]["code"]) == (409, "already_decided")
        refused = once_only.fetch(request["id"])
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "consent_refused")
        assert citizen.get("/v1/me/access").json()["accesses"] == []


def test_legal_basis_the_holder_accepts_needs_no_consent(once_only: OnceOnly) -> None:
    subject = national_id()
    content = make_pdf("Titol: Laia Costa")
    once_only.keep(subject, content)
    request = once_only.asked(subject, legal_basis=EDUCATION_LAW)
    assert request["status"] == "authorised"
    delivered = once_only.fetch(request["id"])
    assert delivered.status_code == 200, delivered.text
    assert base64.b64decode(delivered.json()["content_base64"]) == content
    with citizen_of(once_only, subject) as citizen:
        logged = citizen.get("/v1/me/access").json()["accesses"]
    assert [(a["legal_basis"], a["consent_reference"]) for a in logged] == [(EDUCATION_LAW, None)]


def test_legal_basis_the_holder_does_not_accept_is_refused_with_403(once_only: OnceOnly) -> None:
    subject = national_id()
    once_only.keep(subject, make_pdf("Titol: Marc Roig"))
    response = once_only.ask(subject, legal_basis=OTHER_LAW)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "legal_basis_not_accepted" and EDUCATION_LAW in error["message"]


def test_no_reusable_document_answers_404(once_only: OnceOnly) -> None:
    response = once_only.ask(national_id())
    assert (response.status_code, response.json()["error"]["code"]) == (404, "no_reusable_document")


def test_another_citizen_can_neither_preview_nor_decide(once_only: OnceOnly) -> None:
    subject = national_id()
    once_only.keep(subject, make_pdf("Titol: Anna Vila"))
    request = once_only.asked(subject)
    with citizen_of(once_only, national_id()) as stranger:
        assert stranger.get("/v1/me/once-only").json()["requests"] == []
        preview = stranger.get(f"/v1/me/once-only/{request['id']}/preview")
        decided = stranger.post(f"/v1/me/once-only/{request['id']}/decision", json={"decision": "consent"})
    assert preview.status_code == decided.status_code == 404
    assert once_only.fetch(request["id"]).json()["error"]["code"] == "consent_missing"


def test_another_administration_cannot_fetch_a_request_it_did_not_make(once_only: OnceOnly) -> None:
    subject = national_id()
    once_only.keep(subject, make_pdf("Titol: Pau Serra"))
    request = once_only.asked(subject, legal_basis=EDUCATION_LAW)
    response = once_only.holder.http.get(f"/v1/interop/once-only/requests/{request['id']}/document")
    assert (response.status_code, response.json()["error"]["code"]) == (404, "once_only_request_not_found")


def test_marking_reusable_refuses_a_certificate_that_is_not_a_seal(once_only: OnceOnly) -> None:
    employee = once_only.holder.issue("employee")
    response = once_only.holder.http.post(
        "/v1/interop/once-only/documents",
        json={
            "national_id": national_id(),
            "document_type": "DIPLOMA",
            "title": "Títol",
            "file_name": "t.pdf",
            "content_base64": base64.b64encode(b"%PDF-1.7").decode(),
            "seal_certificate": employee,
        },
    )
    assert response.status_code == 422
    assert "seal" in response.json()["error"]["message"]
