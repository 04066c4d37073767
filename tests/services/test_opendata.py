"""The open-data catalogue through CKAN's own client: `ckanapi.RemoteCKAN` and the `ckanapi` command, against one
real server (embedded chain, SQLite) for the whole module."""

import hashlib
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import ckanapi
import httpx
import pytest

from segell.services.opendata.settings import OpendataSettings
from tests.helpers import RunningServer, dataset, make_settings, serve, wait_anchored

CSV = b"municipi,habitants\nGirona,103369\nFigueres,47813\n"
GEOJSON = json.dumps({"type": "FeatureCollection", "features": []}).encode()
MAX_RESOURCE_BYTES = 4096


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("segell-home")
    yield from serve(make_settings(home, OpendataSettings(max_resource_bytes=MAX_RESOURCE_BYTES)))


@pytest.fixture(scope="module")
def council(catalogue: RunningServer) -> tuple[str, str]:
    code = f"L{secrets.randbelow(10**8):08d}"
    return code, catalogue.admit(code=code, name="Ajuntament de Girona")


@pytest.fixture(scope="module")
def publisher(catalogue: RunningServer, council: tuple[str, str]) -> ckanapi.RemoteCKAN:
    return ckanapi.RemoteCKAN(catalogue.url, apikey=council[1])


def upload(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_package_create_records_dcat_metadata_and_publisher(
    publisher: ckanapi.RemoteCKAN, council: tuple[str, str]
) -> None:
    created = publisher.action.package_create(**dataset("padro-2024"))
    shown = publisher.action.package_show(id="padro-2024")
    assert shown["id"] == created["id"]
    assert shown["organization"]["name"] == council[0].lower()
    assert shown["title_translated"]["es"] == "Padrón municipal"
    assert [group["name"] for group in shown["groups"]] == ["gove", "soci"]
    assert sorted(tag["name"] for tag in shown["tags"]) == ["padró", "població"]
    assert shown["frequency"].endswith("/frequency/ANNUAL")
    assert (shown["temporal_start"], shown["temporal_end"], shown["version"]) == ("2024-01-01", "2024-12-31", "1")


def test_resource_create_streams_the_file_and_records_its_sha256(
    publisher: ckanapi.RemoteCKAN, catalogue: RunningServer, tmp_path: Path
) -> None:
    publisher.action.package_create(**dataset("padro-fitxers"))
    with upload(tmp_path, "padro.csv", CSV).open("rb") as file:
        resource = publisher.action.resource_create(package_id="padro-fitxers", name="Padró", upload=file)
    assert (resource["format"], resource["size"]) == ("CSV", len(CSV))
    assert resource["hash"] == hashlib.sha256(CSV).hexdigest()
    downloaded = httpx.get(resource["url"])
    assert downloaded.content == CSV
    assert downloaded.headers["content-type"].startswith("text/csv")


def test_resource_create_refuses_a_file_that_is_not_its_format(publisher: ckanapi.RemoteCKAN, tmp_path: Path) -> None:
    publisher.action.package_create(**dataset("padro-geo"))
    with upload(tmp_path, "zones.geojson", CSV).open("rb") as file, pytest.raises(ckanapi.ValidationError) as refused:
        publisher.action.resource_create(package_id="padro-geo", upload=file)
    assert "not GEOJSON" in refused.value.error_dict["upload"][0]
    with upload(tmp_path, "zones.geojson", GEOJSON).open("rb") as file:
        assert publisher.action.resource_create(package_id="padro-geo", upload=file)["format"] == "GeoJSON"


def test_resource_create_refuses_a_file_over_the_limit(publisher: ckanapi.RemoteCKAN, tmp_path: Path) -> None:
    publisher.action.package_create(**dataset("padro-gran"))
    big = CSV * (MAX_RESOURCE_BYTES // len(CSV) + 1)
    with upload(tmp_path, "big.csv", big).open("rb") as file, pytest.raises(ckanapi.ValidationError) as refused:
        publisher.action.resource_create(package_id="padro-gran", upload=file)
    assert str(MAX_RESOURCE_BYTES) in refused.value.error_dict["upload"][0]
    assert publisher.action.package_show(id="padro-gran")["resources"] == []


def test_every_change_is_a_notarised_version_derived_from_the_last(
    publisher: ckanapi.RemoteCKAN, catalogue: RunningServer, council: tuple[str, str], tmp_path: Path
) -> None:
    publisher.action.package_create(**dataset("padro-versions"))
    publisher.action.package_patch(id="padro-versions", frequency="MONTHLY")
    with upload(tmp_path, "padro.csv", CSV).open("rb") as file:
        publisher.action.resource_create(package_id="padro-versions", upload=file)
    activity = publisher.action.package_activity_list(id="padro-versions")
    assert [entry["version"] for entry in activity] == [3, 2, 1]
    assert activity[0]["data"]["package"]["resources"][0]["sha256"] == hashlib.sha256(CSV).hexdigest()
    assert activity[1]["data"]["package"]["metadata"]["frequency"].endswith("MONTHLY")
    with catalogue.client(council[1]) as owner:
        wait_anchored(owner, activity[0]["receipt_id"])
        verified = owner.get("/v1/verify", params={"code": activity[0]["verification_code"]}).json()
        page = owner.get(f"/verify/{activity[0]['verification_code']}")
    assert (verified["status"], verified["document_hash"]) == ("authentic", activity[0]["sha256"])
    assert verified["matches"][0]["kind"] == "dataset-version"
    assert [source["verification_code"] for source in verified["matches"][0]["derived_from"]] == [
        activity[1]["verification_code"]
    ]
    assert page.status_code == 200
    assert publisher.action.package_show(id="padro-versions")["verification_code"] == activity[0]["verification_code"]


def test_package_update_of_another_administrations_dataset_is_an_authorization_error(
    publisher: ckanapi.RemoteCKAN, catalogue: RunningServer
) -> None:
    publisher.action.package_create(**dataset("padro-alie"))
    other = ckanapi.RemoteCKAN(catalogue.url, apikey=catalogue.admit())
    with pytest.raises(ckanapi.NotAuthorized):
        other.action.package_patch(id="padro-alie", private=True)
    with pytest.raises(ckanapi.NotAuthorized):
        other.action.package_create(
            **dataset("padro-usurpat", owner_org=publisher.action.package_show(id="padro-alie")["owner_org"])
        )
    with pytest.raises(ckanapi.NotAuthorized):
        ckanapi.RemoteCKAN(catalogue.url).action.package_create(**dataset("padro-anonim"))
    assert publisher.action.package_show(id="padro-alie")["private"] is False


def test_private_datasets_are_seen_only_by_their_administration(
    publisher: ckanapi.RemoteCKAN, catalogue: RunningServer
) -> None:
    publisher.action.package_create(**dataset("padro-privat", private=True))
    anyone = ckanapi.RemoteCKAN(catalogue.url)
    with pytest.raises(ckanapi.NotFound):
        anyone.action.package_show(id="padro-privat")
    mine = publisher.action.package_search(q="padro-privat", include_private=True)
    assert [package["name"] for package in mine["results"]] == ["padro-privat"]
    assert anyone.action.package_search(q="padro-privat", include_private=True)["count"] == 0


def test_package_search_filters_and_counts_facets(publisher: ckanapi.RemoteCKAN, council: tuple[str, str]) -> None:
    publisher.action.package_create(
        **dataset("pressupost-2025", theme=["ECON"], tags=[{"name": "pressupost"}], license_id="CC0-1.0")
    )
    found = publisher.action.package_search(
        q="pressupost",
        fq=f"organization:{council[0].lower()} groups:econ",
        **{"facet.field": '["groups", "license_id"]'},
    )
    assert [package["name"] for package in found["results"]] == ["pressupost-2025"]
    assert found["facets"] == {"groups": {"econ": 1}, "license_id": {"CC0-1.0": 1}}
    assert found["search_facets"]["groups"]["items"][0]["display_name"] == "Economy and finance"
    for name in ("cerca-a", "cerca-b", "cerca-c"):  # default theme: SOCI
        publisher.action.package_create(**dataset(name))
    everything = publisher.action.package_search(fq="groups:soci", rows=2, sort="name asc")
    assert everything["count"] >= 3 and len(everything["results"]) == 2
    assert [package["name"] for package in everything["results"]] == sorted(p["name"] for p in everything["results"])
    with pytest.raises(ckanapi.SearchQueryError):
        publisher.action.package_search(fq="colour:blue")


def test_read_actions_answer_in_ckans_envelope(catalogue: RunningServer, council: tuple[str, str]) -> None:
    with catalogue.client() as anyone:
        status = anyone.get("/api/3/action/status_show").json()
        groups = anyone.get("/api/3/action/group_list").json()["result"]
        organization = anyone.get("/api/3/action/organization_show", params={"id": council[0]}).json()
        missing = anyone.get("/api/3/action/package_show", params={"id": "cap"})
        invalid = anyone.post("/api/3/action/package_search", json={"rows": 5000})
    assert status["success"] is True and status["result"]["api_version"] == 3
    assert "gove" in groups and len(groups) == 13
    assert organization["result"]["title"] == "Ajuntament de Girona"
    assert (missing.status_code, missing.json()["error"]["__type"]) == (404, "Not Found Error")
    assert (invalid.status_code, invalid.json()["error"]["__type"]) == (409, "Validation Error")
    assert "rows" in invalid.json()["error"]


def test_ckanapi_cli_dumps_and_searches_datasets(
    publisher: ckanapi.RemoteCKAN, catalogue: RunningServer, tmp_path: Path
) -> None:
    publisher.action.package_create(**dataset("padro-cli"))
    publisher.action.package_create(**dataset("padro-cli-intern", private=True))
    scripts = Path(sys.executable).parent
    cli = [str(scripts / "ckanapi")]
    # The dump's workers are `ckanapi` processes found on PATH.
    env = {**os.environ, "PATH": f"{scripts}{os.pathsep}{os.environ.get('PATH', '')}"}
    dumped = subprocess.run(
        [*cli, "dump", "datasets", "--all", "-r", catalogue.url, "-O", str(tmp_path / "all.jsonl"), "-q"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert dumped.returncode == 0, dumped.stderr
    names = {json.loads(line)["name"] for line in (tmp_path / "all.jsonl").read_text().splitlines()}
    assert "padro-cli" in names and "padro-cli-intern" not in names, dumped.stderr
    searched = subprocess.run(
        [*cli, "search", "datasets", "q=padro-cli", "-r", catalogue.url],
        capture_output=True, text=True, timeout=60, env=env, check=True,
    )  # fmt: skip
    assert [json.loads(line)["name"] for line in searched.stdout.splitlines()] == ["padro-cli"]
