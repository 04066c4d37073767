"""Publishing a dataset of files in an administration's name, for the other domains (through `services.opendata.api`):
the participation domain publishes a closed process's ballots and result this way. The dataset and each file go
through the catalogue's own actions, so every change is a notarised version like any other, and each version names
the receipts the files were made from (`derived_from`)."""

import hashlib
import re
import secrets
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.errors import Conflict, Forbidden, NotFound
from segell.services.opendata import repository as catalogue_repository
from segell.services.opendata import service as catalogue
from segell.services.opendata.errors import ActionFailed, AuthorizationError, NotFoundError
from segell.services.opendata.uploads import Upload
from segell.services.settings import Settings


@dataclass(frozen=True)
class FileToPublish:
    """One file of a dataset: its name in the catalogue, its file name, its format (``JSON``, ``CSV``) and bytes."""

    name: str
    filename: str
    file_format: str
    content: bytes


@dataclass(frozen=True)
class PublishedFile:
    """A published file: its resource id, where anyone downloads it, and its SHA-256."""

    resource_id: str
    url: str
    sha256: str


@dataclass(frozen=True)
class PublishedDataset:
    """A published dataset: its id, its name in the catalogue (``package_show?id=NAME``) and its files, in order."""

    dataset_id: str
    name: str
    files: tuple[PublishedFile, ...]


@contextmanager
def _as_segell_errors() -> Iterator[None]:
    try:
        yield
    except NotFoundError as error:
        raise NotFound(error.message or "Not found in the catalogue.") from None
    except AuthorizationError as error:
        raise Forbidden(error.message or "Not allowed by the catalogue.") from None
    except ActionFailed as error:
        raise Conflict(
            f"The catalogue refused to publish the dataset: {error}.", code="catalogue_refused", details=error.fields
        ) from None


def dataset_name(administration_code: str, suffix: str) -> str:
    """The catalogue name of an administration's dataset: its code, lower case, and `suffix`."""
    return re.sub(r"[^a-z0-9_-]", "-", f"{administration_code}-{suffix}".lower())[:100]


def publish_dataset(
    session: Session,
    settings: Settings,
    administration: Administration,
    *,
    name: str,
    title: Mapping[str, str],
    description: Mapping[str, str],
    files: Sequence[FileToPublish],
    keywords: Sequence[str] = (),
    derived_from: Sequence[str] = (),
) -> PublishedDataset:
    """Create the dataset `name` of `administration` with `files`, in the caller's transaction: each step is a
    notarised version derived from the receipts in `derived_from`. `Conflict` `dataset_name_taken` when the name is
    another dataset's already; `title` and `description` in ca, es and en."""
    if catalogue_repository.dataset_by_id_or_name(session, id_or_name=name) is not None:
        raise Conflict(f"The catalogue already holds a dataset named {name!r}.", code="dataset_name_taken")
    files_dir = settings.home_dir / "opendata"
    context = catalogue.Context(session, administration, files_dir, settings.api_url, derived_from=tuple(derived_from))
    fields = {
        "name": name,
        "title_translated": dict(title),
        "notes_translated": dict(description),
        "theme": ["GOVE"],
        "tags": [{"name": keyword} for keyword in keywords],
        "license_id": "CC-BY-4.0",
        "frequency": "NEVER",
    }
    published: list[PublishedFile] = []
    with _as_segell_errors():
        created = catalogue.package_create(context, fields)
        for item in files:
            context.upload = _incoming(files_dir, item)
            resource = catalogue.resource_create(
                context, {"package_id": created["id"], "name": item.name, "format": item.file_format}
            )
            published.append(
                PublishedFile(str(resource["id"]), str(resource["url"]), hashlib.sha256(item.content).hexdigest())
            )
    return PublishedDataset(str(created["id"]), name, tuple(published))


def _incoming(files_dir: Path, item: FileToPublish) -> Upload:
    incoming = files_dir / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    path = incoming / secrets.token_hex(16)
    path.write_bytes(item.content)
    return Upload(path, item.filename, len(item.content), hashlib.sha256(item.content).hexdigest())
