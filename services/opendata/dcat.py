"""The catalogue as DCAT-AP 3 linked data: an RDF graph (rdflib) of the public datasets, their distributions and
the catalogue, served as Turtle, JSON-LD or RDF/XML.

Each distribution carries its file's SHA-256 (`spdx:checksum`) and links (`foaf:page`) to the verification page of
the dataset's current notarised version (`/verify/{code}`). The catalogue is paged, `PAGE_SIZE` datasets a page,
with a `hydra:PartialCollectionView` naming the first, last, previous and next pages.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, SKOS, XSD
from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.notary import api as notary
from segell.services.opendata import repository, search_repository
from segell.services.opendata.models import Dataset, Resource
from segell.services.opendata.vocabularies import FORMATS, FREQUENCIES, FREQUENCY_URI, LICENCES, THEME_URI, THEMES

SPDX: Final = Namespace("http://spdx.org/rdf/terms#")
HYDRA: Final = Namespace("http://www.w3.org/ns/hydra/core#")
FILE_TYPE_URI: Final = "http://publications.europa.eu/resource/authority/file-type/"
MEDIA_TYPE_URI: Final = "http://www.iana.org/assignments/media-types/"
PAGE_SIZE: Final = 100
PREFIXES: Final = {
    "dcat": DCAT,
    "dct": DCTERMS,
    "foaf": FOAF,
    "owl": OWL,
    "rdf": RDF,
    "skos": SKOS,
    "spdx": SPDX,
    "hydra": HYDRA,
    "xsd": XSD,
}

#: The serialisations offered: file extension → (rdflib format, media type).
SERIALISATIONS: Final[dict[str, tuple[str, str]]] = {
    "ttl": ("turtle", "text/turtle"),
    "jsonld": ("json-ld", "application/ld+json"),
    "rdf": ("pretty-xml", "application/rdf+xml"),
}

CATALOGUE_TITLE: Final = {
    "ca": "Catàleg de dades obertes de Segell",
    "es": "Catálogo de datos abiertos de Segell",
    "en": "Segell open data catalogue",
}
CATALOGUE_DESCRIPTION: Final = {
    "ca": "Els conjunts de dades públics de les administracions, amb cada versió notaritzada.",
    "es": "Los conjuntos de datos públicos de las administraciones, con cada versión notarizada.",
    "en": "The administrations' public datasets, every version of each notarised.",
}


class PageNotFound(Exception):
    """A page past the catalogue's last."""

    def __init__(self, page: int, pages: int, size: int) -> None:
        super().__init__(f"The catalogue has {pages} page(s) of {size} datasets; ask for page 1 to {pages}.")
        self.page, self.pages = page, pages


@dataclass(frozen=True)
class Links:
    """The URIs the graph names, all under the server's address."""

    base: str

    def catalogue(self) -> URIRef:
        return URIRef(f"{self.base}/catalog")

    def page(self, number: int, extension: str) -> URIRef:
        return URIRef(f"{self.base}/catalog.{extension}?page={number}")

    def dataset(self, dataset: Dataset) -> URIRef:
        return URIRef(f"{self.base}/dataset/{dataset.id}")

    def distribution(self, dataset: Dataset, resource: Resource) -> URIRef:
        return URIRef(f"{self.base}/dataset/{dataset.id}/resource/{resource.id}")

    def download(self, dataset: Dataset, resource: Resource) -> URIRef:
        return URIRef(f"{self.base}/dataset/{dataset.id}/resource/{resource.id}/download/{resource.filename}")

    def publisher(self, administration: Administration) -> URIRef:
        return URIRef(f"{self.base}/organization/{administration.code.lower()}")

    def verification(self, code: str) -> URIRef:
        return URIRef(f"{self.base}/verify/{code}")


def _graph() -> Graph:
    graph = Graph(bind_namespaces="core")
    for prefix, namespace in PREFIXES.items():
        graph.bind(prefix, namespace)
    return graph


def _moment(moment: datetime) -> Literal:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return Literal(aware.astimezone(UTC).isoformat(), datatype=XSD.dateTime)


def _day(day: date) -> Literal:
    return Literal(day.isoformat(), datatype=XSD.date)


def _texts(graph: Graph, subject: URIRef, predicate: URIRef, texts: Mapping[str, str]) -> None:
    for language in ("ca", "es", "en"):
        if texts.get(language):
            graph.add((subject, predicate, Literal(texts[language], lang=language)))


def _publisher(graph: Graph, links: Links, administration: Administration) -> URIRef:
    agent = links.publisher(administration)
    graph.add((agent, RDF.type, FOAF.Agent))
    graph.add((agent, FOAF.name, Literal(administration.name)))
    graph.add((agent, DCTERMS.identifier, Literal(administration.code)))
    return agent


def _distribution(graph: Graph, links: Links, dataset: Dataset, resource: Resource, code: str | None) -> URIRef:
    distribution = links.distribution(dataset, resource)
    download = links.download(dataset, resource)
    graph.add((distribution, RDF.type, DCAT.Distribution))
    graph.add((distribution, DCTERMS.title, Literal(resource.name)))
    if resource.description:
        graph.add((distribution, DCTERMS.description, Literal(resource.description)))
    graph.add((distribution, DCTERMS.identifier, Literal(resource.id)))
    graph.add((distribution, DCAT.accessURL, download))
    graph.add((distribution, DCAT.downloadURL, download))
    file_type = URIRef(FILE_TYPE_URI + resource.format)
    graph.add((file_type, RDF.type, DCTERMS.MediaTypeOrExtent))
    graph.add((distribution, DCTERMS.format, file_type))
    media_type = URIRef(MEDIA_TYPE_URI + FORMATS[resource.format])
    graph.add((media_type, RDF.type, DCTERMS.MediaType))
    graph.add((distribution, DCAT.mediaType, media_type))
    graph.add((distribution, DCAT.byteSize, Literal(resource.size, datatype=XSD.nonNegativeInteger)))
    licence = URIRef(LICENCES[dataset.licence][1])
    graph.add((licence, RDF.type, DCTERMS.LicenseDocument))
    graph.add((distribution, DCTERMS.license, licence))
    graph.add((distribution, DCTERMS.issued, _moment(resource.created_at)))
    graph.add((distribution, DCTERMS.modified, _moment(resource.modified_at)))
    checksum = BNode()
    graph.add((distribution, SPDX.checksum, checksum))
    graph.add((checksum, RDF.type, SPDX.Checksum))
    graph.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
    graph.add((SPDX.checksumAlgorithm_sha256, RDF.type, SPDX.ChecksumAlgorithm))
    graph.add((checksum, SPDX.checksumValue, Literal(resource.sha256, datatype=XSD.hexBinary)))
    if code is not None:
        page = links.verification(code)
        graph.add((page, RDF.type, FOAF.Document))
        graph.add((distribution, FOAF.page, page))
    return distribution


def _dataset(
    graph: Graph,
    links: Links,
    dataset: Dataset,
    resources: list[Resource],
    administration: Administration,
    code: str | None,
) -> URIRef:
    subject = links.dataset(dataset)
    graph.add((subject, RDF.type, DCAT.Dataset))
    _texts(graph, subject, DCTERMS.title, dataset.title)
    _texts(graph, subject, DCTERMS.description, dataset.description)
    graph.add((subject, DCTERMS.identifier, Literal(dataset.id)))
    graph.add((subject, DCTERMS.publisher, _publisher(graph, links, administration)))
    for theme in dataset.themes:
        concept = URIRef(THEME_URI + theme)
        graph.add((concept, RDF.type, SKOS.Concept))
        _texts(graph, concept, SKOS.prefLabel, THEMES[theme])
        graph.add((subject, DCAT.theme, concept))
    for keyword in dataset.keywords:
        graph.add((subject, DCAT.keyword, Literal(keyword)))
    if dataset.temporal_start is not None or dataset.temporal_end is not None:
        period = BNode()
        graph.add((period, RDF.type, DCTERMS.PeriodOfTime))
        if dataset.temporal_start is not None:
            graph.add((period, DCAT.startDate, _day(dataset.temporal_start)))
        if dataset.temporal_end is not None:
            graph.add((period, DCAT.endDate, _day(dataset.temporal_end)))
        graph.add((subject, DCTERMS.temporal, period))
    if dataset.spatial:
        place = URIRef(dataset.spatial)
        graph.add((place, RDF.type, DCTERMS.Location))
        graph.add((subject, DCTERMS.spatial, place))
    if dataset.frequency:
        frequency = URIRef(FREQUENCY_URI + dataset.frequency)
        graph.add((frequency, RDF.type, DCTERMS.Frequency))
        _texts(graph, frequency, SKOS.prefLabel, FREQUENCIES[dataset.frequency])
        graph.add((subject, DCTERMS.accrualPeriodicity, frequency))
    graph.add((subject, DCTERMS.issued, _moment(dataset.created_at)))
    graph.add((subject, DCTERMS.modified, _moment(dataset.modified_at)))
    graph.add((subject, OWL.versionInfo, Literal(str(dataset.version))))
    for resource in resources:
        graph.add((subject, DCAT.distribution, _distribution(graph, links, dataset, resource, code)))
    return subject


def _add_datasets(
    session: Session, graph: Graph, links: Links, datasets: list[Dataset], codes: Mapping[str, str | None]
) -> list[URIRef]:
    resources: dict[str, list[Resource]] = {}
    for resource in repository.resources_of(session, dataset_ids=[dataset.id for dataset in datasets]):
        resources.setdefault(resource.dataset_id, []).append(resource)
    publishers = {
        administration.id: administration
        for administration in repository.administrations(
            session, ids=sorted({dataset.administration_id for dataset in datasets})
        )
    }
    subjects = []
    for dataset in datasets:
        publisher = publishers[dataset.administration_id]
        subjects.append(_dataset(graph, links, dataset, resources.get(dataset.id, []), publisher, codes[dataset.id]))
    return subjects


def catalogue_graph(session: Session, base: str, page: int, extension: str, page_size: int = PAGE_SIZE) -> Graph:
    """One page of the catalogue: the `dcat:Catalog`, the public datasets of that page, and the page's links."""
    total, chosen = search_repository.public_page(session, offset=(page - 1) * page_size, limit=page_size)
    pages = max(1, math.ceil(total / page_size))
    if page > pages:
        raise PageNotFound(page, pages, page_size)
    links = Links(base)
    graph = _graph()
    catalogue = links.catalogue()
    graph.add((catalogue, RDF.type, DCAT.Catalog))
    _texts(graph, catalogue, DCTERMS.title, CATALOGUE_TITLE)
    _texts(graph, catalogue, DCTERMS.description, CATALOGUE_DESCRIPTION)
    operator = URIRef(f"{base}/")
    graph.add((operator, RDF.type, FOAF.Agent))
    graph.add((operator, FOAF.name, Literal("Segell")))
    graph.add((catalogue, DCTERMS.publisher, operator))
    graph.add((operator, RDF.type, FOAF.Document))
    graph.add((catalogue, FOAF.homepage, operator))
    codes = dict(chosen)
    datasets = {dataset.id: dataset for dataset in repository.datasets_by_ids(session, ids=list(codes))}
    ordered = [datasets[dataset_id] for dataset_id in codes if dataset_id in datasets]
    for subject in _add_datasets(session, graph, links, ordered, codes):
        graph.add((catalogue, DCAT.dataset, subject))
    view = links.page(page, extension)
    graph.add((catalogue, HYDRA.view, view))
    graph.add((view, RDF.type, HYDRA.PartialCollectionView))
    graph.add((view, HYDRA.totalItems, Literal(total, datatype=XSD.nonNegativeInteger)))
    graph.add((view, HYDRA.first, links.page(1, extension)))
    graph.add((view, HYDRA.last, links.page(pages, extension)))
    if page > 1:
        graph.add((view, HYDRA.previous, links.page(page - 1, extension)))
    if page < pages:
        graph.add((view, HYDRA.next, links.page(page + 1, extension)))
    return graph


def dataset_graph(session: Session, base: str, id_or_name: str) -> Graph | None:
    """A public, active dataset (by id or name) and its distributions; None when there is no such dataset."""
    dataset = repository.dataset_by_id_or_name(session, id_or_name=id_or_name)
    if dataset is None or dataset.private or dataset.state != "active":
        return None
    graph = _graph()
    version = repository.latest_version(session, dataset_id=dataset.id)
    code = None
    if version is not None:
        code = notary.receipt(session, dataset.administration_id, version.receipt_id).verification_code
    _add_datasets(session, graph, Links(base), [dataset], {dataset.id: code})
    return graph


def serialise(graph: Graph, extension: str) -> bytes:
    rdflib_format, _ = SERIALISATIONS[extension]
    if extension == "jsonld":
        context = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}
        return graph.serialize(format=rdflib_format, context=context, auto_compact=True, encoding="utf-8")
    return graph.serialize(format=rdflib_format, encoding="utf-8")
