"""A dataset's history: its notarised versions, one of them, and what changed between two.

Every change to a dataset writes a version (`service._new_version`): a snapshot of its metadata and of its
resources' SHA-256, notarised. Files are kept by their SHA-256, so an old version's files are still there to be
compared: the difference between two versions lists the metadata fields changed (old → new), the resources added,
removed and changed (by checksum), and, for a changed tabular resource (CSV, XLSX, a JSON array of objects), the
rows added, removed and changed (`row_diff`).
"""

import csv
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from segell.services.notary import api as notary
from segell.services.opendata import repository, row_diff, service
from segell.services.opendata.errors import NotFoundError, ValidationError
from segell.services.opendata.models import Dataset, DatasetVersion

#: Most rows listed for each kind (added, removed, changed) of one resource's difference; all are counted.
MAX_DIFF_ROWS = 1000
#: Most rows a file may have to be compared row by row: what bounds a difference's memory (a few hundred bytes a row).
MAX_COMPARED_ROWS = 1_000_000
#: Fields of a version's metadata that change with every version, and so say nothing about what changed.
_EVERY_VERSION = ("version", "metadata_modified")


def verification_url(context: service.Context, code: str) -> str:
    return f"{context.api_url}/verify/{code}"


def _version_number(params: Mapping[str, Any], name: str) -> int | None:
    if params.get(name) in (None, ""):
        return None
    return service._integer(params, name, 1, 1, 2**31 - 1)


def _version(context: service.Context, dataset: Dataset, number: int) -> DatasetVersion:
    version = repository.version_of(context.session, dataset_id=dataset.id, number=number)
    if version is None:
        raise NotFoundError(f"Dataset {dataset.name} has no version {number}; it has 1 to {dataset.version}.")
    return version


def _summary(context: service.Context, dataset: Dataset, version: DatasetVersion) -> dict[str, Any]:
    receipt = notary.receipt(context.session, dataset.administration_id, version.receipt_id)
    return {
        "version": version.number,
        "activity": version.activity,
        "created": service._ckan_time(version.created_at),
        "sha256": version.sha256,
        "receipt_id": receipt.id,
        "notarisation_status": receipt.status,
        "verification_code": receipt.verification_code,
        "verification_url": verification_url(context, receipt.verification_code),
    }


def _dataset_ref(dataset: Dataset) -> dict[str, str]:
    return {"id": dataset.id, "name": dataset.name}


def dataset_version_list(context: service.Context, params: Mapping[str, Any]) -> dict[str, Any]:
    """A dataset's versions, newest first (`limit`, `offset`)."""
    dataset = service._visible_dataset(context, service._param(params, "id"))
    limit = service._integer(params, "limit", 100, 1, 1000)
    offset = service._integer(params, "offset", 0, 0, 10**9)
    versions = repository.versions_of(context.session, dataset_id=dataset.id)
    return {
        "dataset": _dataset_ref(dataset),
        "count": len(versions),
        "versions": [_summary(context, dataset, version) for version in versions[offset : offset + limit]],
    }


def dataset_version_show(context: service.Context, params: Mapping[str, Any]) -> dict[str, Any]:
    """One version (`version`, the latest if absent): its snapshot, its resources and its notarisation."""
    dataset = service._visible_dataset(context, service._param(params, "id"))
    number = _version_number(params, "version") or dataset.version
    version = _version(context, dataset, number)
    receipt = notary.receipt(context.session, dataset.administration_id, version.receipt_id)
    return {
        "dataset": _dataset_ref(dataset),
        **_summary(context, dataset, version),
        "metadata": version.snapshot["metadata"],
        "resources": version.snapshot["resources"],
        "receipt": receipt.model_dump(mode="json", by_alias=True),
    }


def _metadata_changes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    fields = [name for name in new if name not in _EVERY_VERSION] + [name for name in old if name not in new]
    return {name: {"old": old.get(name), "new": new.get(name)} for name in fields if old.get(name) != new.get(name)}


def _rows(context: service.Context, old: dict[str, Any], new: dict[str, Any], limit: int) -> dict[str, Any]:
    """The rows a resource's file gained, lost and changed; `compared: false` and why when it cannot say."""
    try:
        before = row_diff.read_table(service._stored_path(context.files, old["sha256"]), old["format"])
        after = row_diff.read_table(service._stored_path(context.files, new["sha256"]), new["format"])
        schema = new.get("schema") or old.get("schema") or {}
        key = schema.get("primaryKey") or []
        difference = row_diff.diff_tables(
            before, after, schema_key=[key] if isinstance(key, str) else key, limit=limit, max_rows=MAX_COMPARED_ROWS
        )
    except row_diff.NotTabular as reason:
        return {"compared": False, "reason": str(reason)}
    except (OSError, UnicodeDecodeError, ValueError, csv.Error) as error:
        return {"compared": False, "reason": f"The file cannot be read as a table: {error}."}
    found = asdict(difference)
    return {
        "compared": True,
        "reason": None,
        "key": found["key"],
        "matched_by": found["matched_by"],
        "columns": {"added": found["columns_added"], "removed": found["columns_removed"]},
        "row_count": {"old": found["old_rows"], "new": found["new_rows"]},
        "added": {"count": found["added"], "rows": found["added_rows"]},
        "removed": {"count": found["removed"], "rows": found["removed_rows"]},
        "changed": {"count": found["changed"], "rows": found["changed_rows"]},
    }


def _resource_changes(
    context: service.Context, old: list[dict[str, Any]], new: list[dict[str, Any]], limit: int
) -> dict[str, Any]:
    before = {resource["id"]: resource for resource in old}
    after = {resource["id"]: resource for resource in new}
    changed = []
    for resource_id, resource in after.items():
        previous = before.get(resource_id)
        if previous is None or previous == resource:
            continue
        fields = {
            name: {"old": previous.get(name), "new": resource.get(name)}
            for name in dict.fromkeys([*resource, *previous])
            if name != "id" and previous.get(name) != resource.get(name)
        }
        tabular = (
            previous["sha256"] != resource["sha256"]
            and previous["format"] in row_diff.TABULAR_FORMATS
            and resource["format"] in row_diff.TABULAR_FORMATS
        )
        changed.append(
            {
                "id": resource_id,
                "name": resource["name"],
                "fields": fields,
                "rows": _rows(context, previous, resource, limit) if tabular else None,
            }
        )
    return {
        "added": [resource for resource_id, resource in after.items() if resource_id not in before],
        "removed": [resource for resource_id, resource in before.items() if resource_id not in after],
        "changed": changed,
    }


def dataset_version_diff(context: service.Context, params: Mapping[str, Any]) -> dict[str, Any]:
    """What changed from version `from_version` to `to_version` (by default the latest and the one before)."""
    dataset = service._visible_dataset(context, service._param(params, "id"))
    to_number = _version_number(params, "to_version") or dataset.version
    from_number = _version_number(params, "from_version") or max(to_number - 1, 1)
    limit = service._integer(params, "limit", MAX_DIFF_ROWS, 0, MAX_DIFF_ROWS)
    if from_number > to_number:
        raise ValidationError(fields={"from_version": [f"Must not be after to_version ({to_number})."]})
    old = _version(context, dataset, from_number)
    new = _version(context, dataset, to_number)
    return {
        "dataset": _dataset_ref(dataset),
        "from": _summary(context, dataset, old),
        "to": _summary(context, dataset, new),
        "metadata": _metadata_changes(old.snapshot["metadata"], new.snapshot["metadata"]),
        "resources": _resource_changes(context, old.snapshot["resources"], new.snapshot["resources"], limit),
    }
