"""The catalogue's rules: datasets and resources of an administration, a new notarised version for every change,
and the CKAN actions that read and change them.

Every change (`package_create`, `package_update`, `package_patch`, `package_delete`, `resource_create`,
`resource_update`, `resource_delete`) writes an immutable version of the dataset: its metadata and its resources'
SHA-256, hashed and notarised (kind ``dataset-version``) in the same transaction, derived from the previous
version's receipt.
"""

import hashlib
import json
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Row
from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.notary import api as notary
from segell.services.opendata import datastore, repository, search, search_repository
from segell.services.opendata.errors import (
    AuthorizationError,
    BadRequest,
    NotFoundError,
    SearchQueryError,
    ValidationError,
)
from segell.services.opendata.models import Dataset, DatasetVersion, Resource
from segell.services.opendata.schemas import DatasetFields, ResourceFields
from segell.services.opendata.uploads import Upload, check_content, resource_format
from segell.services.opendata.vocabularies import FORMATS, FREQUENCIES, FREQUENCY_URI, LICENCES, THEME_URI, THEMES

VERSION_KIND = "dataset-version"
CKAN_API_VERSION = 3


@dataclass
class Context:
    """Who asks, and where the catalogue keeps its files and is reached."""

    session: Session
    administration: Administration | None
    files: Path
    api_url: str
    upload: Upload | None = None
    #: Receipts the next versions are also made from, besides the dataset's previous version (a submission's).
    derived_from: tuple[str, ...] = ()


def _field_errors(error: PydanticValidationError) -> ValidationError:
    fields: dict[str, list[str]] = {}
    for problem in error.errors():
        location = ".".join(str(part) for part in problem["loc"]) or "__all__"
        fields.setdefault(location, []).append(problem["msg"])
    return ValidationError(fields=fields)


def _ckan_time(moment: datetime) -> str:
    # CKAN answers naive UTC timestamps.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


@dataclass(frozen=True)
class _Publisher:
    """What a package dict shows of its administration, when read with the dataset (`repository.shown_datasets`)."""

    code: str
    name: str
    admitted_at: datetime


def _organization(administration: Administration | _Publisher, package_count: int | None = None) -> dict[str, Any]:
    organization = {
        "id": administration.code.lower(),
        "name": administration.code.lower(),
        "title": administration.name,
        "display_name": administration.name,
        "description": "",
        "image_url": "",
        "type": "organization",
        "is_organization": True,
        "state": "active",
        "approval_status": "approved",
        "created": _ckan_time(administration.admitted_at),
    }
    if package_count is not None:
        organization["package_count"] = package_count
    return organization


def _group(theme: str, package_count: int | None = None) -> dict[str, Any]:
    group = {
        "id": theme.lower(),
        "name": theme.lower(),
        "title": THEMES[theme]["en"],
        "title_translated": THEMES[theme],
        "display_name": THEMES[theme]["en"],
        "description": "",
        "type": "group",
        "is_organization": False,
        "state": "active",
        "uri": THEME_URI + theme,
    }
    if package_count is not None:
        group["package_count"] = package_count
    return group


def _format_name(file_format: str) -> str:
    return "GeoJSON" if file_format == "GEOJSON" else file_format


def _resource_dict(
    context: Context, dataset: Dataset | Row[Any], resource: Resource | Row[Any], registry: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A resource's dict; `registry` is what it says of its datastore when the caller has read it
    (`datastore.registry_fields`), else it is looked up."""
    return {
        "id": resource.id,
        "package_id": dataset.id,
        "name": resource.name,
        "description": resource.description,
        "format": _format_name(resource.format),
        "mimetype": FORMATS[resource.format],
        "url": f"{context.api_url}/dataset/{dataset.id}/resource/{resource.id}/download/{resource.filename}",
        "url_type": "upload",
        "hash": resource.sha256,
        "hash_algorithm": "SHA-256",
        "size": resource.size,
        "schema": resource.table_schema,
        "position": resource.position,
        "state": "active",
        "created": _ckan_time(resource.created_at),
        "last_modified": _ckan_time(resource.modified_at),
        "metadata_modified": _ckan_time(resource.modified_at),
        **(registry if registry is not None else datastore.resource_fields(context.session, resource.id)),
    }


def package_dict(
    context: Context,
    dataset: Dataset | Row[Any],
    resources: Sequence[Resource | Row[Any]],
    administration: Administration | _Publisher,
    code: str | None,
    registries: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A dataset's CKAN dict, from its ORM object or a plain row of its columns (and so its resources);
    `registries` are what each resource says of its datastore, when the caller has read it."""
    licence_title, licence_url = LICENCES[dataset.licence]
    tags = [
        {"name": keyword, "display_name": keyword, "state": "active", "vocabulary_id": None}
        for keyword in dataset.keywords
    ]
    return {
        "id": dataset.id,
        "name": dataset.name,
        "type": "dataset",
        "title": dataset.title["ca"],
        "title_translated": dataset.title,
        "notes": dataset.description["ca"],
        "notes_translated": dataset.description,
        "owner_org": administration.code.lower(),
        "organization": _organization(administration),
        "publisher_name": administration.name,
        "author": None,
        "maintainer": None,
        "private": dataset.private,
        "state": dataset.state,
        "license_id": dataset.licence,
        "license_title": licence_title,
        "license_url": licence_url,
        "theme": [THEME_URI + theme for theme in dataset.themes],
        "groups": [_group(theme) for theme in dataset.themes],
        "tags": tags,
        "num_tags": len(tags),
        "temporal_start": dataset.temporal_start.isoformat() if dataset.temporal_start else None,
        "temporal_end": dataset.temporal_end.isoformat() if dataset.temporal_end else None,
        "spatial_uri": dataset.spatial,
        "frequency": FREQUENCY_URI + dataset.frequency if dataset.frequency else None,
        "resources": [
            _resource_dict(context, dataset, resource, registries[position] if registries is not None else None)
            for position, resource in enumerate(resources)
        ],
        "num_resources": len(resources),
        "extras": [],
        "version": str(dataset.version),
        "verification_code": code,
        "metadata_created": _ckan_time(dataset.created_at),
        "metadata_modified": _ckan_time(dataset.modified_at),
    }


# -- reading ---------------------------------------------------------------------------------------------------


def _param(params: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise ValidationError(fields={name: ["Missing value"]})
        return ""
    if not isinstance(value, str):
        raise ValidationError(fields={name: ["Must be a string"]})
    return value


def _integer(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool):
        raise ValidationError(fields={name: ["Invalid integer"]})
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError(fields={name: ["Invalid integer"]}) from None
    if not low <= number <= high:
        raise ValidationError(fields={name: [f"Must be between {low} and {high}"]})
    return number


def _boolean(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no", "on", "off", ""):
        return value.lower() in ("true", "1", "yes", "on")
    raise ValidationError(fields={name: ["Must be true or false"]})


def _may_see(context: Context, dataset: Dataset) -> bool:
    if dataset.state != "active":
        return context.administration is not None and context.administration.id == dataset.administration_id
    return not dataset.private or (
        context.administration is not None and context.administration.id == dataset.administration_id
    )


def _visible_dataset(context: Context, id_or_name: str) -> Dataset:
    dataset = repository.dataset_by_id_or_name(context.session, id_or_name=id_or_name)
    if dataset is None or not _may_see(context, dataset):
        raise NotFoundError("Not found")
    return dataset


def _current_code(context: Context, dataset: Dataset) -> str | None:
    version = repository.latest_version(context.session, dataset_id=dataset.id)
    if version is None:
        return None
    return notary.receipt(context.session, dataset.administration_id, version.receipt_id).verification_code


def _packages(
    context: Context, datasets: list[Dataset], codes: Mapping[str, str | None] | None = None
) -> list[dict[str, Any]]:
    """The package dicts of `datasets`, in three queries; `codes` are their current versions' verification codes
    when the caller has them (the search index holds them), else they are looked up one by one."""
    resources: dict[str, list[Resource]] = {}
    for resource in repository.resources_of(context.session, dataset_ids=[dataset.id for dataset in datasets]):
        resources.setdefault(resource.dataset_id, []).append(resource)
    datastore.preload(context.session, [r.id for rs in resources.values() for r in rs])
    publishers = {
        administration.id: administration
        for administration in repository.administrations(
            context.session, ids=sorted({dataset.administration_id for dataset in datasets})
        )
    }
    return [
        package_dict(
            context,
            dataset,
            resources.get(dataset.id, []),
            publishers[dataset.administration_id],
            codes[dataset.id] if codes is not None else _current_code(context, dataset),
        )
        for dataset in datasets
    ]


def _shown_packages(context: Context, found: search_repository.SearchResult) -> list[bytes]:
    """The packages of the page `found` names (with their current versions' verification codes) as JSON, in its
    order: those this process has shown before as it kept them (by search entry), the others read in two
    statements as plain rows."""
    shown = search_repository.shown_entries(context.session)
    held = shown.held(found.page_entries, context.api_url)
    entry_of = {
        dataset_id: entry_id
        for entry_id, (dataset_id, _) in zip(found.page_entries, found.page, strict=True)
        if entry_id not in held
    }
    codes = {dataset_id: code for dataset_id, code in found.page if dataset_id in entry_of}
    resources: dict[str, list[Row[Any]]] = {}
    for resource in repository.shown_resources(context.session, dataset_ids=list(codes)):
        resources.setdefault(resource.dataset_id, []).append(resource)
    publishers: dict[int, _Publisher] = {}
    read: dict[int, bytes] = {}
    for dataset in repository.shown_datasets(context.session, ids=list(codes)):
        if dataset.administration_id not in publishers:
            publishers[dataset.administration_id] = _Publisher(
                dataset.publisher_code, dataset.publisher_name, dataset.publisher_admitted_at
            )
        held_resources = resources.get(dataset.id, [])
        registries = [
            datastore.registry_fields(resource if resource.datastore_resource_id is not None else None)
            for resource in held_resources
        ]
        publisher = publishers[dataset.administration_id]
        read[entry_of[dataset.id]] = encoded(
            package_dict(context, dataset, held_resources, publisher, codes[dataset.id], registries)
        )
    shown.keep(read, context.api_url)
    held.update(read)
    return [held[entry_id] for entry_id in found.page_entries if entry_id in held]


def package_show(context: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    dataset = _visible_dataset(context, _param(params, "id"))
    return _packages(context, [dataset])[0]


def package_list(context: Context, params: Mapping[str, Any]) -> list[str]:
    limit = _integer(params, "limit", 1000, 0, 100_000)
    offset = _integer(params, "offset", 0, 0, 10**9)
    names = [
        dataset.name
        for dataset in repository.visible_datasets(context.session, administration_id=None, include_private=False)
    ]
    return names[offset : offset + limit]


def resource_show(context: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    resource = repository.resource_by_id(context.session, resource_id=_param(params, "id"))
    if resource is None:
        raise NotFoundError("Resource was not found.")
    dataset = _visible_dataset(context, resource.dataset_id)
    return _resource_dict(context, dataset, resource)


def resource_file(context: Context, dataset_id: str, resource_id: str) -> tuple[Path, str]:
    """The stored file of a resource a caller may see, and its media type."""
    resource = repository.resource_by_id(context.session, resource_id=resource_id)
    if resource is None or resource.dataset_id != dataset_id:
        raise NotFoundError("Resource was not found.")
    _visible_dataset(context, dataset_id)
    return _stored_path(context.files, resource.sha256), FORMATS[resource.format]


def _facet_fields(params: Mapping[str, Any]) -> list[str]:
    value = params.get("facet.field", [])
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except ValueError:
            raise ValidationError(fields={"facet.field": ["Must be a JSON list of field names"]}) from None
    if not isinstance(value, list) or not all(isinstance(field, str) for field in value):
        raise ValidationError(fields={"facet.field": ["Must be a JSON list of field names"]})
    unknown = [field for field in value if field not in search.FACET_FIELDS]
    if unknown:
        raise SearchQueryError(f"Cannot facet on {', '.join(unknown)}; use {', '.join(search.FACET_FIELDS)}.")
    return list(dict.fromkeys(value))


def _filters(params: Mapping[str, Any]) -> list[str]:
    """`fq` and each of `fq_list` (a list, or a JSON list in a query string)."""
    filters = [_param(params, "fq", required=False)]
    listed = params.get("fq_list", [])
    if isinstance(listed, str):
        try:
            listed = json.loads(listed) if listed.strip() else []
        except ValueError:
            listed = [listed]
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        raise ValidationError(fields={"fq_list": ["Must be a list of filters"]})
    return [text for text in [*filters, *listed] if text.strip()]


def _display_name(field: str, name: str) -> str:
    if field == "groups" and name.upper() in THEMES:
        return THEMES[name.upper()]["en"]
    if field == "frequency" and name in FREQUENCIES:
        return FREQUENCIES[name]["en"]
    return name


def _search_request(context: Context, params: Mapping[str, Any]) -> search.SearchRequest:
    phrases, terms = search.parse(_param(params, "q", required=False), "q")
    for text in _filters(params):
        terms.extend(search.parse(text, "fq")[1])
    include_private = _boolean(params, "include_private")
    return search.SearchRequest(
        phrases=tuple(phrases),
        terms=tuple(terms),
        order=tuple(search.order(_param(params, "sort", required=False) or search.DEFAULT_SORT)),
        rows=_integer(params, "rows", 10, 0, 1000),
        start=_integer(params, "start", 0, 0, 10**9),
        facet_fields=tuple(_facet_fields(params)),
        facet_limit=_integer(params, "facet.limit", 50, -1, 10_000),
        facet_mincount=_integer(params, "facet.mincount", 1, 0, 10**9),
        private_of=context.administration.id if include_private and context.administration is not None else None,
    )


@dataclass(frozen=True)
class SearchAnswer:
    """`package_search`'s result, its packages as the JSON this process keeps of them: spliced into the answer as
    they are (`encoded`) rather than decoded into dicts and encoded again."""

    count: int
    packages: list[bytes]
    facets: dict[str, dict[str, int]]
    search_facets: dict[str, dict[str, Any]]
    sort: str

    def encoded(self) -> bytes:
        """The result as JSON: ``{"count", "results", "facets", "search_facets", "sort"}``."""
        return b"".join(
            (
                b'{"count":',
                encoded(self.count),
                b',"results":[',
                b",".join(self.packages),
                b'],"facets":',
                encoded(self.facets),
                b',"search_facets":',
                encoded(self.search_facets),
                b',"sort":',
                encoded(self.sort),
                b"}",
            )
        )


#: As Starlette's `JSONResponse` writes JSON (compact, UTF-8), made once rather than by each `json.dumps`.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def encoded(result: Any) -> bytes:
    """An action's result as the JSON of an answer's ``result``."""
    if isinstance(result, SearchAnswer):
        return result.encoded()
    return _ENCODER.encode(result).encode()


def package_search(context: Context, params: Mapping[str, Any]) -> SearchAnswer:
    """Datasets found by the search index (`search_repository.search`); of the page, only the datasets this
    process has not shown before are read."""
    request = _search_request(context, params)
    found = search_repository.search(context.session, request)
    search_facets = {
        field: {
            "title": field,
            "items": [
                {"name": name, "display_name": _display_name(field, name), "count": count} for name, count in items
            ],
        }
        for field, items in found.facets.items()
    }
    return SearchAnswer(
        count=found.count,
        packages=_shown_packages(context, found),
        facets={field: dict(items) for field, items in found.facets.items()},
        search_facets=search_facets,
        sort=_param(params, "sort", required=False) or search.DEFAULT_SORT,
    )


def organization_list(context: Context, params: Mapping[str, Any]) -> list[Any]:
    counts = repository.dataset_counts_by_administration(context.session)
    organizations = repository.administrations(context.session)
    if _boolean(params, "all_fields"):
        return [_organization(administration, counts.get(administration.id, 0)) for administration in organizations]
    return [administration.code.lower() for administration in organizations]


def organization_show(context: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    administration = repository.administration_by_code(context.session, code=_param(params, "id"))
    if administration is None:
        raise NotFoundError("Organization was not found.")
    count = repository.dataset_counts_by_administration(context.session).get(administration.id, 0)
    return _organization(administration, count)


def _theme_counts(context: Context) -> Counter[str]:
    datasets = repository.visible_datasets(context.session, administration_id=None, include_private=False)
    return Counter(theme for dataset in datasets for theme in dataset.themes)


def group_list(context: Context, params: Mapping[str, Any]) -> list[Any]:
    if _boolean(params, "all_fields"):
        counts = _theme_counts(context)
        return [_group(theme, counts.get(theme, 0)) for theme in THEMES]
    return [theme.lower() for theme in THEMES]


def group_show(context: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    theme = _param(params, "id").removeprefix(THEME_URI).upper()
    if theme not in THEMES:
        raise NotFoundError("Group was not found.")
    return _group(theme, _theme_counts(context).get(theme, 0))


def tag_list(context: Context, params: Mapping[str, Any]) -> list[str]:
    query = _param(params, "query", required=False).lower()
    datasets = repository.visible_datasets(context.session, administration_id=None, include_private=False)
    return sorted({keyword for dataset in datasets for keyword in dataset.keywords if query in keyword.lower()})


def package_activity_list(context: Context, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The dataset's versions, newest first, each with its notarisation."""
    dataset = _visible_dataset(context, _param(params, "id"))
    limit = _integer(params, "limit", 31, 1, 1000)
    offset = _integer(params, "offset", 0, 0, 10**9)
    versions = repository.versions_of(context.session, dataset_id=dataset.id)[offset : offset + limit]
    activities = []
    for version in versions:
        receipt = notary.receipt(context.session, dataset.administration_id, version.receipt_id)
        activities.append(
            {
                "id": f"{dataset.id}-{version.number}",
                "timestamp": _ckan_time(version.created_at),
                "object_id": dataset.id,
                "activity_type": version.activity,
                "version": version.number,
                "sha256": version.sha256,
                "receipt_id": receipt.id,
                "verification_code": receipt.verification_code,
                "verification_url": f"{context.api_url}/verify/{receipt.verification_code}",
                "notarisation_status": receipt.status,
                "data": {"package": version.snapshot},
            }
        )
    return activities


def status_show(context: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    from segell.services import __version__

    return {
        "site_title": "Segell open data",
        "site_url": context.api_url,
        "site_description": "A CKAN-compatible catalogue whose every dataset version is notarised on chain.",
        "ckan_version": "2.11.0",
        "segell_version": __version__,
        "api_version": CKAN_API_VERSION,
        "locale_default": "ca",
        "extensions": ["dcat", "fluent"],
    }


def site_read(context: Context, params: Mapping[str, Any]) -> bool:
    return True


# -- changing --------------------------------------------------------------------------------------------------


def _publisher(context: Context) -> Administration:
    if context.administration is None:
        raise AuthorizationError("Send an administration's API key in Authorization or X-CKAN-API-Key.")
    return context.administration


def _own_dataset(context: Context, id_or_name: str) -> Dataset:
    publisher = _publisher(context)
    dataset = repository.dataset_by_id_or_name(context.session, id_or_name=id_or_name, for_update=True)
    if dataset is None or (dataset.private and dataset.administration_id != publisher.id):
        raise NotFoundError("Not found")
    if dataset.administration_id != publisher.id:
        raise AuthorizationError(f"Dataset {dataset.name} belongs to another administration; only it may change it.")
    return dataset


def _check_owner_org(context: Context, fields: DatasetFields) -> None:
    publisher = _publisher(context)
    if fields.owner_org is not None and fields.owner_org.lower() != publisher.code.lower():
        raise AuthorizationError(f"An administration publishes in its own organization, {publisher.code.lower()}.")


def _apply(dataset: Dataset, fields: DatasetFields) -> None:
    dataset.name = fields.name
    dataset.title = fields.title_translated.model_dump()
    dataset.description = fields.notes_translated.model_dump()
    dataset.themes = fields.theme
    dataset.keywords = sorted({tag.name for tag in fields.tags})
    dataset.licence = fields.license_id
    dataset.temporal_start = fields.temporal_start
    dataset.temporal_end = fields.temporal_end
    dataset.spatial = fields.spatial_uri
    dataset.frequency = fields.frequency
    dataset.private = fields.private
    texts = [fields.name, *dataset.title.values(), *dataset.description.values(), *dataset.keywords]
    dataset.search_text = " ".join(texts).lower()


def _dataset_fields(values: Mapping[str, Any]) -> DatasetFields:
    try:
        return DatasetFields.model_validate(values)
    except PydanticValidationError as error:
        raise _field_errors(error) from None


def _new_version(context: Context, dataset: Dataset, activity: str) -> dict[str, Any]:
    """Record what the dataset is now as its next version, notarised and derived from the one before."""
    now = datetime.now(UTC)
    dataset.version += 1
    dataset.modified_at = now
    context.session.flush()
    resources = repository.resources_of(context.session, dataset_ids=[dataset.id])
    publisher = _publisher(context)
    package = package_dict(context, dataset, resources, publisher, None)
    snapshot = {
        "dataset": dataset.id,
        "version": dataset.version,
        "activity": activity,
        "publisher": publisher.code,
        "recorded_at": now.isoformat(),
        "metadata": {key: value for key, value in package.items() if key not in ("resources", "verification_code")},
        "resources": [
            {"id": r.id, "name": r.name, "format": r.format, "size": r.size, "sha256": r.sha256}
            | ({"schema": r.table_schema} if r.table_schema is not None else {})
            for r in resources
        ],
    }
    digest = hashlib.sha256(json.dumps(snapshot, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    previous = repository.latest_version(context.session, dataset_id=dataset.id)
    receipt = notary.notarise(
        context.session,
        publisher.id,
        digest,
        kind=VERSION_KIND,
        title=f"{dataset.title['ca']} (v{dataset.version})",
        metadata={"dataset": dataset.name, "version": dataset.version},
        public=not dataset.private,
        derived_from=([previous.receipt_id] if previous is not None else []) + list(context.derived_from),
    )
    context.session.add(
        DatasetVersion(
            dataset_id=dataset.id,
            number=dataset.version,
            activity=activity,
            snapshot=snapshot,
            sha256=digest,
            receipt_id=receipt.id,
            created_at=now,
        )
    )
    context.session.flush()
    package["verification_code"] = receipt.verification_code
    _index(context, dataset, resources, publisher, receipt.verification_code)
    return package


def _index(
    context: Context, dataset: Dataset, resources: list[Resource], publisher: Administration, code: str | None
) -> None:
    """Bring the dataset's search entry up to date, in the change's transaction."""
    if dataset.state != "active":
        search_repository.unindex(context.session, [dataset.id])
        return
    search_repository.index(context.session, [search_entry(dataset, resources, publisher, code)])


def search_entry(
    dataset: Dataset, resources: list[Resource], publisher: Administration, code: str | None
) -> search.IndexEntry:
    """What the search index holds of an active dataset."""
    return search.index_entry(
        dataset_id=dataset.id,
        administration_id=dataset.administration_id,
        private=dataset.private,
        name=dataset.name,
        titles=dataset.title,
        descriptions=dataset.description,
        keywords=dataset.keywords,
        organization=publisher.code.lower(),
        organization_name=publisher.name,
        themes=dataset.themes,
        formats=[_format_name(resource.format) for resource in resources],
        licence=dataset.licence,
        frequency=dataset.frequency,
        created_at=dataset.created_at,
        modified_at=dataset.modified_at,
        verification_code=code,
    )


def index_missing(session: Session) -> int:
    """Index the active datasets the search index lacks (those published before it existed); how many."""
    missing = repository.unindexed_datasets(session)
    for start in range(0, len(missing), 1000):
        chunk = missing[start : start + 1000]
        resources: dict[str, list[Resource]] = {}
        for resource in repository.resources_of(session, dataset_ids=[dataset.id for dataset in chunk]):
            resources.setdefault(resource.dataset_id, []).append(resource)
        publishers = {
            administration.id: administration
            for administration in repository.administrations(
                session, ids=sorted({dataset.administration_id for dataset in chunk})
            )
        }
        entries = []
        for dataset in chunk:
            version = repository.latest_version(session, dataset_id=dataset.id)
            code = None
            if version is not None:
                code = notary.receipt(session, dataset.administration_id, version.receipt_id).verification_code
            publisher = publishers[dataset.administration_id]
            entries.append(search_entry(dataset, resources.get(dataset.id, []), publisher, code))
        search_repository.index(session, entries)
    return len(missing)


def package_create(context: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    fields = _dataset_fields(params)
    _check_owner_org(context, fields)
    if params.get("resources"):
        raise ValidationError(
            fields={"resources": ["Add each resource with resource_create and its file in `upload`."]}
        )
    if repository.name_taken(context.session, name=fields.name):
        raise ValidationError(fields={"name": ["That URL is already in use."]})
    dataset = Dataset(id=str(uuid.uuid4()), administration_id=_publisher(context).id, state="active", version=0)
    _apply(dataset, fields)
    context.session.add(dataset)
    return _new_version(context, dataset, "new package")


def _update(context: Context, dataset: Dataset, values: Mapping[str, Any]) -> dict[str, Any]:
    fields = _dataset_fields(values)
    _check_owner_org(context, fields)
    if repository.name_taken(context.session, name=fields.name, other_than=dataset.id):
        raise ValidationError(fields={"name": ["That URL is already in use."]})
    _apply(dataset, fields)
    return _new_version(context, dataset, "changed package")


def _current_values(dataset: Dataset) -> dict[str, Any]:
    return {
        "name": dataset.name,
        "title_translated": dataset.title,
        "notes_translated": dataset.description,
        "theme": dataset.themes,
        "tags": [{"name": keyword} for keyword in dataset.keywords],
        "license_id": dataset.licence,
        "temporal_start": dataset.temporal_start,
        "temporal_end": dataset.temporal_end,
        "spatial_uri": dataset.spatial,
        "frequency": dataset.frequency,
        "private": dataset.private,
    }


def package_update(context: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    dataset = _own_dataset(context, _param(params, "id", required=False) or _param(params, "name"))
    return _update(context, dataset, params)


def package_patch(context: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    dataset = _own_dataset(context, _param(params, "id", required=False) or _param(params, "name"))
    changes = {key: value for key, value in params.items() if key != "id"}
    return _update(context, dataset, {**_current_values(dataset), **changes})


def package_delete(context: Context, params: Mapping[str, Any]) -> None:
    dataset = _own_dataset(context, _param(params, "id"))
    if dataset.state != "deleted":
        dataset.state = "deleted"
        _new_version(context, dataset, "deleted package")
    return None


def _stored_path(files: Path, sha256: str) -> Path:
    return files / "resources" / sha256[:2] / sha256


def _store(context: Context, upload: Upload, declared_format: str | None) -> str:
    file_format = resource_format(declared_format, upload.filename)
    check_content(upload.path, file_format)
    target = _stored_path(context.files, upload.sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        upload.path.unlink(missing_ok=True)
    else:
        shutil.move(upload.path, target)
    return file_format


def _resource_fields(params: Mapping[str, Any]) -> ResourceFields:
    try:
        return ResourceFields.model_validate(params)
    except PydanticValidationError as error:
        raise _field_errors(error) from None


def _safe_filename(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:200].strip("._")
    return cleaned or "file"


def resource_create(context: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    dataset = _own_dataset(context, _param(params, "package_id"))
    fields = _resource_fields(params)
    if context.upload is None:
        raise ValidationError(fields={"upload": ["Send the file as the multipart part `upload`."]})
    upload = context.upload
    file_format = _store(context, upload, fields.format)
    resource = Resource(
        id=str(uuid.uuid4()),
        dataset_id=dataset.id,
        position=repository.next_resource_position(context.session, dataset_id=dataset.id),
        name=fields.name or upload.filename,
        description=fields.description,
        format=file_format,
        filename=_safe_filename(upload.filename),
        size=upload.size,
        sha256=upload.sha256,
        table_schema=fields.table_schema,
    )
    context.session.add(resource)
    _load_datastore(context, resource)
    _new_version(context, dataset, "changed package")
    return _resource_dict(context, dataset, resource)


def _load_datastore(context: Context, resource: Resource) -> None:
    """Load a tabular resource's rows into its datastore table (a file replaced drops the old table first)."""
    path = _stored_path(context.files, resource.sha256)
    datastore.load(
        context.session,
        resource_id=resource.id,
        path=path,
        file_format=resource.format,
        sha256=resource.sha256,
        table_schema=resource.table_schema,
    )


def _own_resource(context: Context, params: Mapping[str, Any]) -> tuple[Dataset, Resource]:
    resource = repository.resource_by_id(context.session, resource_id=_param(params, "id"))
    if resource is None:
        raise NotFoundError("Resource was not found.")
    return _own_dataset(context, resource.dataset_id), resource


def resource_update(context: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    dataset, resource = _own_resource(context, params)
    fields = _resource_fields(params)
    if context.upload is not None:
        upload = context.upload
        resource.format = _store(context, upload, fields.format)
        resource.filename = _safe_filename(upload.filename)
        resource.size, resource.sha256 = upload.size, upload.sha256
        _load_datastore(context, resource)
    elif fields.format is not None and resource_format(fields.format, "") != resource.format:
        raise ValidationError(fields={"format": ["Send the file again to change its format."]})
    resource.name = fields.name or resource.name
    if "description" in params:
        resource.description = fields.description
    if "schema" in params:
        resource.table_schema = fields.table_schema
    resource.modified_at = datetime.now(UTC)
    _new_version(context, dataset, "changed package")
    return _resource_dict(context, dataset, resource)


def resource_delete(context: Context, params: Mapping[str, Any]) -> None:
    dataset, resource = _own_resource(context, params)
    datastore.drop(context.session, resource_id=resource.id)
    context.session.delete(resource)
    context.session.flush()
    _new_version(context, dataset, "changed package")
    return None


def datastore_search(context: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    resource = repository.resource_by_id(context.session, resource_id=_param(params, "resource_id"))
    if resource is None:
        raise NotFoundError("Resource was not found.")
    _visible_dataset(context, resource.dataset_id)
    return datastore.search(context.session, resource.id, params, context.api_url)


def datastore_info(context: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    resource_id = _param(params, "resource_id", required=False) or _param(params, "id")
    resource = repository.resource_by_id(context.session, resource_id=resource_id)
    if resource is None:
        raise NotFoundError("Resource was not found.")
    _visible_dataset(context, resource.dataset_id)
    return datastore.info(context.session, resource.id)


def datastore_dump_header(context: Context, resource_id: str) -> list[dict[str, Any]]:
    """The fields of a visible resource's datastore table, for a dump."""
    resource = repository.resource_by_id(context.session, resource_id=resource_id)
    if resource is None:
        raise NotFoundError("Resource was not found.")
    _visible_dataset(context, resource.dataset_id)
    return datastore.dump_header(context.session, resource.id)


# -- the actions -----------------------------------------------------------------------------------------------

Action = Callable[[Context, Mapping[str, Any]], Any]


@dataclass(frozen=True)
class ActionSpec:
    run: Action
    writes: bool
    help: str


def _versions_action(name: str) -> Action:
    def run(context: Context, params: Mapping[str, Any]) -> Any:
        from segell.services.opendata import versions  # it builds on this module's helpers

        return getattr(versions, name)(context, params)

    return run


def help_show(context: Context, params: Mapping[str, Any]) -> str:
    name = _param(params, "name")
    if name not in ACTIONS:
        raise NotFoundError(f"Action {name!r} not found.")
    return ACTIONS[name].help


ACTIONS: dict[str, ActionSpec] = {
    "status_show": ActionSpec(status_show, False, "The site's title, URL and CKAN API version."),
    "site_read": ActionSpec(site_read, False, "Whether the catalogue may be read: always true."),
    "package_list": ActionSpec(package_list, False, "The names of the public datasets (`limit`, `offset`)."),
    "package_show": ActionSpec(package_show, False, "A dataset by its `id` or name."),
    "package_search": ActionSpec(
        package_search,
        False,
        "Datasets matching `q` and `fq` (field:value terms on organization, groups, tags, res_format, license_id,"
        " frequency, name), `rows` (at most 1000) from `start`, in `sort` order, with `facet.field` counts.",
    ),
    "resource_show": ActionSpec(resource_show, False, "A resource by its `id`."),
    "organization_list": ActionSpec(organization_list, False, "The publishing administrations (`all_fields`)."),
    "organization_show": ActionSpec(organization_show, False, "An administration by its `id` (its code)."),
    "group_list": ActionSpec(group_list, False, "The EU data themes (`all_fields`)."),
    "group_show": ActionSpec(group_show, False, "An EU data theme by its `id` (gove, econ, ...)."),
    "tag_list": ActionSpec(tag_list, False, "The keywords of the public datasets (`query`)."),
    "package_activity_list": ActionSpec(
        package_activity_list, False, "A dataset's versions, newest first, each with its verification code."
    ),
    "dataset_version_list": ActionSpec(
        _versions_action("dataset_version_list"),
        False,
        "A dataset's (`id`) notarised versions, newest first (`limit`, `offset`), each with its verification code"
        " and URL.",
    ),
    "dataset_version_show": ActionSpec(
        _versions_action("dataset_version_show"),
        False,
        "One version (`version`, the latest if absent) of a dataset (`id`): its metadata, its resources with their"
        " SHA-256, its notarised receipt and verification code.",
    ),
    "dataset_version_diff": ActionSpec(
        _versions_action("dataset_version_diff"),
        False,
        "What changed in a dataset (`id`) from `from_version` to `to_version` (the latest and the one before if"
        " absent): metadata fields old and new, resources added, removed and changed, and for tables (CSV, XLSX,"
        " JSON arrays of objects) the rows added, removed and changed, at most `limit` (1000) of each listed.",
    ),
    "help_show": ActionSpec(help_show, False, "What an action (`name`) does."),
    "package_create": ActionSpec(package_create, True, "Create a dataset of the caller's administration."),
    "package_update": ActionSpec(package_update, True, "Replace a dataset's metadata."),
    "package_patch": ActionSpec(package_patch, True, "Change some of a dataset's metadata."),
    "package_delete": ActionSpec(package_delete, True, "Delete a dataset (its versions stay)."),
    "resource_create": ActionSpec(resource_create, True, "Add a file (`upload`, multipart) to a dataset."),
    "resource_update": ActionSpec(resource_update, True, "Change a resource, or replace its file."),
    "resource_delete": ActionSpec(resource_delete, True, "Remove a resource from a dataset."),
    "datastore_search": ActionSpec(
        datastore_search,
        False,
        "Rows of a resource's datastore table (`resource_id`): `filters` (field: value or values), `q` (words, or"
        ' field: words), `fields`, `sort` ("field asc, other desc"), `limit` (at most 32000), `offset`,'
        " `include_total`.",
    ),
    "datastore_info": ActionSpec(
        datastore_info, False, "A resource's datastore table (`id`): its row count, Table Schema and load report."
    ),
}


def run_action(context: Context, name: str, params: Mapping[str, Any], *, posted: bool) -> Any:
    spec = ACTIONS.get(name)
    if spec is None:
        raise BadRequest(f"Action name not known: {name}")
    if spec.writes and not posted:
        raise BadRequest(f"{name} changes the catalogue: send it as a POST.")
    if spec.writes:
        _publisher(context)
    return spec.run(context, params)


def stored_path(files: Path, sha256: str) -> Path:
    """Where the catalogue keeps the file with this SHA-256 (every file a resource ever held stays there)."""
    return _stored_path(files, sha256)
