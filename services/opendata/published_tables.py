"""A table another domain publishes in the catalogue: one dataset of the administration's, holding one CSV resource
that each publication replaces. Every publication is the dataset's next version, notarised like any other
(kind ``dataset-version``), derived from the receipts the caller names."""

import csv
import hashlib
import io
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.errors import Conflict
from segell.services.notary import api as notary
from segell.services.opendata import repository as catalogue_repository
from segell.services.opendata import service as catalogue
from segell.services.opendata.errors import ActionFailed
from segell.services.opendata.uploads import Upload
from segell.services.settings import Settings


@dataclass(frozen=True)
class TableText:
    """What a published table says of itself, in Catalan, Spanish and English (`{"ca", "es", "en"}`)."""

    title: Mapping[str, str]
    description: Mapping[str, str]
    themes: Sequence[str]
    keywords: Sequence[str]
    frequency: str = "UPDATE_CONT"


@dataclass(frozen=True)
class PublishedTable:
    """Where a publication landed: the dataset, its version and that version's verification code."""

    dataset_id: str
    dataset_name: str
    version: int
    verification_code: str | None
    download_url: str


def _csv(file_name: str, header: Sequence[str], rows: Sequence[Sequence[object]], directory: Path) -> Upload:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    content = buffer.getvalue().encode("utf-8")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / secrets.token_hex(16)
    path.write_bytes(content)
    return Upload(path, file_name, len(content), hashlib.sha256(content).hexdigest())


def publish_table(
    session: Session,
    settings: Settings,
    administration: Administration,
    *,
    name: str,
    text: TableText,
    file_name: str,
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    derived_from: Sequence[str] = (),
) -> PublishedTable:
    """Publish `rows` as the CSV `file_name` of the administration's dataset `name` (created the first time): the
    dataset's next version. 409 `dataset_name_taken` when another administration's dataset has that name."""
    files = settings.home_dir / "opendata"
    upload = _csv(file_name, header, rows, files / "incoming")
    context = catalogue.Context(
        session, administration, files, settings.api_url, upload=upload, derived_from=tuple(derived_from)
    )
    try:
        dataset = catalogue_repository.dataset_by_id_or_name(session, id_or_name=name, for_update=True)
        if dataset is not None and (dataset.administration_id != administration.id or dataset.state != "active"):
            raise Conflict(
                f"The catalogue's dataset name {name!r} is taken by another dataset: rename or delete it first.",
                code="dataset_name_taken",
            )
        try:
            if dataset is None:
                catalogue.package_create(
                    context,
                    {
                        "name": name,
                        "title_translated": dict(text.title),
                        "notes_translated": dict(text.description),
                        "theme": list(text.themes),
                        "tags": [{"name": keyword} for keyword in text.keywords],
                        "license_id": "CC-BY-4.0",
                        "frequency": text.frequency,
                        "temporal_start": date.today().isoformat(),
                    },
                )
                dataset = catalogue_repository.dataset_by_id_or_name(session, id_or_name=name)
                assert dataset is not None
            else:
                dataset.temporal_end = date.today()
            resources = catalogue_repository.resources_of(session, dataset_ids=[dataset.id])
            if resources:
                resource = catalogue.resource_update(
                    context, {"id": resources[0].id, "name": file_name, "format": "CSV"}
                )
            else:
                resource = catalogue.resource_create(
                    context, {"package_id": dataset.id, "name": file_name, "format": "CSV"}
                )
        except ActionFailed as error:
            raise Conflict(
                f"The catalogue refused the table: {error}.", code="catalogue_refused", details=error.fields
            ) from None
    finally:
        upload.path.unlink(missing_ok=True)
    version = catalogue_repository.latest_version(session, dataset_id=dataset.id)
    assert version is not None
    code = notary.receipt(session, administration.id, version.receipt_id).verification_code
    return PublishedTable(
        dataset_id=dataset.id,
        dataset_name=dataset.name,
        version=version.number,
        verification_code=code,
        download_url=str(resource["url"]),
    )
