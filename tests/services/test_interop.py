"""Interoperability between administrations on a real server over anvil: a town hall asks another administration
for a citizen's residence, answered from the provider's uploaded register or by its own HTTP server (a real second
server here, over a signed webhook); refusals, outages, the chain stopped, the evidence and the access log."""

import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from segell.chain.anvil import find_anvil
from segell.chain.nodes import AnvilNotFound
from segell.services.cli import app as cli
from segell.services.interop import api as interop
from segell.services.interop import service as interop_service
from segell.services.interop.models import AccessLogEntry, ProviderRecord
from segell.services.interop.schemas import ExchangeRequest
from segell.services.interop.sealing import b64url, b64url_decode, open_jws
from segell.services.interop.service import check_webhook_signature, webhook_signature
from segell.services.interop.settings import InteropSettings
from segell.services.notary import api as notary_api
from tests.helpers import RunningServer, closed_port, free_port, make_settings, runtime_of, serve

try:
    find_anvil(None)
    HAVE_ANVIL = True
except AnvilNotFound:
    HAVE_ANVIL = False

pytestmark = [pytest.mark.anvil, pytest.mark.skipif(not HAVE_ANVIL, reason="anvil not installed (make setup)")]

RESIDENCE_LAW = "https://www.boe.es/eli/es/l/1985/04/02/7"
PROCEDURE_LAW = "https://www.boe.es/eli/es/l/2015/10/01/39"
RESIDENCE_SCHEMA = {
    "type": "object",
    "properties": {"municipality": {"type": "string"}, "since": {"type": "string", "format": "date"}},
    "required": ["municipality", "since"],
    "additionalProperties": False,
}
CITIZEN = "47111222K"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "interop.md"
#: The provider's own server opens the sealed national id with openssl (a few processes): ample on a loaded machine.
WEBHOOK_TIMEOUT = 3.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("segell-interop"),
        InteropSettings(webhook_timeout_seconds=WEBHOOK_TIMEOUT, retry_after_seconds=7),
        chain="anvil",
    )
    yield from serve(settings)


class Party:
    def __init__(self, server: RunningServer, name: str) -> None:
        self.code = f"L{int.from_bytes(os.urandom(4), 'big') % 10**8:08d}"
        self.http = server.client(server.admit(code=self.code, name=name))
        seal = self.http.post("/v1/certificates", json={"profile": "seal"})
        assert seal.status_code == 201, seal.text
        self.seal = seal.json()["serial"]
        # The seal's key and certificate, as the administration received them once.
        self.seal_pkcs12, self.seal_passphrase = base64.b64decode(seal.json()["pkcs12"]), seal.json()["passphrase"]


def docs_block(starting: str) -> str:
    """The shell block of docs/interop.md whose first line starts with `starting`."""
    blocks: list[str] = re.findall(r"```sh\n(.*?)```", DOCS.read_text(), re.DOTALL)
    return next(block for block in blocks if block.startswith(starting))


def run_docs_block(block: str, directory: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=directory,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


class Provider:
    """A provider's own HTTP server: answers residence requests signed with the service's secret, checking the
    signature of each call and opening the sealed national id with its seal's key, with openssl as docs/interop.md
    shows. `mode` makes it fail: "error" (HTTP 500), "slow" (longer than the timeout), "unsigned"."""

    def __init__(self, directory: Path) -> None:
        self.secret = ""
        self.mode = "ok"
        self.calls: list[dict[str, Any]] = []
        self.subjects: list[str] = []
        self.directory = directory
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not check_webhook_signature(
                    provider.secret, self.headers.get("Segell-Signature"), body, now=time.time()
                ):
                    self.send_response(401)
                    self.end_headers()
                    return
                call = json.loads(body)
                provider.calls.append(call)
                if provider.mode == "slow":
                    time.sleep(WEBHOOK_TIMEOUT + 0.5)
                if provider.mode == "error":
                    self.send_response(500)
                    self.end_headers()
                    return
                (provider.directory / "body.json").write_bytes(body)
                opened = run_docs_block(docs_block("# Each call"), provider.directory)
                assert opened.returncode == 0, opened.stderr
                provider.subjects.append(opened.stdout)
                found = opened.stdout == CITIZEN
                answer = json.dumps(
                    {"found": found, "data": {"municipality": "Girona", "since": "2019-03-01"} if found else None}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                if provider.mode != "unsigned":
                    self.send_header("Segell-Signature", webhook_signature(provider.secret, int(time.time()), answer))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/residence"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def keep_seal(self, party: Party) -> None:
        """Take the seal's key and certificate out of its PKCS#12 file, once, as docs/interop.md shows."""
        (self.directory / "seal.p12").write_bytes(party.seal_pkcs12)
        taken = run_docs_block(docs_block("# Once"), self.directory, SEAL_PASSPHRASE=party.seal_passphrase)
        assert taken.returncode == 0, taken.stderr


@pytest.fixture(scope="module")
def town_hall(server: RunningServer) -> Iterator[Party]:
    party = Party(server, "Ajuntament de Salt")
    yield party
    party.http.close()


@pytest.fixture(scope="module")
def register(server: RunningServer) -> Iterator[Party]:
    """The provider of the built-in residence register."""
    party = Party(server, "Consell Comarcal del Gironès")
    yield party
    party.http.close()


def register_service(party: Party, **overrides: Any) -> dict[str, Any]:
    body = {
        "code": "RESIDENCE",
        "description": "Whether and since when a person is registered as resident.",
        "response_schema": RESIDENCE_SCHEMA,
        "legal_bases": [RESIDENCE_LAW, PROCEDURE_LAW],
        "consent_required": False,
        "seal_certificate": party.seal,
        **overrides,
    }
    response = party.http.post("/v1/interop/services", json=body)
    assert response.status_code == 201, response.text
    service: dict[str, Any] = response.json()
    return service


def authorise(consumer: Party, provider: Party, service: str, procedure: str, decision: str = "grant") -> None:
    asked = consumer.http.post(
        "/v1/interop/authorisations",
        json={"provider": provider.code, "service": service, "procedure_code": procedure, "justification": "Padró"},
    )
    assert asked.status_code == 201, asked.text
    assert asked.json()["status"] == "pending"
    decided = provider.http.post(
        f"/v1/interop/authorisations/{asked.json()['id']}/decision",
        json={"decision": decision, "reason": None if decision == "grant" else "Not for this procedure."},
    )
    assert decided.status_code == 200, decided.text


def ask(consumer: Party, provider: Party, service: str = "RESIDENCE", **purpose: Any) -> httpx.Response:
    body: dict[str, Any] = {
        "provider": provider.code,
        "service": service,
        "subject": {"national_id": purpose.pop("national_id", CITIZEN)},
        "purpose": {"procedure_code": "PADRO-ALTA", "case_id": "2026-0042", "legal_basis": RESIDENCE_LAW, **purpose},
        "officer": "Marta Vila (OAC)",
    }
    if "hidden_until" in purpose:
        body["hidden_until"] = body["purpose"].pop("hidden_until")
    return consumer.http.post("/v1/interop/requests", json=body)


@pytest.fixture(scope="module")
def residence(server: RunningServer, town_hall: Party, register: Party) -> dict[str, Any]:
    service = register_service(register)
    uploaded = register.http.put(
        f"/v1/interop/services/{service['id']}/records",
        json={"records": [{"national_id": "47 111 222-k", "data": {"municipality": "Salt", "since": "2021-06-15"}}]},
    )
    assert uploaded.status_code == 200, uploaded.text
    authorise(town_hall, register, "RESIDENCE", "PADRO-ALTA")
    return service


@pytest.fixture(scope="module")
def exchanged(residence: dict[str, Any], town_hall: Party, register: Party) -> dict[str, Any]:
    response = ask(town_hall, register)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def wait_evidence(party: Party, exchange_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = party.http.get(f"/v1/interop/requests/{exchange_id}/evidence")
        if response.status_code == 200:
            evidence: dict[str, Any] = response.json()
            return evidence
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "not_anchored"
        if time.monotonic() > deadline:
            raise TimeoutError(f"exchange {exchange_id} not anchored after {timeout} s")
        time.sleep(0.1)


def test_two_administrations_exchange_residence_from_the_uploaded_register(
    exchanged: dict[str, Any], town_hall: Party, register: Party, server: RunningServer
) -> None:
    request, answer = exchanged["request"], exchanged["answer"]
    request_bytes = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    assert answer["found"] is True
    assert answer["data"] == {"municipality": "Salt", "since": "2021-06-15"}
    assert answer["request_hash"] == exchanged["request_hash"] == hashlib.sha256(request_bytes).hexdigest()
    assert (request["consumer"], request["provider"], request["purpose"]["legal_basis"]) == (
        town_hall.code,
        register.code,
        RESIDENCE_LAW,
    )
    # The national id is not in the request, only its keyed hash, the one the citizen's accesses are found by.
    assert CITIZEN not in json.dumps(exchanged)
    assert request["subject_key"] == interop.subject_key(runtime_of(server).master_key, CITIZEN)
    # The seal: the payload is the answer, signed by the register's seal certificate, whose chain it carries.
    _, payload, chain = open_jws(exchanged["answer_jws"])
    assert json.loads(payload) == answer and hashlib.sha256(payload).hexdigest() == exchanged["answer_hash"]
    assert format(chain[0].serial_number, "x") == register.seal.lstrip("0").lower()
    assert len(chain) == 3


def test_both_sides_are_notarised_the_answer_derived_from_the_request(
    exchanged: dict[str, Any], town_hall: Party, register: Party
) -> None:
    request_receipt = town_hall.http.get(f"/v1/documents/{exchanged['request_receipt_id']}").json()
    answer_receipt = register.http.get(f"/v1/documents/{exchanged['answer_receipt_id']}").json()

    assert (request_receipt["kind"], request_receipt["document_hash"]) == ("interop-request", exchanged["request_hash"])
    assert (answer_receipt["kind"], answer_receipt["document_hash"]) == ("interop-answer", exchanged["answer_hash"])
    evidence = wait_evidence(town_hall, exchanged["id"])
    assert [link["receipt_id"] for link in evidence["answer_bundle"]["derived_from"]] == [
        exchanged["request_receipt_id"]
    ]


def test_refusals_say_why(residence: dict[str, Any], town_hall: Party, register: Party, server: RunningServer) -> None:
    stranger = Party(server, "Ajuntament de Banyoles")
    consent_service = register_service(register, code="TAX_STANDING", consent_required=True)
    authorise(town_hall, register, "TAX_STANDING", "PADRO-ALTA")
    authorise(stranger, register, "RESIDENCE", "PADRO-ALTA", decision="refuse")

    no_authorisation = ask(town_hall, register, procedure_code="BECA-MENJADOR")
    refused = ask(stranger, register)
    wrong_basis = ask(town_hall, register, legal_basis="https://www.boe.es/eli/es/lo/2018/12/05/3")
    no_consent = ask(town_hall, register, service="TAX_STANDING")
    with_consent = ask(town_hall, register, service="TAX_STANDING", consent_reference="CONS-2026-881")

    for response, code in [
        (no_authorisation, "no_authorisation"),
        (refused, "no_authorisation"),
        (wrong_basis, "wrong_legal_basis"),
        (no_consent, "consent_missing"),
    ]:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == code
    assert "refused" in refused.json()["error"]["message"]
    assert wrong_basis.json()["error"]["details"]["accepted_legal_bases"] == [RESIDENCE_LAW, PROCEDURE_LAW]
    # With the consent cited, the same request is answered: nobody registered for TAX_STANDING has this citizen.
    assert with_consent.status_code == 201, with_consent.text
    assert with_consent.json()["answer"]["found"] is False
    assert consent_service["consent_required"] is True
    stranger.http.close()


def test_concurrent_exchanges_are_each_answered_sealed_notarised_and_logged_or_refused_alone(
    exchanged: dict[str, Any], residence: dict[str, Any], town_hall: Party, register: Party, server: RunningServer
) -> None:
    stranger = Party(server, "Ajuntament de Celrà")
    wrong_key = server.client("sgl_000000000000_" + "x" * 43)
    subjects = [f"{int.from_bytes(os.urandom(4), 'big') % 10**8:08d}C" for _ in range(12)]
    runtime = runtime_of(server)
    with runtime.transaction() as session:
        session.add(
            ProviderRecord(
                service_id=residence["id"],
                subject_key=interop.subject_key(runtime.master_key, subjects[0]),
                data={"municipality": "Bescanó", "since": "2020-01-07"},
            )
        )
    # Asked of a built-in service answered before: checked, answered and written in the groups' transactions.
    body = {"provider": register.code, "service": "RESIDENCE"}
    assert interop_service._known_builtin(runtime, ExchangeRequest.model_validate({**body, **_purpose()})) is not None
    calls = [(town_hall.http, subject) for subject in subjects] + [(stranger.http, subjects[0])] * 3
    calls += [(wrong_key, subjects[0])] * 2

    def send(call: tuple[httpx.Client, str]) -> httpx.Response:
        http, subject = call
        return http.post("/v1/interop/requests", json={**body, **_purpose(), "subject": {"national_id": subject}})

    with ThreadPoolExecutor(len(calls)) as pool:
        responses = list(pool.map(send, calls))

    answered = [response.json() for response in responses[: len(subjects)]]
    assert [response.status_code for response in responses] == [201] * 12 + [403] * 3 + [401] * 2
    assert {response.json()["error"]["code"] for response in responses[12:15]} == {"no_authorisation"}
    assert len({item["id"] for item in answered}) == 12
    assert [item["answer"]["found"] for item in answered] == [True] + [False] * 11
    assert answered[0]["answer"]["data"] == {"municipality": "Bescanó", "since": "2020-01-07"}
    for item in answered:
        header, payload, certificates = open_jws(item["answer_jws"])
        assert json.loads(payload) == item["answer"] and item["answer"]["request_hash"] == item["request_hash"]
        assert hashlib.sha256(payload).hexdigest() == item["answer_hash"]
        assert certificates[0].serial_number == int(register.seal, 16)
    with runtime.transaction() as session:
        for item, subject in zip(answered, subjects, strict=True):
            (entry,) = interop.accesses_of(session, interop.subject_key(runtime.master_key, subject), datetime.now(UTC))
            assert (entry.exchange_id, entry.case_id) == (item["id"], "2026-0099")
        for item in answered:
            request_receipt = notary_api.receipt(session, entry.consumer_id, item["request_receipt_id"])
            answer_receipt = notary_api.receipt(session, entry.provider_id, item["answer_receipt_id"])
            assert (request_receipt.document_hash, answer_receipt.document_hash) == (
                item["request_hash"],
                item["answer_hash"],
            )
    last = wait_evidence(town_hall, answered[-1]["id"])
    assert [link["receipt_id"] for link in last["answer_bundle"]["derived_from"]] == [
        answered[-1]["request_receipt_id"]
    ]
    stranger.http.close()
    wrong_key.close()


def test_exchange_with_a_key_revoked_or_the_governance_key_is_refused_once_the_service_is_known(
    exchanged: dict[str, Any], register: Party, server: RunningServer
) -> None:
    key = server.admit(name="Ajuntament de Sarrià de Ter")
    consumer = server.client(key)
    code = consumer.get("/v1/me").json()["administration"]["code"]
    authorised = consumer.post(
        "/v1/interop/authorisations",
        json={"provider": register.code, "service": "RESIDENCE", "procedure_code": "PADRO-ALTA", "justification": "x"},
    )
    register.http.post(f"/v1/interop/authorisations/{authorised.json()['id']}/decision", json={"decision": "grant"})
    body = {"provider": register.code, "service": "RESIDENCE", **_purpose(), "subject": {"national_id": CITIZEN}}
    assert consumer.post("/v1/interop/requests", json=body).status_code == 201

    with server.client(server.governance_key) as governance:
        revoked = governance.delete(f"/v1/administrations/{code}/api-keys/{key.split('_')[1]}")
        as_governance = governance.post("/v1/interop/requests", json=body)
    after = consumer.post("/v1/interop/requests", json=body)

    assert revoked.status_code == 200, revoked.text
    assert after.status_code == 401, after.text
    assert "revoked" in after.json()["error"]["message"]
    assert as_governance.status_code == 403, as_governance.text
    assert as_governance.json()["error"]["code"] == "administration_key_required"
    consumer.close()


def test_exchange_without_an_api_key_answers_401_before_its_body_is_checked(server: RunningServer) -> None:
    with server.client() as anonymous:
        invalid = anonymous.post("/v1/interop/requests", json={"provider": "X"})

    assert invalid.status_code == 401, invalid.text
    assert invalid.json()["error"]["code"] == "unauthenticated"


def test_exchange_body_is_refused_with_422_naming_each_field_as_fastapi_would(server: RunningServer) -> None:
    with server.client(server.admit(name="Ajuntament de Girona")) as consumer:
        broken = consumer.post(
            "/v1/interop/requests",
            json={"provider": "X", "service": "lower case", "subject": {}, "officer": "Anna", "extra": 1},
        )
        not_json = consumer.post(
            "/v1/interop/requests", content=b'{"provider": ', headers={"Content-Type": "application/json"}
        )
        not_declared = consumer.post("/v1/interop/requests", content=json.dumps(_purpose()).encode())
        empty = consumer.post("/v1/interop/requests", headers={"Content-Type": "application/json"})
        latin1 = consumer.post(
            "/v1/interop/requests",
            content='{"officer": "Pere Solé"}'.encode("latin-1"),
            headers={"Content-Type": "application/json"},
        )
    with server.client() as anonymous:
        schema = anonymous.get("/openapi.json").json()["paths"]["/v1/interop/requests"]["post"]

    assert broken.status_code == 422, broken.text
    assert broken.json()["error"]["code"] == "validation_error"
    assert {problem["location"] for problem in broken.json()["error"]["details"]} == {
        "body.provider",
        "body.service",
        "body.subject.national_id",
        "body.purpose",
        "body.extra",
    }
    assert not_json.status_code == 422, not_json.text
    assert [problem["location"] for problem in not_json.json()["error"]["details"]] == ["body.13"]
    assert not_declared.status_code == 422, not_declared.text
    assert [problem["location"] for problem in not_declared.json()["error"]["details"]] == ["body"]
    assert empty.status_code == 422, empty.text
    assert [problem["location"] for problem in empty.json()["error"]["details"]] == ["body"]
    assert latin1.status_code == 422, latin1.text
    assert latin1.json()["error"]["details"] == [{"location": "body", "message": "JSON must be encoded in UTF-8"}]
    body = schema["requestBody"]["content"]["application/json"]["schema"]
    assert schema["requestBody"]["required"] is True and schema["security"] == [{"HTTPBearer": []}]
    assert set(body["required"]) == {"provider", "service", "subject", "purpose", "officer"}
    assert body["properties"]["purpose"]["properties"]["legal_basis"]["maxLength"] == 300
    assert "$ref" not in json.dumps(body)


def _purpose() -> dict[str, Any]:
    return {
        "subject": {"national_id": CITIZEN},
        "purpose": {"procedure_code": "PADRO-ALTA", "case_id": "2026-0099", "legal_basis": RESIDENCE_LAW},
        "officer": "Pere Soler (OAC)",
    }


@pytest.fixture(scope="module")
def webhook(
    server: RunningServer, town_hall: Party, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Party, Provider]]:
    provider_server = Provider(tmp_path_factory.mktemp("provider"))
    provider = Party(server, "Agència Tributària de Catalunya")
    provider_server.keep_seal(provider)
    registered = register_service(provider, endpoint_url=provider_server.url)
    provider_server.secret = registered["webhook_secret"]
    authorise(town_hall, provider, "RESIDENCE", "PADRO-ALTA")
    yield provider, provider_server
    provider_server.close()
    provider.http.close()


def test_webhook_provider_answers_over_a_signed_call_opening_the_sealed_national_id(
    webhook: tuple[Party, Provider], town_hall: Party, server: RunningServer, tmp_path: Path
) -> None:
    provider, provider_server = webhook
    provider_server.mode = "ok"

    response = ask(town_hall, provider)

    assert response.status_code == 201, response.text
    assert response.json()["answer"]["data"] == {"municipality": "Girona", "since": "2019-03-01"}
    # The provider got the national id it needs, sealed for it: only its seal's key opens it.
    call = provider_server.calls[-1]
    assert provider_server.subjects[-1] == CITIZEN and call["request"] == response.json()["request"]
    assert set(call) == {"request", "sealed_subject"} and CITIZEN not in json.dumps(call)
    # Another administration's seal does not open it.
    other = Provider(tmp_path / "other")
    other.directory.mkdir()
    other.keep_seal(town_hall)
    (other.directory / "body.json").write_text(json.dumps(call))
    opened_by_other = run_docs_block(docs_block("# Each call"), other.directory)
    other.close()
    assert opened_by_other.returncode != 0 and CITIZEN not in opened_by_other.stdout
    # Nothing in the database holds the national id in clear.
    with runtime_of(server).engine.connect() as connection:
        dump = "\n".join(connection.connection.driver_connection.iterdump())  # type: ignore[union-attr]
    assert "interop_access_log" in dump and CITIZEN not in dump and CITIZEN.lower() not in dump
    assert open_jws(response.json()["answer_jws"])[2][0].serial_number == int(provider.seal, 16)


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [
        ("error", 502, "provider_unavailable"),
        ("unsigned", 502, "provider_unavailable"),
        ("slow", 504, "provider_timeout"),
    ],
)
def test_provider_down_answers_with_retry_after_and_logs_nothing(
    mode: str, status: int, code: str, webhook: tuple[Party, Provider], town_hall: Party, server: RunningServer
) -> None:
    provider, provider_server = webhook
    provider_server.mode = mode
    subject = f"{int.from_bytes(os.urandom(4), 'big') % 10**8:08d}T"
    try:
        response = ask(town_hall, provider, national_id=subject)
    finally:
        provider_server.mode = "ok"

    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.headers["Retry-After"] == "7"
    with runtime_of(server).transaction() as session:
        key = interop.subject_key(runtime_of(server).master_key, subject)
        assert interop.accesses_of(session, key, datetime.now(UTC)) == []


def test_unreachable_provider_endpoint_answers_502(server: RunningServer, town_hall: Party) -> None:
    provider = Party(server, "Diputació de Girona")
    register_service(provider, endpoint_url=f"http://127.0.0.1:{closed_port()}/residence")
    authorise(town_hall, provider, "RESIDENCE", "PADRO-ALTA")

    response = ask(town_hall, provider)

    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert response.headers["Retry-After"] == "7"
    provider.http.close()


def test_citizen_sees_accesses_except_those_hidden_until_a_date(
    residence: dict[str, Any], town_hall: Party, register: Party, server: RunningServer
) -> None:
    subject = f"{int.from_bytes(os.urandom(4), 'big') % 10**8:08d}S"
    later = datetime.now(UTC) + timedelta(days=30)
    shown = ask(town_hall, register, national_id=subject)
    hidden = ask(town_hall, register, national_id=subject, hidden_until=later.isoformat())
    assert shown.status_code == hidden.status_code == 201, hidden.text
    runtime = runtime_of(server)
    key = interop.subject_key(runtime.master_key, subject.lower())

    with runtime.transaction() as session:
        now_seen = interop.accesses_of(session, key, datetime.now(UTC))
        later_seen = interop.accesses_of(session, key, later + timedelta(seconds=1))
        names = interop.administration_names(session, {entry.consumer_id for entry in now_seen})

    assert [entry.exchange_id for entry in now_seen] == [shown.json()["id"]]
    assert {entry.exchange_id for entry in later_seen} == {shown.json()["id"], hidden.json()["id"]}
    entry = now_seen[0]
    assert (entry.officer, entry.procedure_code, entry.legal_basis, entry.case_id) == (
        "Marta Vila (OAC)",
        "PADRO-ALTA",
        RESIDENCE_LAW,
        "2026-0042",
    )
    assert names[entry.consumer_id] == (town_hall.code, "Ajuntament de Salt")


def test_deleted_or_altered_log_entry_is_detected_against_the_notarised_day(
    exchanged: dict[str, Any], town_hall: Party, server: RunningServer
) -> None:
    runtime = runtime_of(server)
    with runtime.transaction() as session:
        entry = session.query(AccessLogEntry).filter_by(exchange_id=exchanged["id"]).one()
        consumer_id, day = entry.consumer_id, entry.day
        digest = interop.close_day(session, consumer_id, day)
    with runtime.transaction() as session:
        before = interop.verify_day(session, consumer_id, day)
    assert before.intact is True and before.entry_count == before.notarised_count == digest.entry_count >= 1
    served = town_hall.http.get(f"/v1/interop/log/{day.isoformat()}").json()
    assert served["intact"] is True and served["receipt_id"] == digest.receipt_id

    with runtime.transaction() as session:
        session.execute(delete(AccessLogEntry).where(AccessLogEntry.exchange_id == exchanged["id"]))
    with runtime.transaction() as session:
        after = interop.verify_day(session, consumer_id, day)

    assert after.intact is False
    assert (after.entry_count, after.notarised_count) == (before.entry_count - 1, before.entry_count)


@pytest.fixture(scope="module")
def evidence_files(
    exchanged: dict[str, Any], town_hall: Party, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("evidence")
    evidence = wait_evidence(town_hall, exchanged["id"])
    (directory / "evidence.json").write_text(json.dumps(evidence))
    header, payload, signature = evidence["answer_jws"].split(".")
    altered = json.loads(b64url_decode(payload))
    altered["data"]["municipality"] = "Figueres"
    tampered = {**evidence, "answer_jws": f"{header}.{b64url(json.dumps(altered).encode())}.{signature}"}
    (directory / "tampered.json").write_text(json.dumps(tampered))
    (directory / "root.pem").write_text(town_hall.http.get("/v1/ca/root.pem").text)
    return {"directory": directory, **{name: directory / f"{name}.json" for name in ("evidence", "tampered")}}


def test_evidence_verifies_offline_and_on_chain_and_a_tampered_answer_fails(
    evidence_files: dict[str, Path], server: RunningServer
) -> None:
    runner = CliRunner()
    root = str(evidence_files["directory"] / "root.pem")
    notary = httpx.get(f"{server.url}/.well-known/segell.json").json()

    offline = runner.invoke(cli, ["interop", "verify", str(evidence_files["evidence"]), "--root", root, "--json"])
    on_chain = runner.invoke(
        cli,
        ["interop", "verify", str(evidence_files["evidence"]), "--root", root, "--json"]
        + ["--rpc", f"{server.url}/rpc", "--notary", f"{notary['chain_id']}:{notary['notary']}"],
    )
    tampered = runner.invoke(cli, ["interop", "verify", str(evidence_files["tampered"]), "--root", root, "--json"])

    assert offline.exit_code == 0, offline.output
    assert {name: check["status"] for name, check in json.loads(offline.stdout)["bundles"].items()} == {
        "request": "proof_valid",
        "answer": "proof_valid",
    }
    assert on_chain.exit_code == 0, on_chain.output
    assert {check["status"] for check in json.loads(on_chain.stdout)["bundles"].values()} == {"authentic"}
    assert tampered.exit_code == 1
    assert any("signature does not match" in problem for problem in json.loads(tampered.stdout)["problems"])


def test_evidence_checks_by_hand_with_openssl_as_the_docs_show(evidence_files: dict[str, Path]) -> None:
    script = docs_block("b64url()")
    ok = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=evidence_files["directory"],
        capture_output=True,
        text=True,
        check=False,
    )
    (evidence_files["directory"] / "evidence.json").rename(evidence_files["directory"] / "good.json")
    (evidence_files["directory"] / "tampered.json").rename(evidence_files["directory"] / "evidence.json")
    try:
        bad = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=evidence_files["directory"],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        (evidence_files["directory"] / "evidence.json").rename(evidence_files["directory"] / "tampered.json")
        (evidence_files["directory"] / "good.json").rename(evidence_files["directory"] / "evidence.json")

    assert ok.returncode == 0, ok.stderr
    assert "Verified OK" in ok.stdout and "leaf.pem: OK" in ok.stdout and "request hash: OK" in ok.stdout
    assert bad.returncode != 0
    assert "Verification failure" in bad.stdout + bad.stderr


def test_exchanges_go_on_while_the_chain_is_stopped_and_are_anchored_once_it_is_back(
    residence: dict[str, Any], town_hall: Party, register: Party, server: RunningServer
) -> None:
    node = runtime_of(server).node
    pid = node.pid  # type: ignore[attr-defined]
    os.kill(pid, signal.SIGSTOP)
    try:
        during = [ask(town_hall, register) for _ in range(3)]
        assert [response.status_code for response in during] == [201, 201, 201]
        pending = town_hall.http.get(f"/v1/interop/requests/{during[0].json()['id']}/evidence")
        assert pending.status_code == 409 and pending.json()["error"]["code"] == "not_anchored"
    finally:
        os.kill(pid, signal.SIGCONT)

    for response in during:
        evidence = wait_evidence(town_hall, response.json()["id"])
        assert interop.verify_evidence(evidence).valid
