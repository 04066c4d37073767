"""What the transparency portal reads of the mandatory publications: who publishes, each submission of each block
(current and superseded versions, with its notarisation), and a submission's rows, typed by its block's Table Schema.

Read-only: submissions are written by the submission API (`publications.py`); this module reads them through the same
repository (`publications_repository.py`), and the blocks, their Table Schemas and their rows through
`publications_tables.py`, in plain dataclasses.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.errors import NotFound
from segell.services.notary import api as notary
from segell.services.opendata import publications_repository as repository
from segell.services.opendata import publications_tables as tables
from segell.services.opendata import repository as catalogue_repository
from segell.services.opendata.models import Submission
from segell.services.opendata.publications import BLOCK_TEXTS
from segell.services.opendata.publications_tables import BLOCKS
from segell.services.opendata.service import stored_path
from segell.services.settings import Settings

#: A cell of a row: the value its Table Schema field types it as (a date as ISO text); None when missing.
Cell = str | int | float | bool | None


@dataclass(frozen=True)
class PublishingAdministration:
    code: str
    name: str
    #: The blocks it has published, in `BLOCKS` order.
    blocks: tuple[str, ...]
    #: The latest period of any of its submissions.
    latest_period: int
    #: Inhabitants, as its latest submission that says so gave them.
    inhabitants: int | None


@dataclass(frozen=True)
class PublishedSubmission:
    """One version of a block for a period, as published, with what its notarisation says."""

    id: str
    administration_code: str
    administration_name: str
    block: str
    period: int
    version: int
    #: ``current`` or ``superseded``.
    status: str
    #: The id of the submission that replaced this one, when superseded.
    superseded_by: str | None
    inhabitants: int | None
    row_count: int
    filename: str
    size: int
    sha256: str
    figures: dict[str, Any]
    submitted_at: datetime
    receipt_id: str
    #: What a citizen types, or follows to ``/verify/{code}``, to check this version.
    verification_code: str
    #: The receipt's status: ``pending`` until anchored, ``anchored``, or ``revoked``.
    notarisation: str
    #: When the batch holding it was anchored on chain (the block's time); None while pending.
    anchored_at: datetime | None


@dataclass(frozen=True)
class BlockFigures:
    """The totals of one administration's current version of a block for a period."""

    administration_code: str
    administration_name: str
    block: str
    period: int
    version: int
    inhabitants: int | None
    figures: dict[str, Any]


@dataclass(frozen=True)
class SubmissionTable:
    fields: tuple[str, ...]
    rows: list[dict[str, Cell]]
    #: Whether the cells are typed by the block's Table Schema: always, every block has one.
    typed: bool = True


def _published(session: Session, submission: Submission, administration: Administration) -> PublishedSubmission:
    receipt = notary.receipt(session, submission.administration_id, submission.receipt_id)
    anchored_at = None
    if receipt.anchor is not None:
        anchored_at = datetime.fromtimestamp(receipt.anchor.block_timestamp, UTC)
    return PublishedSubmission(
        id=submission.id,
        administration_code=administration.code,
        administration_name=administration.name,
        block=submission.block,
        period=submission.period,
        version=submission.version,
        status=submission.status,
        superseded_by=submission.superseded_by,
        inhabitants=submission.inhabitants,
        row_count=submission.row_count,
        filename=submission.filename,
        size=submission.size,
        sha256=submission.sha256,
        figures=dict(submission.figures),
        submitted_at=submission.submitted_at,
        receipt_id=submission.receipt_id,
        verification_code=receipt.verification_code,
        notarisation=receipt.status,
        anchored_at=anchored_at,
    )


def _block_order(block: str) -> int:
    return BLOCKS.index(block) if block in BLOCKS else len(BLOCKS)


def published_administrations(session: Session) -> list[PublishingAdministration]:
    """The administrations that have published at least one submission, by code."""
    found, _ = repository.submissions(session)
    by_administration: dict[int, tuple[Administration, list[Submission]]] = {}
    for submission, administration in found:
        by_administration.setdefault(administration.id, (administration, []))[1].append(submission)
    published = []
    for administration, own in sorted(by_administration.values(), key=lambda entry: entry[0].code):
        with_inhabitants = [s for s in own if s.inhabitants is not None]
        latest = max(with_inhabitants, key=lambda s: (s.period, s.submitted_at), default=None)
        published.append(
            PublishingAdministration(
                code=administration.code,
                name=administration.name,
                blocks=tuple(sorted({s.block for s in own}, key=_block_order)),
                latest_period=max(s.period for s in own),
                inhabitants=latest.inhabitants if latest is not None else None,
            )
        )
    return published


def _publishing(session: Session, code: str) -> Administration:
    administration = catalogue_repository.administration_by_code(session, code=code)
    if administration is None or not repository.submissions(session, administration_id=administration.id, limit=1)[0]:
        raise NotFound(f"No administration {code} publishes here.", code="unknown_administration")
    return administration


def submissions_of(session: Session, code: str) -> list[PublishedSubmission]:
    """Every submission of the administration with `code`: by block (in `BLOCKS` order), period and version, the
    newest first. `NotFound` when no administration with that code has published anything."""
    administration = _publishing(session, code)
    found = [s for s, _ in repository.submissions(session, administration_id=administration.id)[0]]
    found.sort(key=lambda s: (_block_order(s.block), -s.period, -s.version))
    return [_published(session, submission, administration) for submission in found]


def current_figures(session: Session, block: str) -> list[BlockFigures]:
    """The figures of the current version of `block` of every administration, for every period: to compare them
    (without the notarisation of each, which comparing does not need)."""
    return [
        BlockFigures(
            administration_code=administration.code,
            administration_name=administration.name,
            block=s.block,
            period=s.period,
            version=s.version,
            inhabitants=s.inhabitants,
            figures=dict(s.figures),
        )
        for s, administration in repository.current_of_block(session, block=block)
    ]


def submission(session: Session, code: str, block: str, period: int, version: int | None = None) -> PublishedSubmission:
    """The current version (or `version`) of an administration's `block` for `period`; `NotFound` otherwise."""
    administration = _publishing(session, code)
    if block not in BLOCKS:
        raise NotFound(f"No block {block}: the blocks are {', '.join(BLOCKS)}.", code="unknown_block")
    found, _ = repository.submissions(session, administration_id=administration.id, block=block, period=period)
    chosen = [s for s, _ in found if (s.version == version if version is not None else s.status == "current")]
    if not chosen:
        which = f"version {version} of " if version is not None else ""
        raise NotFound(f"{administration.code} has published no {which}{block} for {period}.", code="not_published")
    return _published(session, chosen[0], administration)


def block_title(block: str, language: str) -> str:
    """The block's name in `language` (``ca``, ``es`` or ``en``), as its datasets in the catalogue are titled."""
    return BLOCK_TEXTS[block].title[language]


def table_schema(block: str) -> dict[str, Any] | None:
    """The block's Table Schema (frictionless, ``blocks/<block>.json``), None when there is no such block."""
    return tables.table_schema(block) if block in BLOCKS else None


def files_directory(settings: Settings) -> Path:
    """Where the catalogue keeps its files (``$SEGELL_HOME/opendata``), submissions' included."""
    return settings.home_dir / "opendata"


def submission_file(files: Path, submission: PublishedSubmission) -> Path:
    """The submitted file, kept by the catalogue by its SHA-256 under `files` (``$SEGELL_HOME/opendata``)."""
    path = stored_path(files, submission.sha256)
    if not path.is_file():
        raise NotFound(f"The file of {submission.block} {submission.period} is not on this server.", code="no_file")
    return path


def submission_rows(files: Path, submission: PublishedSubmission) -> SubmissionTable:
    """The submitted file's rows (CSV, XLSX or JSON), in its block's columns, typed by its Table Schema."""
    rows = tables.stored_rows(submission.block, submission_file(files, submission))
    return SubmissionTable(tuple(tables.field_names(submission.block)), rows)
