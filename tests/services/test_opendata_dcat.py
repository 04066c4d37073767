"""The catalogue's DCAT-AP 3 export (Turtle, JSON-LD, RDF/XML), validated with pySHACL against the official
DCAT-AP 3.0.1 shapes, against one real server (embedded chain, SQLite) for the whole module."""

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ckanapi
import httpx
import pytest
from pyshacl import validate
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD

from segell.services.opendata.settings import OpendataSettings
from tests.helpers import RunningServer, dataset, make_settings, serve

# rdflib's own JSON-LD parser builds a ConjunctiveGraph, which rdflib itself deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
SHAPES = Graph().parse(Path(__file__).parents[1] / "data" / "dcat-ap-3.0.1-SHACL.ttl", format="turtle")
SPDX = Namespace("http://spdx.org/rdf/terms#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
CSV = b"municipi,habitants\nGirona,103369\nFigueres,47813\n"
FORMATS = {
    "ttl": ("turtle", "text/turtle"),
    "jsonld": ("json-ld", "application/ld+json"),
    "rdf": ("xml", "application/rdf+xml"),
}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-home")))


@pytest.fixture(scope="module")
def published(catalogue: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A public dataset with a CSV resource, and a private one, published through the CKAN API."""
    portal = ckanapi.RemoteCKAN(catalogue.url, apikey=catalogue.admit(name="Ajuntament de Girona"))
    portal.action.package_create(**dataset("padro-dcat"))
    path = tmp_path_factory.mktemp("files") / "padro.csv"
    path.write_bytes(CSV)
    with path.open("rb") as file:
        resource = portal.action.resource_create(package_id="padro-dcat", name="Padró", upload=file)
    private = portal.action.package_create(**dataset("padro-intern", private=True))
    return {"dataset": portal.action.package_show(id="padro-dcat"), "resource": resource, "private": private}


def fetch(catalogue: RunningServer, path: str, extension: str) -> Graph:
    answer = httpx.get(f"{catalogue.url}{path}")
    assert answer.status_code == 200, answer.text
    rdflib_format, media_type = FORMATS[extension]
    assert answer.headers["content-type"].startswith(media_type)
    return Graph().parse(data=answer.content, format=rdflib_format)


def assert_conforms(graph: Graph) -> None:
    conforms, _, report = validate(graph, shacl_graph=SHAPES, inference="none")
    assert conforms, report


@pytest.mark.parametrize("extension", list(FORMATS))
def test_catalogue_conforms_to_dcat_ap_3(catalogue: RunningServer, published: dict[str, Any], extension: str) -> None:
    graph = fetch(catalogue, f"/catalog.{extension}", extension)
    assert_conforms(graph)
    dataset = URIRef(f"{catalogue.url}/dataset/{published['dataset']['id']}")
    catalog = next(graph.subjects(RDF.type, DCAT.Catalog))
    assert (catalog, DCAT.dataset, dataset) in graph
    assert {literal.language for literal in graph.objects(dataset, DCTERMS.title)} == {"ca", "es", "en"}
    assert URIRef(f"{catalogue.url}/dataset/{published['private']['id']}") not in set(graph.subjects())
    assert published["private"]["id"] not in graph.serialize(format="nt")
    view = next(graph.objects(catalog, HYDRA.view))
    assert (view, RDF.type, HYDRA.PartialCollectionView) in graph
    assert graph.value(view, HYDRA.last) == URIRef(f"{catalogue.url}/catalog.{extension}?page=1")
    assert graph.value(view, HYDRA.next) is None


@pytest.mark.parametrize("extension", list(FORMATS))
def test_dataset_export_carries_the_notarised_checksum(
    catalogue: RunningServer, published: dict[str, Any], extension: str
) -> None:
    shown, resource = published["dataset"], published["resource"]
    graph = fetch(catalogue, f"/dataset/{shown['name']}.{extension}", extension)
    assert_conforms(graph)
    dataset = URIRef(f"{catalogue.url}/dataset/{shown['id']}")
    assert (dataset, DCTERMS.publisher, None) in graph
    assert graph.value(dataset, DCTERMS.accrualPeriodicity) == URIRef(shown["frequency"])
    assert set(graph.objects(dataset, DCAT.theme)) == {URIRef(theme) for theme in shown["theme"]}
    assert graph.value(dataset, DCTERMS.issued).datatype == XSD.dateTime  # type: ignore[union-attr]
    distribution = graph.value(dataset, DCAT.distribution)
    assert graph.value(distribution, DCAT.downloadURL) == URIRef(resource["url"])
    checksum = graph.value(distribution, SPDX.checksum)
    assert graph.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
    value = graph.value(checksum, SPDX.checksumValue)
    assert isinstance(value, Literal) and value.datatype == XSD.hexBinary
    assert str(value).lower() == resource["hash"] == hashlib.sha256(CSV).hexdigest()
    page = graph.value(distribution, FOAF.page)
    assert page == URIRef(f"{catalogue.url}/verify/{shown['verification_code']}")
    assert httpx.get(str(page)).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/dataset/padro-intern.ttl",
        "/dataset/no-such-dataset.jsonld",
        "/dataset/padro-intern.rdf",
        "/catalog.ttl?page=2",
    ],
)
def test_private_unknown_datasets_and_pages_past_the_last_are_404(
    catalogue: RunningServer, published: dict[str, Any], path: str
) -> None:
    answer = httpx.get(f"{catalogue.url}{path}")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
    assert answer.json()["error"]["message"]


@pytest.fixture(scope="module")
def paged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A catalogue of two datasets a page, holding three public datasets and a private one."""
    home = tmp_path_factory.mktemp("segell-paged")
    for server in serve(make_settings(home, OpendataSettings(dcat_page_size=2))):
        portal = ckanapi.RemoteCKAN(server.url, apikey=server.admit(name="Ajuntament de Figueres"))
        for name in ("pagina-c", "pagina-a", "pagina-b"):
            portal.action.package_create(**dataset(name))
        portal.action.package_create(**dataset("pagina-0-intern", private=True))
        yield server


@pytest.mark.parametrize("extension", ["ttl", "jsonld"])
def test_second_page_of_the_catalogue_conforms_and_links_back(paged: RunningServer, extension: str) -> None:
    graph = fetch(paged, f"/catalog.{extension}?page=2", extension)
    assert_conforms(graph)
    catalog = next(graph.subjects(RDF.type, DCAT.Catalog))
    names = {str(graph.value(subject, DCTERMS.identifier)) for subject in graph.objects(catalog, DCAT.dataset)}
    shown = ckanapi.RemoteCKAN(paged.url).action.package_show(id="pagina-c")
    assert names == {shown["id"]}
    view = graph.value(catalog, HYDRA.view)
    assert int(str(graph.value(view, HYDRA.totalItems))) == 3
    assert graph.value(view, HYDRA.previous) == URIRef(f"{paged.url}/catalog.{extension}?page=1")
    assert graph.value(view, HYDRA.last) == URIRef(f"{paged.url}/catalog.{extension}?page=2")
    assert graph.value(view, HYDRA.next) is None
    assert httpx.get(f"{paged.url}/catalog.{extension}?page=3").status_code == 404
