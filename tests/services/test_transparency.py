"""Mandatory publications submitted once, through real HTTP, the real CLI and the SDK, against one server
(embedded chain, SQLite) for the module: checked against the block's Table Schema, notarised, published in the
administration's dataset and the consolidated one, corrected, read by the deployment's recipients."""

import csv
import hashlib
import io
import json
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from segell.sdk import Client
from segell.services.cli import app
from segell.services.opendata.sample import load_sample
from segell.services.opendata.settings import OpendataSettings
from tests.helpers import PostgresSchemas, RunningServer, make_settings, serve, wait_anchored

SAMPLE = Path(__file__).resolve().parents[2] / "services" / "opendata" / "sample"
RECIPIENT_TOKEN = "generalitat-" + secrets.token_hex(16)
BUDGET_HEADER = "direction,chapter,description,initial_credit,final_credit,executed\n"
BUDGET = (
    BUDGET_HEADER + "expense,1,Despeses de personal,1000.50,1100,1050\n"
    "expense,6,Inversions reals,500,800,300.25\n"
    "income,1,Impostos directes,1200,1200,1250\n"
    "income,4,Transferències corrents,300,700,650\n"
).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    digest = hashlib.sha256(RECIPIENT_TOKEN.encode()).hexdigest()
    section = OpendataSettings(recipients=f"generalitat={digest}")  # type: ignore[arg-type]
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-home"), section))


@pytest.fixture(scope="module")
def council(server: RunningServer) -> tuple[str, str]:
    code = f"L{secrets.randbelow(10**8):08d}"
    return code, server.admit(code=code, name="Ajuntament de Girona")


def submit(
    client: httpx.Client, block: str, period: int, content: bytes, filename: str = "file.csv", **fields: str
) -> httpx.Response:
    return client.post(
        "/v1/transparency/submissions",
        data={"block": block, "period": str(period), **fields},
        files={"file": (filename, content)},
    )


def package(client: httpx.Client, name: str) -> dict[str, Any]:
    answer = client.get("/api/3/action/package_show", params={"id": name}).json()
    assert answer["success"], answer
    result: dict[str, Any] = answer["result"]
    return result


def test_submit_budget_publishes_dataset_and_consolidated_and_verifies(
    server: RunningServer, council: tuple[str, str]
) -> None:
    code, key = council
    with server.client(key) as client:
        response = submit(client, "budget", 2026, BUDGET, "pressupost.csv", inhabitants="103369")
        assert response.status_code == 201, response.text
        submission = response.json()
        own = package(client, submission["dataset"]["name"])
        consolidated = package(client, "consolidated-budget")
        csv_rows = list(csv.DictReader(io.StringIO(httpx.get(consolidated["resources"][0]["url"]).text)))
        wait_anchored(client, submission["receipt"]["id"])
        verified = client.get("/v1/verify", params={"code": submission["dataset"]["verification_code"]}).json()
        by_hash = client.get("/v1/verify", params={"hash": hashlib.sha256(BUDGET).hexdigest()}).json()
    assert (submission["block"], submission["period"], submission["version"], submission["status"]) == (
        "budget",
        2026,
        1,
        "current",
    )
    assert submission["sha256"] == hashlib.sha256(BUDGET).hexdigest()
    assert submission["figures"] == {
        "expense": {
            "1": {"initial": 1000.5, "final": 1100.0, "executed": 1050.0},
            "6": {"initial": 500.0, "final": 800.0, "executed": 300.25},
        },
        "income": {
            "1": {"initial": 1200.0, "final": 1200.0, "executed": 1250.0},
            "4": {"initial": 300.0, "final": 700.0, "executed": 650.0},
        },
    }
    assert (submission["inhabitants"], submission["row_count"]) == (103369, 4)
    assert own["organization"]["name"] == code.lower()
    assert [(r["name"], r["hash"]) for r in own["resources"]] == [("2026", submission["sha256"])]
    assert httpx.get(own["resources"][0]["url"]).content == BUDGET
    assert {(row["administration"], row["period"], row["chapter"]) for row in csv_rows} >= {
        (code, "2026", "1"),
        (code, "2026", "6"),
    }
    assert verified["status"] == "authentic"
    assert verified["matches"][0]["kind"] == "dataset-version"
    assert submission["receipt"]["verification_code"] in [
        source["verification_code"] for source in verified["matches"][0]["derived_from"]
    ]
    assert [match["kind"] for match in by_hash["matches"]] == ["transparency-publication"]


def test_submit_answers_422_with_every_bad_row(server: RunningServer, council: tuple[str, str]) -> None:
    bad = (
        BUDGET_HEADER + "expense,1,Personal,10,10,10\n"
        "expense,12,Impossible,10,10,10\n"
        "income,1,Impostos,deu,10,10\n"
        "expense,1,Repetit,1,1,1\n"
    ).encode()
    with server.client(council[1]) as client:
        response = submit(client, "budget", 2025, bad)
        listed = client.get("/v1/transparency/submissions", params={"administration": council[0], "period": 2025})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_submission"
    assert [(problem["line"], problem["field"]) for problem in error["details"]] == [
        (3, "chapter"),
        (4, "initial_credit"),
        (5, None),
    ]
    assert "line 3" in error["message"]
    assert listed.json()["total"] == 0


def test_submit_refuses_missing_columns_and_empty_files(server: RunningServer, council: tuple[str, str]) -> None:
    with server.client(council[1]) as client:
        missing = submit(client, "budget", 2025, b"direction,chapter\nexpense,1\n")
        empty = submit(client, "debt", 2025, b"instrument,lender,type,signed_on,principal,outstanding,interest_rate\n")
    assert missing.status_code == 422
    assert "Missing columns description" in missing.json()["error"]["details"][0]["reason"]
    assert empty.status_code == 422
    assert "no rows" in empty.json()["error"]["message"]


def test_correction_supersedes_and_keeps_the_old_version(server: RunningServer, council: tuple[str, str]) -> None:
    first = (BUDGET_HEADER + "expense,1,Personal,10,10,10\nincome,1,Impostos,10,10,10\n").encode()
    corrected = (BUDGET_HEADER + "expense,1,Personal,10,12,11\nincome,1,Impostos,10,12,12\n").encode()
    with server.client(council[1]) as client:
        original = submit(client, "budget", 2024, first).json()
        again = submit(client, "budget", 2024, first)
        correction = submit(client, "budget", 2024, corrected).json()
        old = client.get(f"/v1/transparency/submissions/{original['id']}").json()
        current = client.get(
            "/v1/transparency/submissions", params={"administration": council[0], "period": 2024, "status": "current"}
        ).json()
        dataset = package(client, correction["dataset"]["name"])
        consolidated = package(client, "consolidated-budget")
        rows = list(csv.DictReader(io.StringIO(httpx.get(consolidated["resources"][0]["url"]).text)))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "submission_unchanged"
    assert (correction["version"], old["status"], old["superseded_by"]) == (2, "superseded", correction["id"])
    assert old["download_url"] is None
    assert [item["id"] for item in current["items"]] == [correction["id"]]
    assert [r["hash"] for r in dataset["resources"] if r["name"] == "2024"] == [correction["sha256"]]
    ours = [row for row in rows if row["administration"] == council[0] and row["period"] == "2024"]
    assert sorted(row["final_credit"] for row in ours) == ["12", "12"]


def test_submit_accepts_xlsx_and_json(server: RunningServer, council: tuple[str, str]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["instrument", "lender", "type", "signed_on", "principal", "outstanding", "interest_rate"])
    sheet.append(["P01", "Institut Català de Finances", "long_term_loan", "2019-05-15", 900000, 450000.5, 1.25])
    xlsx = io.BytesIO()
    workbook.save(xlsx)
    agreements = [
        {
            "reference": "V1",
            "parties": "Consell Comarcal",
            "object": "Transport escolar",
            "signed_on": "2025-02-01",
            "valid_until": None,
            "obligations": 12000,
        }
    ]
    with server.client(council[1]) as client:
        debt = submit(client, "debt", 2025, xlsx.getvalue(), "deute.xlsx")
        agreement = submit(client, "agreements", 2025, json.dumps(agreements).encode(), "convenis.json")
        bad_json = submit(client, "agreements", 2024, json.dumps([{**agreements[0], "obligations": "molt"}]).encode())
    assert debt.status_code == 201, debt.text
    assert debt.json()["figures"] == {
        "count": 1,
        "principal": 900000.0,
        "outstanding": 450000.5,
        "by_type": {"long_term_loan": {"count": 1, "outstanding": 450000.5}},
    }
    assert agreement.status_code == 201, agreement.text
    assert agreement.json()["figures"] == {"count": 1, "obligations": 12000.0}
    assert bad_json.status_code == 422
    assert bad_json.json()["error"]["details"] == [
        {"line": 1, "field": "obligations", "reason": "obligations: 'molt' is not a number (e.g. 1234.56)."}
    ]


def test_recipient_reads_are_logged_for_the_submitter(server: RunningServer, council: tuple[str, str]) -> None:
    content = (SAMPLE / "L01252331" / "subsidies-2025.csv").read_bytes()
    with server.client(council[1]) as client:
        submission = submit(client, "subsidies", 2025, content).json()
    with server.client(RECIPIENT_TOKEN) as recipient:
        listed = recipient.get(
            "/v1/transparency/recipient/submissions", params={"block": "subsidies", "administration": council[0]}
        )
        shown = recipient.get(f"/v1/transparency/recipient/submissions/{submission['id']}")
        file = recipient.get(f"/v1/transparency/recipient/submissions/{submission['id']}/file")
    with server.client(council[1]) as client:
        accesses = client.get(f"/v1/transparency/submissions/{submission['id']}/accesses").json()["items"]
    with server.client(server.admit()) as stranger:
        foreign = stranger.get(f"/v1/transparency/submissions/{submission['id']}/accesses")
    assert [item["id"] for item in listed.json()["items"]] == [submission["id"]]
    assert shown.json()["sha256"] == hashlib.sha256(file.content).hexdigest() == submission["sha256"]
    assert [(access["recipient"], access["what"]) for access in accesses] == [
        ("generalitat", "metadata"),
        ("generalitat", "metadata"),
        ("generalitat", "file"),
    ]
    assert foreign.status_code == 404


def test_recipient_api_refuses_api_keys_and_unknown_tokens(server: RunningServer, council: tuple[str, str]) -> None:
    with server.client() as anonymous:
        nobody = anonymous.get("/v1/transparency/recipient/submissions")
    with server.client("not-a-recipient") as unknown:
        stranger = unknown.get("/v1/transparency/recipient/submissions")
    with server.client(council[1]) as client:
        administration = client.get("/v1/transparency/recipient/submissions")
    assert (nobody.status_code, stranger.status_code) == (401, 401)
    assert administration.status_code == 403
    assert administration.json()["error"]["code"] == "recipient_token_required"


def test_submit_needs_an_administrations_key(server: RunningServer) -> None:
    with server.client() as anonymous:
        nobody = submit(anonymous, "budget", 2026, BUDGET)
    with server.client(server.governance_key) as governance:
        consortium = submit(governance, "budget", 2026, BUDGET)
    assert (nobody.status_code, consortium.status_code) == (401, 403)


def test_cli_publishes_lists_and_reports_bad_rows(
    server: RunningServer, council: tuple[str, str], runner: CliRunner, tmp_path: Path
) -> None:
    env = {"SEGELL_URL": server.url, "SEGELL_API_KEY": council[1]}
    good = tmp_path / "personal.csv"
    good.write_bytes((SAMPLE / "L01252331" / "personnel-2025.csv").read_bytes())
    bad = tmp_path / "personal-malament.csv"
    bad.write_text("employment,group,positions,filled,women,annual_cost\ncivil_servant,A1,2,3,1,100\n")
    published = runner.invoke(app, ["publish", "personnel", str(good), "--year", "2025", "--json"], env=env)
    refused = runner.invoke(app, ["publish", "personnel", str(bad), "--year", "2024"], env=env)
    listed = runner.invoke(app, ["publish", "list", "--block", "personnel", "--json"], env=env)
    assert published.exit_code == 0, published.output
    submission = json.loads(published.stdout)
    assert (submission["block"], submission["period"], submission["status"]) == ("personnel", 2025, "current")
    assert refused.exit_code == 1
    assert "personal-malament.csv: line 2: filled: 3 exceeds the 2 positions." in refused.stderr
    assert [item["id"] for item in json.loads(listed.stdout)] == [submission["id"]]


def test_sdk_submits_gets_and_reads_as_a_recipient(server: RunningServer, council: tuple[str, str]) -> None:
    content = (SAMPLE / "L01252331" / "contracts-2025.csv").read_bytes()
    with Client(server.url, council[1]) as segell:
        submitted = segell.transparency.submit("contracts", content, year=2025, inhabitants=6297)
        fetched = segell.transparency.get(submitted.id)
    with Client(server.url, RECIPIENT_TOKEN) as recipient:
        received = recipient.transparency.received(block="contracts", administration=council[0])
        file = recipient.transparency.received_file(submitted.id)
    with Client(server.url, council[1]) as segell:
        reads = segell.transparency.accesses(submitted.id)
    assert fetched == submitted
    assert (submitted.block, submitted.period, submitted.inhabitants) == ("contracts", 2025, 6297)
    assert submitted.figures["count"] == 6
    assert [item.id for item in received] == [submitted.id]
    assert hashlib.sha256(file).hexdigest() == submitted.sha256
    assert [(read.recipient, read.what) for read in reads] == [("generalitat", "metadata"), ("generalitat", "file")]


def test_load_sample_submits_every_file_once(server: RunningServer) -> None:
    first = load_sample(server.url, server.governance_key, ["L01170327"])
    again = load_sample(server.url, server.governance_key, ["L01170327"])
    with server.client() as public:
        budgets = public.get(
            "/v1/transparency/submissions", params={"administration": "L01170327", "block": "budget"}
        ).json()
    assert len(first.submitted) == 9
    assert (len(again.submitted), again.unchanged) == (0, 9)
    assert sorted(item["period"] for item in budgets["items"]) == [2023, 2024, 2025]
    assert all(item["inhabitants"] for item in budgets["items"])


@pytest.mark.postgres
def test_submissions_on_postgresql_correct_concurrently_and_consolidate(
    postgres: PostgresSchemas, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first = (BUDGET_HEADER + "expense,1,Personal,10,10,10\nincome,1,Impostos,10,10,10\n").encode()
    corrections = [
        (BUDGET_HEADER + f"expense,1,Personal,10,{11 + n},10\nincome,1,Impostos,10,10,10\n").encode() for n in range(3)
    ]
    with postgres.schema("segell_transparency") as database_url:
        settings = make_settings(tmp_path_factory.mktemp("segell-pg"), database_url=database_url)
        for pg in serve(settings):
            keys = [pg.admit(), pg.admit()]
            with pg.client(keys[0]) as council, pg.client(keys[1]) as other:
                assert submit(council, "budget", 2026, first).status_code == 201
                assert submit(other, "budget", 2026, first).status_code == 201
                with ThreadPoolExecutor(3) as pool:
                    answers = list(pool.map(lambda body: submit(council, "budget", 2026, body), corrections))
                listed = council.get("/v1/transparency/submissions", params={"block": "budget"}).json()
                consolidated = package(council, "consolidated-budget")
                rows = list(csv.DictReader(io.StringIO(httpx.get(consolidated["resources"][0]["url"]).text)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses[0] == 201 and set(statuses) <= {201, 409}
    current = [item for item in listed["items"] if item["status"] == "current"]
    assert len(current) == 2 and listed["total"] == 2 + statuses.count(201)
    assert {row["administration"] for row in rows} == {item["administration"]["code"] for item in current}
    assert len(rows) == 4
