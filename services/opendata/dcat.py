"""The catalogue as DCAT-AP 3 linked data: the public datasets, their distributions and the catalogue, served as
Turtle, JSON-LD or RDF/XML.

The export is written directly, without an RDF library: a `Document` holds each resource's description once
(a blank node nested in place), and each serialisation writes it with its own escaping (Turtle strings and IRIs,
JSON through `json`, XML text and attributes). Building an rdflib graph and serialising it took minutes for
10,000 datasets; this takes about a second (`bench/opendata.py`). The tests parse every format with rdflib and
validate it with pySHACL.

Each distribution carries its file's SHA-256 (`spdx:checksum`) and links (`foaf:page`) to the verification page of
the dataset's current notarised version (`/verify/{code}`). The catalogue is paged, `PAGE_SIZE` datasets a page,
with a `hydra:PartialCollectionView` naming the first, last, previous and next pages.
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.notary import api as notary
from segell.services.opendata import repository, search_repository
from segell.services.opendata.models import Dataset, Resource
from segell.services.opendata.vocabularies import FORMATS, FREQUENCIES, FREQUENCY_URI, LICENCES, THEME_URI, THEMES

#: The vocabularies the export uses, by their prefix in every serialisation.
PREFIXES: Final = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "spdx": "http://spdx.org/rdf/terms#",
    "hydra": "http://www.w3.org/ns/hydra/core#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}
FILE_TYPE_URI: Final = "http://publications.europa.eu/resource/authority/file-type/"
MEDIA_TYPE_URI: Final = "http://www.iana.org/assignments/media-types/"
SHA256: Final = PREFIXES["spdx"] + "checksumAlgorithm_sha256"
PAGE_SIZE: Final = 100

#: The serialisations offered: file extension → (name, media type).
SERIALISATIONS: Final[dict[str, tuple[str, str]]] = {
    "ttl": ("turtle", "text/turtle"),
    "jsonld": ("json-ld", "application/ld+json"),
    "rdf": ("xml", "application/rdf+xml"),
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
class IRI:
    value: str


@dataclass(frozen=True)
class Text:
    """A literal: with a language, or a datatype (a full IRI), or neither (a plain string)."""

    value: str
    language: str | None = None
    datatype: str | None = None


#: A resource's description: each predicate (``prefix:name``, or ``a`` for rdf:type with prefixed class names) and
#: its objects; a nested `Description` is a blank node described in place.
Description = dict[str, list["IRI | Text | Description"]]


class Document:
    """The resources of one answer, each described once, in the order they were first named."""

    def __init__(self) -> None:
        self.subjects: dict[str, Description] = {}

    def describe(self, subject: str) -> tuple[Description, bool]:
        """The description of `subject`, and whether it is new."""
        found = self.subjects.get(subject)
        if found is not None:
            return found, False
        description: Description = {}
        self.subjects[subject] = description
        return description, True


@dataclass(frozen=True)
class Links:
    """The URIs the export names, all under the server's address."""

    base: str

    def catalogue(self) -> str:
        return f"{self.base}/catalog"

    def page(self, number: int, extension: str) -> str:
        return f"{self.base}/catalog.{extension}?page={number}"

    def dataset(self, dataset: Dataset) -> str:
        return f"{self.base}/dataset/{dataset.id}"

    def distribution(self, dataset: Dataset, resource: Resource) -> str:
        return f"{self.base}/dataset/{dataset.id}/resource/{resource.id}"

    def download(self, dataset: Dataset, resource: Resource) -> str:
        return f"{self.base}/dataset/{dataset.id}/resource/{resource.id}/download/{resource.filename}"

    def publisher(self, administration: Administration) -> str:
        return f"{self.base}/organization/{administration.code.lower()}"

    def verification(self, code: str) -> str:
        return f"{self.base}/verify/{code}"


def _moment(moment: datetime) -> Text:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return Text(aware.astimezone(UTC).isoformat(), datatype=PREFIXES["xsd"] + "dateTime")


def _day(day: date) -> Text:
    return Text(day.isoformat(), datatype=PREFIXES["xsd"] + "date")


def _texts(texts: Mapping[str, str]) -> list["IRI | Text | Description"]:
    return [Text(texts[language], language=language) for language in ("ca", "es", "en") if texts.get(language)]


def _typed(document: Document, subject: str, kind: str, **more: list["IRI | Text | Description"]) -> IRI:
    """`subject`, described as a `kind` (with `more`) the first time it is named."""
    description, new = document.describe(subject)
    if new:
        description["a"] = [IRI(kind)]
        description.update({predicate.replace("__", ":"): objects for predicate, objects in more.items()})
    elif IRI(kind) not in description["a"]:
        description["a"].append(IRI(kind))
    return IRI(subject)


def _distribution(document: Document, links: Links, dataset: Dataset, resource: Resource, code: str | None) -> IRI:
    download = IRI(links.download(dataset, resource))
    licence = LICENCES[dataset.licence][1]
    description: Description = {
        "a": [IRI("dcat:Distribution")],
        "dct:title": [Text(resource.name)],
        "dct:identifier": [Text(resource.id)],
        "dcat:accessURL": [download],
        "dcat:downloadURL": [download],
        "dct:format": [_typed(document, FILE_TYPE_URI + resource.format, "dct:MediaTypeOrExtent")],
        "dcat:mediaType": [_typed(document, MEDIA_TYPE_URI + FORMATS[resource.format], "dct:MediaType")],
        "dcat:byteSize": [Text(str(resource.size), datatype=PREFIXES["xsd"] + "nonNegativeInteger")],
        "dct:license": [_typed(document, licence, "dct:LicenseDocument")],
        "dct:issued": [_moment(resource.created_at)],
        "dct:modified": [_moment(resource.modified_at)],
        "spdx:checksum": [
            {
                "a": [IRI("spdx:Checksum")],
                "spdx:algorithm": [_typed(document, SHA256, "spdx:ChecksumAlgorithm")],
                "spdx:checksumValue": [Text(resource.sha256, datatype=PREFIXES["xsd"] + "hexBinary")],
            }
        ],
    }
    if resource.description:
        description["dct:description"] = [Text(resource.description)]
    if code is not None:
        description["foaf:page"] = [_typed(document, links.verification(code), "foaf:Document")]
    subject = links.distribution(dataset, resource)
    document.subjects[subject] = description
    return IRI(subject)


def _dataset(
    document: Document,
    links: Links,
    dataset: Dataset,
    resources: list[Resource],
    administration: Administration,
    code: str | None,
) -> IRI:
    subject = links.dataset(dataset)
    description: Description = {
        "a": [IRI("dcat:Dataset")],
        "dct:title": _texts(dataset.title),
        "dct:description": _texts(dataset.description),
        "dct:identifier": [Text(dataset.id)],
    }
    document.subjects[subject] = description
    description["dct:publisher"] = [
        _typed(
            document,
            links.publisher(administration),
            "foaf:Agent",
            foaf__name=[Text(administration.name)],
            dct__identifier=[Text(administration.code)],
        )
    ]
    description["dcat:theme"] = [
        _typed(document, THEME_URI + theme, "skos:Concept", skos__prefLabel=_texts(THEMES[theme]))
        for theme in dataset.themes
    ]
    if dataset.keywords:
        description["dcat:keyword"] = [Text(keyword) for keyword in dataset.keywords]
    if dataset.temporal_start is not None or dataset.temporal_end is not None:
        period: Description = {"a": [IRI("dct:PeriodOfTime")]}
        if dataset.temporal_start is not None:
            period["dcat:startDate"] = [_day(dataset.temporal_start)]
        if dataset.temporal_end is not None:
            period["dcat:endDate"] = [_day(dataset.temporal_end)]
        description["dct:temporal"] = [period]
    if dataset.spatial:
        description["dct:spatial"] = [_typed(document, dataset.spatial, "dct:Location")]
    if dataset.frequency:
        labels = _texts(FREQUENCIES[dataset.frequency])
        frequency = _typed(document, FREQUENCY_URI + dataset.frequency, "dct:Frequency", skos__prefLabel=labels)
        description["dct:accrualPeriodicity"] = [frequency]
    description["dct:issued"] = [_moment(dataset.created_at)]
    description["dct:modified"] = [_moment(dataset.modified_at)]
    description["owl:versionInfo"] = [Text(str(dataset.version))]
    if resources:
        description["dcat:distribution"] = [
            _distribution(document, links, dataset, resource, code) for resource in resources
        ]
    return IRI(subject)


def _add_datasets(
    session: Session, document: Document, links: Links, datasets: list[Dataset], codes: Mapping[str, str | None]
) -> list[IRI]:
    resources: dict[str, list[Resource]] = {}
    for resource in repository.resources_of(session, dataset_ids=[dataset.id for dataset in datasets]):
        resources.setdefault(resource.dataset_id, []).append(resource)
    publishers = {
        administration.id: administration
        for administration in repository.administrations(
            session, ids=sorted({dataset.administration_id for dataset in datasets})
        )
    }
    return [
        _dataset(
            document,
            links,
            dataset,
            resources.get(dataset.id, []),
            publishers[dataset.administration_id],
            codes[dataset.id],
        )
        for dataset in datasets
    ]


def catalogue_document(session: Session, base: str, page: int, extension: str, page_size: int = PAGE_SIZE) -> Document:
    """One page of the catalogue: the `dcat:Catalog`, the public datasets of that page, and the page's links."""
    total, chosen = search_repository.public_page(session, offset=(page - 1) * page_size, limit=page_size)
    pages = max(1, math.ceil(total / page_size))
    if page > pages:
        raise PageNotFound(page, pages, page_size)
    links = Links(base)
    document = Document()
    catalogue, _ = document.describe(links.catalogue())
    operator = f"{base}/"
    catalogue.update(
        {
            "a": [IRI("dcat:Catalog")],
            "dct:title": _texts(CATALOGUE_TITLE),
            "dct:description": _texts(CATALOGUE_DESCRIPTION),
            "dct:publisher": [_typed(document, operator, "foaf:Agent", foaf__name=[Text("Segell")])],
            "foaf:homepage": [_typed(document, operator, "foaf:Document")],
        }
    )
    codes = dict(chosen)
    datasets = {dataset.id: dataset for dataset in repository.datasets_by_ids(session, ids=list(codes))}
    ordered = [datasets[dataset_id] for dataset_id in codes if dataset_id in datasets]
    view: Description = {
        "a": [IRI("hydra:PartialCollectionView")],
        "hydra:totalItems": [Text(str(total), datatype=PREFIXES["xsd"] + "nonNegativeInteger")],
        "hydra:first": [IRI(links.page(1, extension))],
        "hydra:last": [IRI(links.page(pages, extension))],
    }
    if page > 1:
        view["hydra:previous"] = [IRI(links.page(page - 1, extension))]
    if page < pages:
        view["hydra:next"] = [IRI(links.page(page + 1, extension))]
    document.subjects[links.page(page, extension)] = view
    catalogue["hydra:view"] = [IRI(links.page(page, extension))]
    subjects = _add_datasets(session, document, links, ordered, codes)
    if subjects:
        catalogue["dcat:dataset"] = list(subjects)
    return document


def dataset_document(session: Session, base: str, id_or_name: str) -> Document | None:
    """A public, active dataset (by id or name) and its distributions; None when there is no such dataset."""
    dataset = repository.dataset_by_id_or_name(session, id_or_name=id_or_name)
    if dataset is None or dataset.private or dataset.state != "active":
        return None
    document = Document()
    version = repository.latest_version(session, dataset_id=dataset.id)
    code = None
    if version is not None:
        code = notary.receipt(session, dataset.administration_id, version.receipt_id).verification_code
    _add_datasets(session, document, Links(base), [dataset], {dataset.id: code})
    return document


# -- writing: each serialisation written directly, its escaping done here -----------------------------------------

_IRI_UNSAFE = {ord(c): f"%{ord(c):02X}" for c in '<>"{}|^`\\ '} | {n: f"%{n:02X}" for n in range(0x21)}
_TURTLE_STRING = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"} | {
    n: f"\\u{n:04X}" for n in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)
}
_XML_FORBIDDEN = (*range(9), 11, 12, *range(14, 32))  # no XML 1.0 document may hold these characters
_XML_TEXT = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord("\r"): "&#13;"} | dict.fromkeys(
    _XML_FORBIDDEN, "\ufffd"
)
_XML_ATTRIBUTE = _XML_TEXT | {ord('"'): "&quot;", ord("\n"): "&#10;", ord("\t"): "&#9;"}


def _expand(name: str) -> str:
    prefix, _, local = name.partition(":")
    return PREFIXES[prefix] + local


def _turtle_iri(value: str) -> str:
    return f"<{value.translate(_IRI_UNSAFE)}>"


def _turtle_object(term: "IRI | Text | Description", indent: str) -> str:
    if isinstance(term, IRI):
        return term.value if _is_name(term.value) else _turtle_iri(term.value)
    if isinstance(term, Text):
        quoted = f'"{term.value.translate(_TURTLE_STRING)}"'
        if term.language:
            return f"{quoted}@{term.language}"
        if term.datatype:
            return f"{quoted}^^{_turtle_iri(term.datatype)}"
        return quoted
    inner = indent + "    "
    return "[\n" + _turtle_properties(term, inner) + f"\n{indent}]"


def _turtle_properties(description: Description, indent: str) -> str:
    return " ;\n".join(
        f"{indent}{predicate} " + ", ".join(_turtle_object(term, indent) for term in objects)
        for predicate, objects in description.items()
        if objects
    )


def _turtle(document: Document) -> bytes:
    lines = [f"@prefix {prefix}: <{namespace}> ." for prefix, namespace in PREFIXES.items()]
    lines.append("")
    for subject, description in document.subjects.items():
        lines.append(f"{_turtle_iri(subject)}\n{_turtle_properties(description, '    ')} .\n")
    return "\n".join(lines).encode("utf-8")


def _json_object(term: "IRI | Text | Description") -> dict[str, object]:
    if isinstance(term, IRI):
        return {"@id": _expand(term.value) if _is_name(term.value) else term.value}
    if isinstance(term, Text):
        if term.language:
            return {"@value": term.value, "@language": term.language}
        if term.datatype:
            return {"@value": term.value, "@type": term.datatype}
        return {"@value": term.value}
    return _json_node(term)


def _is_name(value: str) -> bool:
    prefix, colon, local = value.partition(":")
    return bool(colon) and prefix in PREFIXES and "/" not in local


def _json_node(description: Description, subject: str | None = None) -> dict[str, object]:
    node: dict[str, object] = {} if subject is None else {"@id": subject}
    for predicate, objects in description.items():
        if predicate == "a":
            node["@type"] = [_expand(term.value) for term in objects if isinstance(term, IRI)]
        elif objects:
            node[predicate] = [_json_object(term) for term in objects]
    return node


def _json_ld(document: Document) -> bytes:
    graph = [_json_node(description, subject) for subject, description in document.subjects.items()]
    return json.dumps({"@context": PREFIXES, "@graph": graph}, ensure_ascii=False).encode("utf-8")


def _xml_properties(description: Description, indent: str, out: list[str]) -> None:
    for predicate, objects in description.items():
        name = "rdf:type" if predicate == "a" else predicate
        for term in objects:
            if isinstance(term, IRI):
                iri = _expand(term.value) if _is_name(term.value) else term.value
                out.append(f'{indent}<{name} rdf:resource="{iri.translate(_XML_ATTRIBUTE)}"/>')
            elif isinstance(term, Text):
                attribute = ""
                if term.language:
                    attribute = f' xml:lang="{term.language}"'
                elif term.datatype:
                    attribute = f' rdf:datatype="{term.datatype.translate(_XML_ATTRIBUTE)}"'
                out.append(f"{indent}<{name}{attribute}>{term.value.translate(_XML_TEXT)}</{name}>")
            else:
                out.append(f'{indent}<{name} rdf:parseType="Resource">')
                _xml_properties(term, indent + "  ", out)
                out.append(f"{indent}</{name}>")


def _rdf_xml(document: Document) -> bytes:
    namespaces = " ".join(f'xmlns:{prefix}="{namespace}"' for prefix, namespace in PREFIXES.items())
    out = ['<?xml version="1.0" encoding="utf-8"?>', f"<rdf:RDF {namespaces}>"]
    for subject, description in document.subjects.items():
        out.append(f'  <rdf:Description rdf:about="{subject.translate(_XML_ATTRIBUTE)}">')
        _xml_properties(description, "    ", out)
        out.append("  </rdf:Description>")
    out.append("</rdf:RDF>\n")
    return "\n".join(out).encode("utf-8")


def serialise(document: Document, extension: str) -> bytes:
    if extension == "ttl":
        return _turtle(document)
    if extension == "jsonld":
        return _json_ld(document)
    return _rdf_xml(document)
