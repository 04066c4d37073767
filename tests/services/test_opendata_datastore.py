"""The datastore through CKAN's own client and plain HTTP: tabular resources loaded into typed tables, with bad rows
reported and the rest loaded, searched with `datastore_search` and dumped, on SQLite (one server for the module)
and on PostgreSQL."""

import csv
import io
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import ckanapi
import httpx
import openpyxl
import pytest
from sqlalchemy import text

from segell.services.db import create_db_engine, migrate, migration_diff
from tests.helpers import RunningServer, dataset, make_settings, runtime_of, serve

BUDGET = (
    "partida,descripció,import,data,actiu,hora,capítol\n"
    "1,Sous,1200.50,2024-01-31,true,2024-01-31T10:00:00Z,1\n"
    "2,Llum,300,2024-02-29,false,2024-02-29T11:30:00,2\n"
    "3,Aigua,abc,2024-03-31,true,2024-03-31T09:15:00Z,2\n"
    '4,"Obres, fase ""A""",90000.25,2024-04-30,true,2024-04-30T08:00:00Z,6\n'
    "5,Neteja,450.75,2024-05-32,false,2024-05-31T12:00:00Z,2\n"
    "6,Festa major,2500,2024-06-30,true,2024-06-30T22:00:00Z\n"
    "7,Biblioteca,800,2024-07-31,TRUE,2024-07-31T10:00:00+02:00,2\n"
    '8,"Línia\nde bus",1500,2024-08-31,false,2024-08-31T07:00:00Z,4\n'
    "9,Enllumenat,,2024-09-30,true,2024-09-30T18:00:00Z,2\n"
    # Frictionless types a column whose sampled values fit the type 19 times out of 20 or more: rows enough.
    + "".join(f"{n},Partida {n},{n}.5,2024-10-01,true,2024-10-01T00:00:00Z,2\n" for n in range(10, 40))
).encode()
LOADED_IDS = [1, 2, 4, 7, 8, 9, *range(10, 40)]


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-home")))


@pytest.fixture(scope="module")
def publisher(catalogue: RunningServer) -> ckanapi.RemoteCKAN:
    return ckanapi.RemoteCKAN(catalogue.url, apikey=catalogue.admit())


def _create(portal: ckanapi.RemoteCKAN, tmp_path: Path, filename: str, content: bytes) -> dict:
    name = f"ds-{secrets.token_hex(4)}"
    portal.action.package_create(**dataset(name))
    path = tmp_path / filename
    path.write_bytes(content)
    with path.open("rb") as file:
        return dict(portal.action.resource_create(package_id=name, upload=file))


@pytest.fixture(scope="module")
def budget(publisher: ckanapi.RemoteCKAN, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _create(publisher, tmp_path_factory.mktemp("files"), "pressupost.csv", BUDGET)


def test_resource_create_infers_the_table_schema(publisher: ckanapi.RemoteCKAN, budget: dict) -> None:
    info = publisher.action.datastore_info(id=budget["id"])
    assert [(field["id"], field["schema"]["type"]) for field in info["fields"]] == [
        ("partida", "integer"),
        ("descripció", "string"),
        ("import", "number"),
        ("data", "date"),
        ("actiu", "boolean"),
        ("hora", "datetime"),
        ("capítol", "integer"),
    ]
    assert info["meta"]["count"] == len(LOADED_IDS)
    assert info["meta"]["sha256"] == budget["hash"]


def test_resource_create_reports_bad_rows_with_their_line_and_loads_the_rest(budget: dict) -> None:
    assert budget["datastore_active"] is True
    report = budget["datastore_load"]
    assert (report["rows_loaded"], report["rows_rejected"]) == (len(LOADED_IDS), 3)
    assert [(error["line"], error["column"]) for error in report["errors"]] == [(4, "import"), (6, "data"), (7, None)]
    assert "'abc' is not a number" in report["errors"][0]["reason"]
    assert "7 values where the header has 7" not in report["errors"][2]["reason"]
    assert "6 values where the header has 7" in report["errors"][2]["reason"]


def test_datastore_search_answers_typed_records_in_id_order(publisher: ckanapi.RemoteCKAN, budget: dict) -> None:
    result = publisher.action.datastore_search(resource_id=budget["id"])
    assert [record["partida"] for record in result["records"]] == LOADED_IDS
    assert result["records"][1] == {
        "_id": 2,
        "partida": 2,
        "descripció": "Llum",
        "import": 300.0,
        "data": "2024-02-29",
        "actiu": False,
        "hora": "2024-02-29T11:30:00",
        "capítol": 2,
    }
    assert result["records"][3]["hora"] == "2024-07-31T08:00:00"  # +02:00 in UTC
    assert result["records"][4]["descripció"] == "Línia\nde bus"
    assert result["records"][5]["import"] is None
    assert result["total"] == len(LOADED_IDS)
    assert result["fields"][0] == {"id": "_id", "type": "int"}
    assert result["_links"]["next"].startswith("/api/3/action/datastore_search?")


def test_datastore_search_filters_sorts_and_pages(publisher: ckanapi.RemoteCKAN, budget: dict) -> None:
    search = publisher.action.datastore_search
    filtered = search(resource_id=budget["id"], filters={"capítol": [2, 4], "actiu": "false"}, fields=["partida"])
    assert filtered["records"] == [{"partida": 2}, {"partida": 8}]
    assert filtered["fields"] == [{"id": "partida", "type": "int"}]
    ordered = search(resource_id=budget["id"], sort="import desc, partida", limit=2, offset=1, fields="partida,import")
    assert [record["partida"] for record in ordered["records"]] == [8, 1]
    assert ordered["total"] == len(LOADED_IDS)
    by_date = search(resource_id=budget["id"], filters={"data": "2024-04-30"}, include_total=False)
    assert [record["partida"] for record in by_date["records"]] == [4]
    assert "total" not in by_date


def test_datastore_search_finds_words_anywhere_or_in_a_field(publisher: ckanapi.RemoteCKAN, budget: dict) -> None:
    search = publisher.action.datastore_search
    assert [r["partida"] for r in search(resource_id=budget["id"], q="obres")["records"]] == [4]
    assert [r["partida"] for r in search(resource_id=budget["id"], q={"descripció": "llum"})["records"]] == [2, 9]
    assert search(resource_id=budget["id"], q={"descripció": "obres fase"})["total"] == 1
    assert search(resource_id=budget["id"], q="inexistent")["total"] == 0


def test_datastore_search_over_get_reads_json_parameters(catalogue: RunningServer, budget: dict) -> None:
    params = {"resource_id": budget["id"], "filters": json.dumps({"partida": 7}), "fields": "partida,actiu"}
    answer = httpx.get(f"{catalogue.url}/api/3/action/datastore_search", params=params).json()
    assert answer["result"]["records"] == [{"partida": 7, "actiu": True}]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"fields": ["partida", "nope"]}, "fields"),
        ({"sort": "nope desc"}, "sort"),
        ({"sort": "partida; DROP TABLE x"}, "sort"),
        ({"filters": {"nope": 1}}, "filters"),
        ({"filters": {"partida": "un"}}, "filters"),
        ({"q": {"nope": "x"}}, "q"),
        ({"limit": 32001}, "limit"),
    ],
)
def test_datastore_search_refuses_unknown_fields_and_bad_values(
    publisher: ckanapi.RemoteCKAN, budget: dict, params: dict, field: str
) -> None:
    with pytest.raises(ckanapi.ValidationError) as refused:
        publisher.action.datastore_search(resource_id=budget["id"], **params)
    assert field in refused.value.error_dict


def test_datastore_search_of_an_unknown_resource_is_not_found(catalogue: RunningServer) -> None:
    answer = httpx.post(f"{catalogue.url}/api/3/action/datastore_search", json={"resource_id": "nope"})
    assert (answer.status_code, answer.json()["error"]["__type"]) == (404, "Not Found Error")
    assert httpx.get(f"{catalogue.url}/datastore/dump/nope").status_code == 404


def test_datastore_dump_csv_equals_the_loaded_rows(catalogue: RunningServer, budget: dict) -> None:
    dumped = httpx.get(f"{catalogue.url}/datastore/dump/{budget['id']}")
    assert dumped.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(dumped.text)))
    source = list(csv.reader(io.StringIO(BUDGET.decode())))
    assert rows[0] == ["_id", *source[0]]
    assert [row[1:3] for row in rows[1:]] == [source[i][:2] for i in LOADED_IDS]
    assert rows[3] == ["3", "4", 'Obres, fase "A"', "90000.25", "2024-04-30", "true", "2024-04-30T08:00:00", "6"]


def test_datastore_dump_json_holds_fields_and_records(catalogue: RunningServer, budget: dict) -> None:
    dumped = httpx.get(f"{catalogue.url}/datastore/dump/{budget['id']}", params={"format": "json"}).json()
    assert dumped["fields"][1] == {"id": "partida", "type": "int"}
    assert [record[1] for record in dumped["records"]] == LOADED_IDS
    assert dumped["records"][0][3] == 1200.5


def test_xlsx_and_json_resources_are_loaded(publisher: ckanapi.RemoteCKAN, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in [("municipi", "habitants", "superfície"), ("Girona", 103369, 39.1), ("Olot", "molts", 29.1)]:
        sheet.append(row)
    for n in range(20):
        sheet.append((f"Municipi {n}", 1000 + n, 6.0))
    buffer = io.BytesIO()
    workbook.save(buffer)
    sheet_resource = _create(publisher, tmp_path, "padro.xlsx", buffer.getvalue())
    assert sheet_resource["datastore_load"]["errors"] == [
        {"line": 3, "column": "habitants", "reason": "'molts' is not an integer"}
    ]
    records = publisher.action.datastore_search(resource_id=sheet_resource["id"])["records"]
    assert [(r["municipi"], r["habitants"], r["superfície"]) for r in records[:2]] == [
        ("Girona", 103369, 39.1),
        ("Municipi 0", 1000, 6.0),
    ]
    assert len(records) == 21
    document = [{"codi": "17079", "alta": "2024-01-02", "actiu": True}, {"codi": "17114", "alta": None, "actiu": False}]
    json_resource = _create(publisher, tmp_path, "ens.json", json.dumps(document).encode())
    found = publisher.action.datastore_search(resource_id=json_resource["id"], sort="codi desc")
    assert [(r["codi"], r["alta"], r["actiu"]) for r in found["records"]] == [
        (17114, None, False),
        (17079, "2024-01-02", True),
    ]
    assert [field["type"] for field in found["fields"]] == ["int", "int", "date", "bool"]


def test_decimal_comma_and_semicolons_are_read(publisher: ckanapi.RemoteCKAN, tmp_path: Path) -> None:
    content = b"municipi;import\nGirona;1.234,50\nOlot;12,25\n"
    resource = _create(publisher, tmp_path, "imports.csv", content)
    info = publisher.action.datastore_info(id=resource["id"])
    assert info["schema"]["fields"][1] == {"name": "import", "type": "number", "decimalChar": ",", "groupChar": "."}
    records = publisher.action.datastore_search(resource_id=resource["id"])["records"]
    assert [record["import"] for record in records] == [1234.5, 12.25]


def test_resource_delete_and_replace_drop_the_table(
    publisher: ckanapi.RemoteCKAN, catalogue: RunningServer, tmp_path: Path
) -> None:
    resource = _create(publisher, tmp_path, "a.csv", b"x,y\n1,2\n")
    table = "datastore_" + resource["id"].replace("-", "")
    replacement = tmp_path / "b.csv"
    replacement.write_bytes(b"x,z\n3,text\n4,more\n")
    with replacement.open("rb") as file:
        replaced = publisher.action.resource_update(id=resource["id"], upload=file)
    assert replaced["datastore_load"]["rows_loaded"] == 2
    assert [r["z"] for r in publisher.action.datastore_search(resource_id=resource["id"])["records"]] == [
        "text",
        "more",
    ]
    publisher.action.resource_delete(id=resource["id"])
    with runtime_of(catalogue).engine.connect() as connection:
        assert connection.execute(text(f"SELECT count(*) FROM sqlite_master WHERE name = '{table}'")).scalar() == 0
    with pytest.raises(ckanapi.NotFound):
        publisher.action.datastore_search(resource_id=resource["id"])


def test_a_geojson_resource_has_no_datastore(publisher: ckanapi.RemoteCKAN, tmp_path: Path) -> None:
    resource = _create(publisher, tmp_path, "z.geojson", b'{"type": "FeatureCollection", "features": []}')
    assert resource["datastore_active"] is False
    with pytest.raises(ckanapi.NotFound):
        publisher.action.datastore_info(id=resource["id"])


def test_autogenerate_leaves_the_datastore_tables_alone(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path}/segell.db")
    try:
        migrate(engine)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE datastore_0123 (_id INTEGER PRIMARY KEY, c0 TEXT)"))
        assert migration_diff(engine) == []
    finally:
        engine.dispose()


def test_datastore_loads_and_searches_on_postgresql(postgres_database: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    for server in serve(make_settings(home, database_url=postgres_database)):
        portal = ckanapi.RemoteCKAN(server.url, apikey=server.admit())
        resource = _create(portal, tmp_path, "pressupost.csv", BUDGET)
        loaded = (resource["datastore_load"]["rows_loaded"], resource["datastore_load"]["rows_rejected"])
        assert loaded == (len(LOADED_IDS), 3)
        search = portal.action.datastore_search
        found = search(resource_id=resource["id"], filters={"data": "2024-04-30"}, q="obres", sort="hora desc")
        assert found["records"][0]["hora"] == "2024-04-30T08:00:00"
        assert [r["partida"] for r in search(resource_id=resource["id"], sort="import desc")["records"]][:2] == [4, 8]
        dumped = httpx.get(f"{server.url}/datastore/dump/{resource['id']}").text
        assert dumped.splitlines()[1] == "1,1,Sous,1200.5,2024-01-31,true,2024-01-31T10:00:00,1"
        portal.action.resource_delete(id=resource["id"])
        with pytest.raises(ckanapi.NotFound):
            search(resource_id=resource["id"])


def test_a_file_that_holds_no_table_says_why(publisher: ckanapi.RemoteCKAN, tmp_path: Path) -> None:
    resource = _create(publisher, tmp_path, "config.json", b'{"versio": 2}')
    assert resource["datastore_active"] is False
    assert resource["datastore_load"]["failure"] == "the file is not an array of objects"
    header_only = _create(publisher, tmp_path, "buit.csv", b"municipi,habitants\n")
    assert (header_only["datastore_active"], header_only["datastore_load"]["rows_loaded"]) == (True, 0)


def test_codes_with_leading_zeros_stay_text(publisher: ckanapi.RemoteCKAN, tmp_path: Path) -> None:
    rows = "".join(f"{n:05},{n}\n" for n in range(8001, 8031))
    resource = _create(publisher, tmp_path, "codis.csv", f"codi_postal,habitants\n{rows}".encode())
    info = publisher.action.datastore_info(id=resource["id"])
    assert [field["type"] for field in info["schema"]["fields"]] == ["string", "integer"]
    first = publisher.action.datastore_search(resource_id=resource["id"], limit=1)["records"][0]
    assert (first["codi_postal"], first["habitants"]) == ("08001", 8001)


def test_the_resource_table_schema_declares_the_types(publisher: ckanapi.RemoteCKAN, tmp_path: Path) -> None:
    name = f"ds-{secrets.token_hex(4)}"
    publisher.action.package_create(**dataset(name))
    path = tmp_path / "seccions.csv"
    # Inferred from so few rows, `habitants` would be text and `codi` an integer; the publisher says otherwise.
    path.write_bytes(b"codi,habitants,actiu\n1,1200,si\n2,dos mil,no\n3,900,si\n")
    schema = {
        "fields": [
            {"name": "codi", "type": "string"},
            {"name": "habitants", "type": "integer"},
            {"name": "actiu", "type": "boolean", "trueValues": ["si"], "falseValues": ["no"]},
        ]
    }
    with path.open("rb") as file:
        resource = publisher.action.resource_create(package_id=name, schema=json.dumps(schema), upload=file)

    assert resource["datastore_load"]["rows_loaded"] == 2
    assert [(error["line"], error["column"]) for error in resource["datastore_load"]["errors"]] == [(3, "habitants")]
    records = publisher.action.datastore_search(resource_id=resource["id"])["records"]
    assert [(record["codi"], record["habitants"], record["actiu"]) for record in records] == [
        ("1", 1200, True),
        ("3", 900, True),
    ]
