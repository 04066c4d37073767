"""Interoperability through the SDK and the CLI against a real server: two administrations exchange residence data
with `client.interop`; a citizen reads their access log with `client.access` and `segell interop accesses |
export | anchor`, and checks that an access is in its day's notarised log, offline and against the chain; an entry
deleted since the day was closed fails the check."""

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete
from typer.testing import CliRunner

from segell.sdk import (
    AccessAnchor,
    Client,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    verify_access_anchor,
)
from segell.services.cli import app
from segell.services.interop import api as interop
from segell.services.interop.models import AccessLogEntry
from segell.services.notary.settings import NotarySettings
from tests.helpers import RunningServer, administration_record, admit, log_in_citizen, make_settings, runtime_of, serve
from tests.services.test_interop_access import LEGAL_BASIS, RESIDENCE_SCHEMA, Exchange, national_id, set_up_exchange


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-citizen"), NotarySettings(batch_max_wait=0.05)))


@pytest.fixture(scope="module")
def exchange(server: RunningServer) -> Iterator[Exchange]:
    with admit(server, "Padró de Girona") as provider, admit(server, "Ajuntament de Salt") as consumer:
        yield set_up_exchange(server, provider, consumer)


class Citizen:
    def __init__(self, exchange: Exchange) -> None:
        self.national_id = national_id()
        exchange.register(self.national_id)
        self.token = log_in_citizen(exchange.consumer.http)
        bound = exchange.consumer.http.post(
            "/v1/interop/citizens", json={"citizen_token": self.token, "national_id": self.national_id}
        )
        assert bound.status_code == 200, bound.text


@pytest.fixture(scope="module")
def closed_day(server: RunningServer) -> Iterator[tuple[Citizen, str, Citizen]]:
    """Two citizens whose residence a town hall of its own asked about today, and its log of today closed as if
    the day were over: (the citizen, their access's id, the other citizen)."""
    with admit(server, "Padró de Banyoles") as provider, admit(server, "Ajuntament de Celrà") as consumer:
        exchange = set_up_exchange(server, provider, consumer)
        citizen, other = Citizen(exchange), Citizen(exchange)
        access_id = exchange.ask(citizen.national_id)["id"]
        exchange.ask(other.national_id)
        with Client(server.url) as segell:
            with pytest.raises(ConflictError) as not_closed:
                segell.access.anchor(citizen.token, access_id)
        assert not_closed.value.code == "day_not_closed"
        consumer_id = administration_record(server, consumer.code).id
        with runtime_of(server).transaction() as session:
            interop.close_day(session, consumer_id, datetime.now(UTC).date())
        yield citizen, access_id, other


def anchored(segell: Client, token: str, access_id: str, timeout: float = 60) -> AccessAnchor:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return segell.access.anchor(token, access_id)
        except ConflictError as exc:
            assert exc.code == "not_anchored", exc.message
            assert time.monotonic() < deadline, "the day's log was not anchored in time"
            time.sleep(0.1)


def test_citizen_reads_and_exports_their_access_log_with_the_sdk(server: RunningServer, exchange: Exchange) -> None:
    citizen = Citizen(exchange)
    answered = exchange.ask(citizen.national_id)

    with Client(server.url) as segell:
        log = segell.access.log(citizen.token)
        as_csv = segell.access.export(citizen.token, "csv")
        as_json = json.loads(segell.access.export(citizen.token, "json"))
        with pytest.raises(NotFoundError):
            segell.access.anchor(citizen.token, "0" * 32)

    assert (log.administration.code, log.administration.name) == (exchange.consumer.code, "Ajuntament de Salt")
    assert [access.id for access in log.accesses] == [answered["id"]]
    access = log.accesses[0]
    assert (access.consumer.code, access.provider.name, access.data, access.procedure_code) == (
        exchange.consumer.code,
        "Padró de Girona",
        "RESIDENCE",
        "AJUTS-MENJADOR",
    )
    assert [row["id"] for row in csv.DictReader(io.StringIO(as_csv.decode("utf-8-sig")))] == [answered["id"]]
    assert as_json["format"] == "segell-access-log-export/1"
    assert [row["id"] for row in as_json["accesses"]] == [answered["id"]]


def test_access_is_in_its_day_notarised_log_offline_and_on_chain(
    server: RunningServer, closed_day: tuple[Citizen, str, Citizen]
) -> None:
    citizen, access_id, _ = closed_day
    with Client(server.url) as segell:
        anchor = anchored(segell, citizen.token, access_id)
        access = next(access for access in segell.access.log(citizen.token).accesses if access.id == access_id)
        trusted = [segell.deployment().trusted_notary]

    offline = verify_access_anchor(anchor, access)
    on_chain = verify_access_anchor(anchor, access, rpc_url=f"{server.url}/rpc", trusted_notaries=trusted)
    not_this_access = verify_access_anchor(anchor, replace(access, officer="Someone else"))
    untrusted = verify_access_anchor(anchor, access, rpc_url=f"{server.url}/rpc", trusted_notaries=[])

    assert (offline.valid, offline.problems, offline.entry_count) == (True, (), 2)
    assert offline.bundle is not None and offline.bundle.status == "proof_valid"
    assert on_chain.valid and on_chain.bundle is not None and on_chain.bundle.status == "authentic"
    assert offline.day == datetime.now(UTC).date().isoformat() == anchor.day["day"]
    assert not not_this_access.valid and any("officer" in problem for problem in not_this_access.problems)
    assert not untrusted.valid and untrusted.bundle is not None and untrusted.bundle.status == "untrusted_contract"


def test_cli_lists_exports_and_checks_the_anchor_of_an_access(
    server: RunningServer, closed_day: tuple[Citizen, str, Citizen], tmp_path: Path
) -> None:
    citizen, access_id, _ = closed_day
    with Client(server.url) as segell:
        anchored(segell, citizen.token, access_id)
        notary = segell.deployment().trusted_notary
    runner = CliRunner()
    env = {"SEGELL_URL": server.url, "SEGELL_CITIZEN_TOKEN": citizen.token, "SEGELL_API_KEY": None}

    listed = runner.invoke(app, ["interop", "accesses", "--json"], env=env)
    exported = runner.invoke(app, ["interop", "export", "--format", "json", "--out", str(tmp_path / "a.json")], env=env)
    fetched = runner.invoke(
        app, ["interop", "anchor", access_id, "--save", str(tmp_path / "anchor.json"), "--json"], env=env
    )
    kept = runner.invoke(
        app,
        ["interop", "anchor", "--file", str(tmp_path / "anchor.json"), "--rpc", f"{server.url}/rpc", "--json"]
        + ["--notary", f"{notary.chain_id}:{notary.address}"],
        env={"SEGELL_URL": "http://127.0.0.1:9", "SEGELL_CITIZEN_TOKEN": None},
    )

    assert listed.exit_code == 0, listed.output
    assert [access["id"] for access in json.loads(listed.stdout)["accesses"]] == [access_id]
    assert exported.exit_code == 0, exported.output
    assert [row["id"] for row in json.loads((tmp_path / "a.json").read_text())["accesses"]] == [access_id]
    assert fetched.exit_code == 0, fetched.output
    assert json.loads(fetched.stdout)["valid"] is True
    assert kept.exit_code == 0, kept.output
    assert (json.loads(kept.stdout)["bundle"]["status"], json.loads(kept.stdout)["checked_on_chain"]) == (
        "authentic",
        True,
    )


def test_anchor_check_fails_once_another_entry_of_the_day_is_deleted(
    server: RunningServer, closed_day: tuple[Citizen, str, Citizen]
) -> None:
    citizen, access_id, other = closed_day
    with Client(server.url) as segell:
        anchored(segell, citizen.token, access_id)
        other_access = segell.access.log(other.token).accesses[0].id
        with runtime_of(server).transaction() as session:
            session.execute(delete(AccessLogEntry).where(AccessLogEntry.exchange_id == other_access))
        after = segell.access.anchor(citizen.token, access_id)
    runner = CliRunner()
    env = {"SEGELL_URL": server.url, "SEGELL_CITIZEN_TOKEN": citizen.token, "SEGELL_API_KEY": None}
    cli = runner.invoke(app, ["interop", "anchor", access_id, "--json"], env=env)

    check = verify_access_anchor(after)
    assert not check.valid
    assert any("deleted, added or altered" in problem for problem in check.problems)
    assert any("1 entries of that day; 2 were notarised" in problem for problem in check.problems)
    assert cli.exit_code == 1 and json.loads(cli.stdout)["valid"] is False


def test_two_administrations_exchange_residence_data_with_the_sdk(server: RunningServer) -> None:
    provider_code, consumer_code = f"L{national_id()[:8]}", f"L{national_id()[:8]}"
    with Client(server.url, server.governance_key) as governance:
        provider_key = governance.administrations.admit(provider_code, "Padró de Figueres").api_key.key
        consumer_key = governance.administrations.admit(consumer_code, "Ajuntament de Roses").api_key.key
    subject = national_id()
    with Client(server.url, provider_key) as provider, Client(server.url, consumer_key) as consumer:
        seal = provider.certificates.issue("seal").serial
        service = provider.interop.register_service(
            "RESIDENCE", "Padró municipal", RESIDENCE_SCHEMA, [LEGAL_BASIS], seal
        )
        stored = provider.interop.upload_records(service.id, {subject: {"municipality": "Figueres", "since": "2020"}})
        purpose = {"procedure_code": "BEQUES", "case_id": "B-1", "legal_basis": LEGAL_BASIS, "officer": "Pere Vidal"}
        with pytest.raises(PermissionDeniedError) as unauthorised:
            consumer.interop.request(provider_code, "RESIDENCE", subject, **purpose)
        asked = consumer.interop.request_authorisation(provider_code, "RESIDENCE", "BEQUES", "Beques de menjador")
        granted = provider.interop.decide_authorisation(asked.id, "grant")
        exchange = consumer.interop.request(provider_code, "RESIDENCE", subject, **purpose)
        with pytest.raises(PermissionDeniedError) as wrong_basis:
            consumer.interop.request(
                provider_code,
                "RESIDENCE",
                subject,
                **{**purpose, "legal_basis": "https://www.boe.es/eli/es/l/2000/01/07/1"},
            )
        again = provider.interop.exchange(exchange.id)
        listed = [item.id for item in provider.interop.authorisations()]
        catalogue = [(item.provider, item.code) for item in consumer.interop.services()]
        deadline = time.monotonic() + 60
        while True:
            try:
                evidence = consumer.interop.evidence(exchange.id)
                break
            except ConflictError as exc:
                assert exc.code == "not_anchored" and time.monotonic() < deadline
                time.sleep(0.1)

    assert (service.routing, service.webhook_secret, stored) == ("builtin", None, 1)
    assert unauthorised.value.code == "no_authorisation"
    assert (asked.status, granted.status, listed) == ("pending", "granted", [asked.id])
    assert exchange.found and exchange.data == {"municipality": "Figueres", "since": "2020"}
    assert exchange.answer["request_hash"] == exchange.request_hash and again == exchange
    assert wrong_basis.value.code == "wrong_legal_basis"
    assert wrong_basis.value.details["accepted_legal_bases"] == [LEGAL_BASIS]
    assert (provider_code, "RESIDENCE") in catalogue
    assert interop.verify_evidence(evidence).valid
