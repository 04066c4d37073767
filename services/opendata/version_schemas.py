"""What the versions routes answer (`/v1/opendata/datasets/{id}/versions...`): the same results as the actions
`dataset_version_list`, `dataset_version_show` and `dataset_version_diff`, without CKAN's envelope."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from segell.services.notary.api import Receipt


class DatasetRef(BaseModel):
    id: str
    name: str


class VersionSummary(BaseModel):
    version: int = Field(description="1 for the dataset's creation, one more for each change.")
    activity: str = Field(description="`new package`, `changed package` or `deleted package`, as CKAN names them.")
    created: str = Field(description="When the version was recorded: UTC, ISO 8601 without a zone, as CKAN answers.")
    sha256: str = Field(description="SHA-256 of the version's snapshot, the hash notarised.")
    receipt_id: str
    notarisation_status: Literal["pending", "anchored", "revoked"]
    verification_code: str
    verification_url: str = Field(description="The citizen verification page of this version, `/verify/{code}`.")


class VersionList(BaseModel):
    dataset: DatasetRef
    count: int = Field(description="How many versions the dataset has.")
    versions: list[VersionSummary] = Field(description="Newest first.")


class VersionResource(BaseModel):
    """A resource as a version recorded it."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: str
    name: str
    format: str = Field(description="CSV, JSON, XLSX or GEOJSON.")
    size: int
    sha256: str = Field(description="The file's SHA-256, its checksum.")
    table_schema: dict[str, Any] | None = Field(default=None, alias="schema", description="Its Table Schema, if any.")


class VersionDetail(VersionSummary):
    dataset: DatasetRef
    metadata: dict[str, Any] = Field(description="The dataset's metadata as `package_show` answered it then.")
    resources: list[VersionResource]
    receipt: Receipt = Field(description="The notary's receipt for the version's hash.")


class FieldChange(BaseModel):
    old: Any
    new: Any


class ColumnChanges(BaseModel):
    added: list[str]
    removed: list[str]


class RowCount(BaseModel):
    old: int
    new: int


class Rows(BaseModel):
    count: int = Field(description="How many rows; at most `limit` of them are listed.")
    rows: list[dict[str, Any]] = Field(description="Each row, column → value.")


class ChangedRow(BaseModel):
    key: dict[str, Any] = Field(description="The row's key columns and their values.")
    changes: dict[str, FieldChange] = Field(description="Each column whose value changed.")


class ChangedRows(BaseModel):
    count: int
    rows: list[ChangedRow]


class RowDifference(BaseModel):
    compared: bool = Field(description="False when either file cannot be read as a table; `reason` says why.")
    reason: str | None = None
    key: list[str] = Field(default=[], description="The columns rows were matched by; empty for whole rows.")
    matched_by: Literal["primaryKey", "id column", "whole rows"] | None = None
    columns: ColumnChanges | None = None
    row_count: RowCount | None = None
    added: Rows | None = None
    removed: Rows | None = None
    changed: ChangedRows | None = None


class ResourceChange(BaseModel):
    id: str
    name: str
    fields: dict[str, FieldChange] = Field(description="Each of the resource's fields that changed (`sha256`...).")
    rows: RowDifference | None = Field(description="For a tabular file replaced by another; null otherwise.")


class ResourceChanges(BaseModel):
    added: list[VersionResource]
    removed: list[VersionResource]
    changed: list[ResourceChange]


class VersionDiff(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    dataset: DatasetRef
    from_: VersionSummary = Field(alias="from")
    to: VersionSummary
    metadata: dict[str, FieldChange] = Field(description="Each metadata field that changed.")
    resources: ResourceChanges
