"""A dataset's versions and the difference between two, through the Action API, the REST routes and `ckanapi`,
against one real server (embedded chain, SQLite) for the whole module."""

import hashlib
import io
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ckanapi
import httpx
import pytest
from openpyxl import Workbook

from segell.services.opendata import row_diff
from tests.helpers import RunningServer, dataset, make_settings, serve, wait_anchored

ACTIONS = "/api/3/action"


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-home")))


@pytest.fixture(scope="module")
def api_key(catalogue: RunningServer) -> str:
    return catalogue.admit()


@pytest.fixture(scope="module")
def council(catalogue: RunningServer, api_key: str) -> Iterator[httpx.Client]:
    with catalogue.client(api_key) as client:
        yield client


def csv_of(*rows: str) -> bytes:
    return ("\n".join(rows) + "\n").encode()


def xlsx_of(*rows: tuple[Any, ...]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    file = io.BytesIO()
    workbook.save(file)
    return file.getvalue()


def act(client: httpx.Client, action: str, **params: Any) -> Any:
    answer = client.post(f"{ACTIONS}/{action}", json=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["result"]


def upload(client: httpx.Client, action: str, filename: str, content: bytes, **fields: str) -> dict[str, Any]:
    answer = client.post(f"{ACTIONS}/{action}", data=fields, files={"upload": (filename, content)})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["result"]
    return result


def publish(client: httpx.Client, filename: str, first: bytes, second: bytes, **fields: str) -> str:
    """A new dataset with one resource, then that resource's file replaced: versions 1, 2 and 3."""
    name = f"versions-{secrets.token_hex(4)}"
    act(client, "package_create", **dataset(name))
    resource = upload(client, "resource_create", filename, first, package_id=name, **fields)
    upload(client, "resource_update", filename, second, id=resource["id"])
    return name


def rows_of(diff: dict[str, Any]) -> dict[str, Any]:
    [changed] = diff["resources"]["changed"]
    rows: dict[str, Any] = changed["rows"]
    return rows


def test_dataset_version_diff_lists_metadata_resources_and_rows(council: httpx.Client) -> None:
    old = csv_of("codi,municipi,habitants", "17079,Girona,103369", "17066,Figueres,47813", "17023,Blanes,40297")
    new = csv_of("codi,municipi,habitants", "17079,Girona,104000", "17023,Blanes,40297", "17155,Salt,32720")
    act(council, "package_create", **dataset("padro-diff"))
    resource = upload(council, "resource_create", "padro.csv", old, package_id="padro-diff", name="Padró")
    act(
        council,
        "package_patch",
        id="padro-diff",
        frequency="MONTHLY",
        title_translated={"ca": "Padró 2025", "es": "Padrón 2025", "en": "Register 2025"},
    )
    upload(council, "resource_update", "padro-2025.csv", new, id=resource["id"])

    diff = act(council, "dataset_version_diff", id="padro-diff", from_version=2, to_version=4)

    assert (diff["from"]["version"], diff["to"]["version"]) == (2, 4)
    assert diff["metadata"] == {
        "title": {"old": "Padró municipal", "new": "Padró 2025"},
        "title_translated": {
            "old": {"ca": "Padró municipal", "es": "Padrón municipal", "en": "Municipal register"},
            "new": {"ca": "Padró 2025", "es": "Padrón 2025", "en": "Register 2025"},
        },
        "frequency": {
            "old": "http://publications.europa.eu/resource/authority/frequency/ANNUAL",
            "new": "http://publications.europa.eu/resource/authority/frequency/MONTHLY",
        },
    }
    assert (diff["resources"]["added"], diff["resources"]["removed"]) == ([], [])
    [changed] = diff["resources"]["changed"]
    assert (changed["id"], changed["name"]) == (resource["id"], "Padró")
    assert changed["fields"] == {
        "sha256": {"old": hashlib.sha256(old).hexdigest(), "new": hashlib.sha256(new).hexdigest()},
        "size": {"old": len(old), "new": len(new)},
    }
    assert changed["rows"] == {
        "compared": True,
        "reason": None,
        "key": ["codi"],
        "matched_by": "id column",
        "columns": {"added": [], "removed": []},
        "row_count": {"old": 3, "new": 3},
        "added": {"count": 1, "rows": [{"codi": "17155", "municipi": "Salt", "habitants": "32720"}]},
        "removed": {"count": 1, "rows": [{"codi": "17066", "municipi": "Figueres", "habitants": "47813"}]},
        "changed": {
            "count": 1,
            "rows": [{"key": {"codi": "17079"}, "changes": {"habitants": {"old": "103369", "new": "104000"}}}],
        },
    }


def test_dataset_version_diff_matches_rows_by_the_table_schemas_primary_key(council: httpx.Client) -> None:
    schema = {
        "fields": [{"name": "any"}, {"name": "capitol"}, {"name": "import"}],
        "primaryKey": ["any", "capitol"],
    }
    old = csv_of("any;capitol;import", "2024;1;100", "2024;2;200", "2025;1;150")
    new = csv_of("any;capitol;import", "2024;1;100", "2024;2;250", "2025;2;300")
    name = publish(council, "pressupost.csv", old, new, schema=json.dumps(schema))

    answer = council.get(f"/v1/opendata/datasets/{name}/versions/2/diff/3", params={"limit": 5})

    assert answer.status_code == 200, answer.text
    rows = rows_of(answer.json())
    assert (rows["key"], rows["matched_by"]) == (["any", "capitol"], "primaryKey")
    assert rows["added"] == {"count": 1, "rows": [{"any": "2025", "capitol": "2", "import": "300"}]}
    assert rows["removed"] == {"count": 1, "rows": [{"any": "2025", "capitol": "1", "import": "150"}]}
    assert rows["changed"]["rows"] == [
        {"key": {"any": "2024", "capitol": "2"}, "changes": {"import": {"old": "200", "new": "250"}}}
    ]


def test_dataset_version_diff_compares_whole_rows_when_no_column_identifies_them(council: httpx.Client) -> None:
    old = csv_of("id,carrer,arbres", "1,Rambla,12", "1,Rambla,12", "2,Major,4")  # `id` repeats: not a key
    new = csv_of("id,carrer,arbres,barri", "1,Rambla,12,Centre", "2,Major,5,Vila", "3,Nou,1,Eixample")

    rows = rows_of(act(council, "dataset_version_diff", id=publish(council, "arbres.csv", old, new)))

    assert (rows["key"], rows["matched_by"]) == ([], "whole rows")
    assert rows["columns"] == {"added": ["barri"], "removed": []}
    assert rows["added"]["rows"] == [
        {"id": "2", "carrer": "Major", "arbres": "5", "barri": "Vila"},
        {"id": "3", "carrer": "Nou", "arbres": "1", "barri": "Eixample"},
    ]
    assert rows["removed"]["rows"] == [
        {"id": "1", "carrer": "Rambla", "arbres": "12"},
        {"id": "2", "carrer": "Major", "arbres": "4"},
    ]
    assert rows["changed"] == {"count": 0, "rows": []}


def test_dataset_version_diff_reads_workbooks_and_caps_the_rows_listed(council: httpx.Client) -> None:
    header = ("ID", "equipament", "places")
    old = xlsx_of(header, *[(n, f"Escola {n}", 20) for n in range(1, 6)])
    new = xlsx_of(header, *[(n, f"Escola {n}", 25 if n == 2 else 20) for n in range(1, 4)], (9, "Institut", 30.5))

    diff = act(council, "dataset_version_diff", id=publish(council, "escoles.xlsx", old, new), limit=1)

    rows = rows_of(diff)
    assert (rows["key"], rows["matched_by"], rows["row_count"]) == (["ID"], "id column", {"old": 5, "new": 4})
    assert rows["added"] == {"count": 1, "rows": [{"ID": 9, "equipament": "Institut", "places": 30.5}]}
    assert rows["removed"] == {"count": 2, "rows": [{"ID": 4, "equipament": "Escola 4", "places": 20}]}
    assert rows["changed"] == {"count": 1, "rows": [{"key": {"ID": 2}, "changes": {"places": {"old": 20, "new": 25}}}]}


def test_dataset_version_diff_reads_json_arrays_of_objects(council: httpx.Client) -> None:
    old = json.dumps([{"code": "A", "valor": 1}, {"code": "B", "valor": 2}]).encode()
    new = json.dumps([{"code": "A", "valor": 1}, {"code": "B", "valor": [2, 3]}]).encode()

    rows = rows_of(act(council, "dataset_version_diff", id=publish(council, "valors.json", old, new)))

    assert (rows["key"], rows["added"]["count"], rows["removed"]["count"]) == (["code"], 0, 0)
    assert rows["changed"]["rows"] == [{"key": {"code": "B"}, "changes": {"valor": {"old": 2, "new": [2, 3]}}}]


def test_dataset_version_show_answers_a_version_that_verifies(catalogue: RunningServer, council: httpx.Client) -> None:
    first = csv_of("codi,nom", "1,Girona")
    name = publish(council, "noms.csv", first, csv_of("codi,nom", "1,Girona", "2,Salt"))

    listed = council.get(f"/v1/opendata/datasets/{name}/versions").json()
    shown = council.get(f"/v1/opendata/datasets/{name}/versions/2").json()
    activity = act(council, "package_activity_list", id=name)

    assert [version["version"] for version in listed["versions"]] == [3, 2, 1] and listed["count"] == 3
    assert shown["version"] == 2 and shown["activity"] == "changed package"
    assert [(r["format"], r["size"], r["sha256"]) for r in shown["resources"]] == [
        ("CSV", len(first), hashlib.sha256(first).hexdigest())
    ]
    assert shown["metadata"]["name"] == name and shown["metadata"]["version"] == "2"
    code = shown["verification_code"]
    assert shown["verification_url"] == f"{catalogue.url}/verify/{code}"
    assert (shown["receipt"]["document_hash"], shown["receipt"]["kind"]) == (shown["sha256"], "dataset-version")
    assert activity[1]["verification_url"] == shown["verification_url"] == listed["versions"][1]["verification_url"]
    wait_anchored(council, shown["receipt_id"])
    with catalogue.client() as anyone:
        verified = anyone.get("/v1/verify", params={"code": code}).json()
        page = anyone.get(f"/verify/{code}")
    assert (verified["status"], verified["document_hash"]) == ("authentic", shown["sha256"])
    assert verified["matches"][0]["kind"] == "dataset-version"
    assert page.status_code == 200


def test_dataset_version_actions_refuse_unknown_datasets_and_versions(
    catalogue: RunningServer, council: httpx.Client
) -> None:
    name = publish(council, "a.csv", csv_of("codi", "1"), csv_of("codi", "2"))
    with catalogue.client() as anyone:
        unknown = anyone.get(f"{ACTIONS}/dataset_version_show", params={"id": "no-such-dataset"})
        missing = anyone.get(f"{ACTIONS}/dataset_version_show", params={"id": name, "version": 9})
        backwards = anyone.get(
            f"{ACTIONS}/dataset_version_diff", params={"id": name, "from_version": 3, "to_version": 1}
        )
        not_a_number = anyone.get(f"{ACTIONS}/dataset_version_diff", params={"id": name, "to_version": "dos"})
        rest_missing = anyone.get(f"/v1/opendata/datasets/{name}/versions/9")
        rest_backwards = anyone.get(f"/v1/opendata/datasets/{name}/versions/3/diff/1")
    bad_schema = council.post(
        f"{ACTIONS}/resource_create",
        data={"package_id": name, "schema": json.dumps({"fields": [{"name": "codi"}], "primaryKey": ["nom"]})},
        files={"upload": ("c.csv", csv_of("codi", "1"))},
    )
    assert (unknown.status_code, unknown.json()["error"]["__type"]) == (404, "Not Found Error")
    assert (missing.status_code, missing.json()["error"]["__type"]) == (404, "Not Found Error")
    assert "has no version 9" in missing.json()["error"]["message"]
    assert (backwards.status_code, list(backwards.json()["error"])) == (409, ["__type", "from_version"])
    assert (not_a_number.status_code, not_a_number.json()["error"]["to_version"]) == (409, ["Invalid integer"])
    assert (rest_missing.status_code, rest_missing.json()["error"]["code"]) == (404, "not_found")
    assert (rest_backwards.status_code, rest_backwards.json()["error"]["code"]) == (422, "validation_error")
    assert (bad_schema.status_code, bad_schema.json()["error"]["schema"]) == (
        409,
        ["Value error, `primaryKey` must name one or more of its `fields`"],
    )


def test_private_datasets_versions_are_seen_only_by_their_administration(
    catalogue: RunningServer, council: httpx.Client
) -> None:
    act(council, "package_create", **dataset("padro-versions-privat", private=True))
    path = "/v1/opendata/datasets/padro-versions-privat/versions"
    with catalogue.client() as anyone, catalogue.client(catalogue.admit()) as other:
        answers = [client.get(path).status_code for client in (anyone, other, council)]
        action = other.get(f"{ACTIONS}/dataset_version_list", params={"id": "padro-versions-privat"})
    assert answers == [404, 404, 200]
    assert action.status_code == 404


def test_ckanapi_calls_the_version_actions(catalogue: RunningServer, api_key: str, council: httpx.Client) -> None:
    name = publish(council, "b.csv", csv_of("code,x", "a,1"), csv_of("code,x", "a,2"))
    portal = ckanapi.RemoteCKAN(catalogue.url, apikey=api_key)

    diff = portal.action.dataset_version_diff(id=name, from_version=2, to_version=3)
    versions = portal.action.dataset_version_list(id=name)

    assert rows_of(diff)["changed"]["rows"] == [{"key": {"code": "a"}, "changes": {"x": {"old": "1", "new": "2"}}}]
    assert versions["count"] == 3 and versions["versions"][0]["verification_code"] == diff["to"]["verification_code"]
    with pytest.raises(ckanapi.NotFound):
        portal.action.dataset_version_show(id=name, version=4)


def test_diff_tables_compares_no_file_over_the_row_limit(tmp_path: Path) -> None:
    (tmp_path / "old.csv").write_bytes(csv_of("id,x", "1,a", "2,b"))
    (tmp_path / "new.csv").write_bytes(csv_of("id,x", "1,a", "2,b", "3,c"))
    old, new = (row_diff.read_table(tmp_path / name, "CSV") for name in ("old.csv", "new.csv"))

    assert row_diff.diff_tables(old, new, max_rows=3).added == 1
    with pytest.raises(row_diff.TooManyRows, match="more than 2 rows"):
        row_diff.diff_tables(old, new, max_rows=2)
    with pytest.raises(row_diff.TooManyRows):
        row_diff.diff_tables(old, new, max_rows=2, schema_key=["x"])
