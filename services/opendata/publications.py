"""Mandatory publications (Llei 19/2014), submitted once: an administration submits a block for a year; Segell
checks it against the block's Table Schema, keeps the file by its SHA-256, notarises it (kind
``transparency-publication``) and publishes it, in the same transaction, as the administration's dataset for the
block (a resource a year) and in the block's consolidated dataset across every administration. A correction is the
next version; the one it replaces stays, superseded. The deployment's recipients read submissions through their own
API, and each read is recorded for the submitting administration to see.
"""

import csv
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.errors import Conflict, Forbidden, NotFound, ValidationFailed
from segell.services.notary import api as notary
from segell.services.opendata import publications_repository as repository
from segell.services.opendata import repository as catalogue_repository
from segell.services.opendata import service as catalogue
from segell.services.opendata.errors import ActionFailed, AuthorizationError, NotFoundError
from segell.services.opendata.models import Dataset, Submission
from segell.services.opendata.publications_tables import (
    MAX_PROBLEMS,
    CheckedTable,
    InvalidFile,
    aligned_rows,
    check_file,
    field_names,
    file_format_of,
)
from segell.services.opendata.settings import OpendataSettings
from segell.services.opendata.uploads import Upload

KIND = "transparency-publication"
CONSOLIDATED_PREFIX = "consolidated-"


@dataclass(frozen=True)
class BlockText:
    title: dict[str, str]
    description: dict[str, str]
    themes: tuple[str, ...]
    keyword: str


BLOCK_TEXTS: dict[str, BlockText] = {
    "budget": BlockText(
        {"ca": "Pressupost", "es": "Presupuesto", "en": "Budget"},
        {
            "ca": "Pressupost per classificació econòmica: crèdits inicials i definitius i execució per capítol "
            "(Llei 19/2014, art. 11.1.a).",
            "es": "Presupuesto por clasificación económica: créditos iniciales y definitivos y ejecución por "
            "capítulo (Ley 19/2014, art. 11.1.a).",
            "en": "Budget by economic classification: initial and final credits and execution by chapter "
            "(Llei 19/2014, art. 11.1.a).",
        },
        ("ECON", "GOVE"),
        "pressupost",
    ),
    "salaries": BlockText(
        {
            "ca": "Retribucions de càrrecs electes i alts càrrecs",
            "es": "Retribuciones de cargos electos y altos cargos",
            "en": "Pay of elected and senior officials",
        },
        {
            "ca": "Retribucions i indemnitzacions dels càrrecs electes i alts càrrecs (Llei 19/2014, art. 11.1.b).",
            "es": "Retribuciones e indemnizaciones de los cargos electos y altos cargos (Ley 19/2014, art. 11.1.b).",
            "en": "Pay and allowances of elected and senior officials (Llei 19/2014, art. 11.1.b).",
        },
        ("GOVE",),
        "retribucions",
    ),
    "personnel": BlockText(
        {"ca": "Personal i llocs de treball", "es": "Personal y puestos de trabajo", "en": "Personnel and positions"},
        {
            "ca": "Llocs de treball i personal, agregats per tipus de vinculació i grup (Llei 19/2014, art. 9.1).",
            "es": "Puestos de trabajo y personal, agregados por tipo de vínculo y grupo (Ley 19/2014, art. 9.1).",
            "en": "Positions and staff, aggregated by kind of employment and group (Llei 19/2014, art. 9.1).",
        },
        ("GOVE",),
        "personal",
    ),
    "contracts": BlockText(
        {"ca": "Contractes adjudicats", "es": "Contratos adjudicados", "en": "Contracts awarded"},
        {
            "ca": "Contractes adjudicats, inclosos els menors (Llei 19/2014, art. 13.1).",
            "es": "Contratos adjudicados, incluidos los menores (Ley 19/2014, art. 13.1).",
            "en": "Contracts awarded, minor contracts included (Llei 19/2014, art. 13.1).",
        },
        ("ECON", "GOVE"),
        "contractes",
    ),
    "agreements": BlockText(
        {"ca": "Convenis", "es": "Convenios", "en": "Agreements"},
        {
            "ca": "Convenis de col·laboració subscrits (Llei 19/2014, art. 14.2).",
            "es": "Convenios de colaboración suscritos (Ley 19/2014, art. 14.2).",
            "en": "Collaboration agreements signed (Llei 19/2014, art. 14.2).",
        },
        ("GOVE",),
        "convenis",
    ),
    "subsidies": BlockText(
        {"ca": "Subvencions atorgades", "es": "Subvenciones otorgadas", "en": "Subsidies awarded"},
        {
            "ca": "Subvencions i ajuts atorgats (Llei 19/2014, art. 15.1).",
            "es": "Subvenciones y ayudas otorgadas (Ley 19/2014, art. 15.1).",
            "en": "Subsidies and grants awarded (Llei 19/2014, art. 15.1).",
        },
        ("ECON", "GOVE"),
        "subvencions",
    ),
    "debt": BlockText(
        {"ca": "Deute", "es": "Deuda", "en": "Debt"},
        {
            "ca": "Operacions de crèdit vives a 31 de desembre (Llei 19/2014, art. 11).",
            "es": "Operaciones de crédito vivas a 31 de diciembre (Ley 19/2014, art. 11).",
            "en": "Loans and credits outstanding on 31 December (Llei 19/2014, art. 11).",
        },
        ("ECON", "GOVE"),
        "deute",
    ),
}


@dataclass(frozen=True)
class Place:
    """Where the catalogue keeps its files and is reached, and its settings."""

    files: Path
    api_url: str
    settings: OpendataSettings


# -- submitting ---------------------------------------------------------------------------------------------------


def check_submission(block: str, upload: Upload) -> CheckedTable:
    """The submitted file checked against the block's Table Schema; 422 `invalid_submission` with every problem."""
    try:
        return check_file(block, upload.path)
    except InvalidFile as invalid:
        problems = invalid.problems
        listed = [problem.as_dict() for problem in problems[:MAX_PROBLEMS]]
        first = problems[0]
        where = f"line {first.line}: " if first.line is not None else ""
        more = f" (and {len(problems) - 1} more; `details` lists them)" if len(problems) > 1 else ""
        raise ValidationFailed(
            f"The file is not a complete {block} block: {where}{first.reason}{more} Correct the file and submit it "
            f"again; docs/transparency.md describes the block's columns.",
            code="invalid_submission",
            details=listed,
        ) from None


@contextmanager
def _as_segell_errors() -> Iterator[None]:
    """The catalogue's CKAN errors, in the API's one error format."""
    try:
        yield
    except NotFoundError as error:
        raise NotFound(error.message or "Not found in the catalogue.") from None
    except AuthorizationError as error:
        raise Forbidden(error.message or "Not allowed by the catalogue.") from None
    except ActionFailed as error:
        raise Conflict(
            f"The catalogue refused to publish the submission: {error}.", code="catalogue_refused", details=error.fields
        ) from None


def _slug(code: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", code.lower())


def _dataset_fields(name: str, block: str, title_of: Callable[[str], str], period: int) -> dict[str, Any]:
    text = BLOCK_TEXTS[block]
    return {
        "name": name,
        "title_translated": {language: title_of(language) for language in ("ca", "es", "en")},
        "notes_translated": text.description,
        "theme": list(text.themes),
        "tags": [{"name": "transparència"}, {"name": "llei-19-2014"}, {"name": text.keyword}],
        "license_id": "CC-BY-4.0",
        "frequency": "ANNUAL",
        "temporal_start": date(period, 1, 1).isoformat(),
        "temporal_end": date(period, 12, 31).isoformat(),
    }


def _cover(dataset: Dataset, period: int) -> None:
    """Stretch the dataset's temporal coverage to the year; the next version records it."""
    start, end = date(period, 1, 1), date(period, 12, 31)
    if dataset.temporal_start is None or start < dataset.temporal_start:
        dataset.temporal_start = start
    if dataset.temporal_end is None or end > dataset.temporal_end:
        dataset.temporal_end = end


def _own_dataset(context: catalogue.Context, block: str, period: int) -> Dataset:
    """The administration's dataset for the block: the one its submissions are in, else a new one."""
    administration = context.administration
    assert administration is not None
    dataset_id = repository.dataset_id_of_block(context.session, administration_id=administration.id, block=block)
    dataset = catalogue_repository.dataset_by_id_or_name(context.session, id_or_name=dataset_id) if dataset_id else None
    if dataset is not None and dataset.state == "active":
        _cover(dataset, period)
        return dataset
    name = f"{_slug(administration.code)}-{block}"
    existing = catalogue_repository.dataset_by_id_or_name(context.session, id_or_name=name)
    if existing is not None:
        if existing.administration_id != administration.id or existing.state != "active":
            raise Conflict(
                f"The catalogue's dataset name {name!r} is taken: delete or rename that dataset, then submit again.",
                code="dataset_name_taken",
            )
        _cover(existing, period)
        return existing
    title = BLOCK_TEXTS[block].title

    def title_of(language: str) -> str:
        return f"{title[language]} — {administration.name}"

    created = catalogue.package_create(context, _dataset_fields(name, block, title_of, period))
    found = catalogue_repository.dataset_by_id_or_name(context.session, id_or_name=str(created["id"]))
    assert found is not None
    return found


def _publish_file(
    context: catalogue.Context, dataset: Dataset, resource_id: str | None, name: str, file_format: str
) -> str:
    """Put the context's upload in the dataset, replacing `resource_id`'s file when it is still there: its id."""
    resource = catalogue_repository.resource_by_id(context.session, resource_id=resource_id) if resource_id else None
    if resource is not None and resource.dataset_id == dataset.id:
        catalogue.resource_update(context, {"id": resource.id, "name": name, "format": file_format})
        return resource.id
    created = catalogue.resource_create(context, {"package_id": dataset.id, "name": name, "format": file_format})
    return str(created["id"])


def _version_of(session: Session, dataset: Dataset) -> tuple[int | None, str | None]:
    version = catalogue_repository.latest_version(session, dataset_id=dataset.id)
    if version is None:
        return None, None
    return version.number, notary.receipt(session, dataset.administration_id, version.receipt_id).verification_code


def submit(
    session: Session,
    place: Place,
    administration: Administration,
    *,
    block: str,
    period: int,
    inhabitants: int | None,
    upload: Upload,
    checked: CheckedTable,
) -> dict[str, Any]:
    """Record, notarise and publish a checked submission; a correction when the block and year have one."""
    repository.lock_submissions(session, administration_id=administration.id, block=block, period=period)
    previous = repository.current_submission(session, administration_id=administration.id, block=block, period=period)
    if previous is not None and previous.sha256 == upload.sha256:
        raise Conflict(
            f"This file is already the current {block} submission for {period} (version {previous.version}): "
            "a correction must change it.",
            code="submission_unchanged",
            details={"submission": previous.id},
        )
    version = repository.last_version(session, administration_id=administration.id, block=block, period=period) + 1
    title = BLOCK_TEXTS[block].title["ca"]
    receipt = notary.notarise(
        session,
        administration.id,
        upload.sha256,
        kind=KIND,
        title=f"{title} {period} — {administration.name} (v{version})",
        metadata={"block": block, "period": period, "version": version, "administration": administration.code},
        public=True,
        derived_from=[previous.receipt_id] if previous is not None else [],
    )
    filename, size = upload.filename, upload.size
    context = catalogue.Context(
        session, administration, place.files, place.api_url, upload=upload, derived_from=(receipt.id,)
    )
    with _as_segell_errors():
        dataset = _own_dataset(context, block, period)
        resource_id = _publish_file(
            context, dataset, previous.resource_id if previous else None, str(period), checked.file_format
        )
    submission = Submission(
        id=str(uuid.uuid4()),
        administration_id=administration.id,
        block=block,
        period=period,
        version=version,
        status="current",
        inhabitants=inhabitants,
        row_count=len(checked.rows),
        filename=filename[:300],
        size=size,
        sha256=upload.sha256,
        figures=checked.figures,
        dataset_id=dataset.id,
        resource_id=resource_id,
        receipt_id=receipt.id,
        submitted_at=datetime.now(UTC),
    )
    if previous is not None:
        previous.status = "superseded"
        previous.superseded_by = submission.id
        session.flush()
    session.add(submission)
    session.flush()
    consolidate(session, place, block)
    return submission_view(session, place, submission, administration)


# -- the consolidated datasets ------------------------------------------------------------------------------------


def _consolidated_publisher(session: Session, settings: OpendataSettings) -> Administration | None:
    if settings.consolidated_publisher:
        configured = catalogue_repository.administration_by_code(session, code=settings.consolidated_publisher)
        if configured is not None:
            return configured
    return repository.first_admitted(session)


def _consolidated_csv(place: Place, block: str, current: list[tuple[Submission, Administration]]) -> Upload:
    incoming = place.files / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    path = incoming / secrets.token_hex(16)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["administration", "period", *field_names(block)])
        for submission, administration in current:
            stored = catalogue.stored_path(place.files, submission.sha256)
            for cells in aligned_rows(block, stored, file_format_of(stored)):
                writer.writerow([administration.code, submission.period, *cells])
    content = path.read_bytes()
    return Upload(path, f"{CONSOLIDATED_PREFIX}{block}.csv", len(content), hashlib.sha256(content).hexdigest())


def consolidate(session: Session, place: Place, block: str) -> None:
    """Rebuild the block's consolidated dataset from every administration's current submissions: its next
    version, derived from their receipts."""
    name = f"{CONSOLIDATED_PREFIX}{block}"
    dataset = catalogue_repository.dataset_by_id_or_name(session, id_or_name=name, for_update=True)
    publisher: Administration | None
    if dataset is not None:
        # Published by whoever created it, even if the configured publisher changed since.
        publisher = session.get(Administration, dataset.administration_id)
    else:
        publisher = _consolidated_publisher(session, place.settings)
    if publisher is None:
        return
    current = repository.current_of_block(session, block=block)
    upload = _consolidated_csv(place, block, current)
    context = catalogue.Context(
        session,
        publisher,
        place.files,
        place.api_url,
        upload=upload,
        derived_from=tuple(submission.receipt_id for submission, _ in current),
    )
    try:
        with _as_segell_errors():
            if dataset is None:
                text = BLOCK_TEXTS[block]

                def title_of(language: str) -> str:
                    every = {
                        "ca": "totes les administracions",
                        "es": "todas las administraciones",
                        "en": "every administration",
                    }
                    return f"{text.title[language]} — {every[language]}"

                periods = [submission.period for submission, _ in current] or [date.today().year]
                fields = _dataset_fields(name, block, title_of, min(periods))
                fields["temporal_end"] = date(max(periods), 12, 31).isoformat()
                catalogue.package_create(context, fields)
                dataset = catalogue_repository.dataset_by_id_or_name(session, id_or_name=name)
                assert dataset is not None
            else:
                for submission, _ in current:
                    _cover(dataset, submission.period)
            resources = catalogue_repository.resources_of(session, dataset_ids=[dataset.id])
            _publish_file(context, dataset, resources[0].id if resources else None, f"{name}.csv", "CSV")
    finally:
        upload.path.unlink(missing_ok=True)


# -- reading ------------------------------------------------------------------------------------------------------


def submission_view(
    session: Session, place: Place, submission: Submission, administration: Administration
) -> dict[str, Any]:
    dataset = session.get(Dataset, submission.dataset_id)
    assert dataset is not None
    receipt = notary.receipt(session, administration.id, submission.receipt_id)
    version, code = _dataset_version(session, dataset, submission)
    resource = catalogue_repository.resource_by_id(session, resource_id=submission.resource_id)
    download_url = None
    if submission.status == "current" and resource is not None and resource.sha256 == submission.sha256:
        download_url = f"{place.api_url}/dataset/{dataset.id}/resource/{resource.id}/download/{resource.filename}"
    return {
        "id": submission.id,
        "administration": {"code": administration.code, "name": administration.name},
        "block": submission.block,
        "period": submission.period,
        "version": submission.version,
        "status": submission.status,
        "superseded_by": submission.superseded_by,
        "inhabitants": submission.inhabitants,
        "row_count": submission.row_count,
        "filename": submission.filename,
        "size": submission.size,
        "sha256": submission.sha256,
        "figures": submission.figures,
        "dataset": {"id": dataset.id, "name": dataset.name, "version": version, "verification_code": code},
        "resource_id": submission.resource_id,
        "download_url": download_url,
        "receipt": {"id": receipt.id, "verification_code": receipt.verification_code, "status": receipt.status},
        "submitted_at": submission.submitted_at,
    }


def _dataset_version(session: Session, dataset: Dataset, submission: Submission) -> tuple[int | None, str | None]:
    """The dataset's version the submission made: the last one, made no later than the submission, holding its file."""
    for version in catalogue_repository.versions_of(session, dataset_id=dataset.id):
        if version.created_at > submission.submitted_at:
            continue
        if any(resource["sha256"] == submission.sha256 for resource in version.snapshot.get("resources", [])):
            code = notary.receipt(session, dataset.administration_id, version.receipt_id).verification_code
            return version.number, code
    return None, None


def list_submissions(
    session: Session,
    place: Place,
    *,
    administration_code: str | None,
    block: str | None,
    period: int | None,
    status: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    administration_id = None
    if administration_code is not None:
        found = catalogue_repository.administration_by_code(session, code=administration_code)
        if found is None:
            return {"items": [], "total": 0}
        administration_id = found.id
    rows, total = repository.submissions(
        session,
        administration_id=administration_id,
        block=block,
        period=period,
        status=status,
        limit=limit,
        offset=offset,
    )
    return {"items": [submission_view(session, place, s, a) for s, a in rows], "total": total}


def get_submission(session: Session, place: Place, submission_id: str) -> dict[str, Any]:
    submission, administration = _submission(session, submission_id)
    return submission_view(session, place, submission, administration)


def _submission(session: Session, submission_id: str) -> tuple[Submission, Administration]:
    found = repository.submission_by_id(session, submission_id=submission_id)
    if found is None:
        raise NotFound(
            f"No submission {submission_id!r}. GET /v1/transparency/submissions lists them.", code="not_found"
        )
    return found


def accesses(session: Session, administration: Administration, submission_id: str) -> dict[str, Any]:
    """The recipients' reads of one of the administration's own submissions."""
    submission, owner = _submission(session, submission_id)
    if owner.id != administration.id:
        raise NotFound(f"No submission {submission_id!r} of yours. GET /v1/transparency/submissions lists them.")
    return {
        "items": [
            {"recipient": access.recipient, "what": access.what, "accessed_at": access.accessed_at}
            for access in repository.accesses_of(session, submission_id=submission.id)
        ]
    }


# -- recipients ---------------------------------------------------------------------------------------------------


def recipient_of(settings: OpendataSettings, token: str) -> str | None:
    """The configured recipient whose token this is, by its SHA-256; None for any other."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    found = None
    for name, expected in settings.recipients.items():
        if hmac.compare_digest(digest, expected):
            found = name
    return found


def recipient_list(session: Session, place: Place, recipient: str, **filters: Any) -> dict[str, Any]:
    page = list_submissions(session, place, **filters)
    repository.record_accesses(
        session, submission_ids=[item["id"] for item in page["items"]], recipient=recipient, what="metadata"
    )
    return page


def recipient_get(session: Session, place: Place, recipient: str, submission_id: str) -> dict[str, Any]:
    view = get_submission(session, place, submission_id)
    repository.record_accesses(session, submission_ids=[submission_id], recipient=recipient, what="metadata")
    return view


def recipient_file(session: Session, place: Place, recipient: str, submission_id: str) -> tuple[Path, str, str]:
    """The submitted file (path, name, media type), its read recorded."""
    submission, _ = _submission(session, submission_id)
    path = catalogue.stored_path(place.files, submission.sha256)
    if not path.exists():
        raise NotFound(f"The file of submission {submission_id!r} is not in the catalogue's file store.")
    repository.record_accesses(session, submission_ids=[submission_id], recipient=recipient, what="file")
    file_format = file_format_of(path)
    return path, submission.filename, MEDIA_TYPES[file_format]


MEDIA_TYPES = {
    "CSV": "text/csv",
    "JSON": "application/json",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
