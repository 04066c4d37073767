"""What the transparency portal reads of the mandatory publications: who publishes, each submission of each block
(current and superseded versions, with its notarisation), and a submission's rows, typed by its block's Table Schema.

Read-only: submissions are written by the submission API; this module only reads them, in plain dataclasses.
"""

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session

from segell.services.administrations.api import Administration
from segell.services.errors import NotFound
from segell.services.notary import api as notary
from segell.services.opendata import transparency_repository as repository
from segell.services.opendata.models import Submission
from segell.services.opendata.service import _stored_path
from segell.services.settings import Settings

#: The blocks of Llei 19/2014 an administration submits, in the order the portal lists them.
BLOCKS: Final = ("budget", "salaries", "personnel", "contracts", "agreements", "subsidies", "debt")
#: Where each block's Table Schema is kept (`<block>.json`), when it has one.
TABLE_SCHEMAS: Final = Path(__file__).parent / "table_schemas"

#: A cell of a row: a string as submitted, or the value its Table Schema field types it as; None when missing.
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
    #: Whether the cells are typed by the block's Table Schema (else they are the submitted strings).
    typed: bool


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
    administrations = repository.publishing_administrations(session)
    found = repository.submissions(session, administration_ids=[a.id for a in administrations])
    published = []
    for administration in administrations:
        own = [s for s in found if s.administration_id == administration.id]
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
    administration = repository.administration_by_code(session, code=code)
    if administration is None or not repository.submissions(session, administration_ids=[administration.id]):
        raise NotFound(f"No administration {code} publishes here.", code="unknown_administration")
    return administration


def submissions_of(session: Session, code: str) -> list[PublishedSubmission]:
    """Every submission of the administration with `code`: by block (in `BLOCKS` order), period and version, the
    newest first. `NotFound` when no administration with that code has published anything."""
    administration = _publishing(session, code)
    found = repository.submissions(session, administration_ids=[administration.id])
    found.sort(key=lambda s: (_block_order(s.block), -s.period, -s.version))
    return [_published(session, submission, administration) for submission in found]


def current_figures(session: Session, block: str) -> list[BlockFigures]:
    """The figures of the current version of `block` of every administration, for every period: to compare them
    (without the notarisation of each, which comparing does not need)."""
    administrations = {a.id: a for a in repository.publishing_administrations(session)}
    found = repository.submissions(session, administration_ids=list(administrations), block=block, current_only=True)
    return [
        BlockFigures(
            administration_code=administrations[s.administration_id].code,
            administration_name=administrations[s.administration_id].name,
            block=s.block,
            period=s.period,
            version=s.version,
            inhabitants=s.inhabitants,
            figures=dict(s.figures),
        )
        for s in found
    ]


def submission(session: Session, code: str, block: str, period: int, version: int | None = None) -> PublishedSubmission:
    """The current version (or `version`) of an administration's `block` for `period`; `NotFound` otherwise."""
    administration = _publishing(session, code)
    if block not in BLOCKS:
        raise NotFound(f"No block {block}: the blocks are {', '.join(BLOCKS)}.", code="unknown_block")
    found = repository.submissions(session, administration_ids=[administration.id], block=block, period=period)
    chosen = [s for s in found if (s.version == version if version is not None else s.status == "current")]
    if not chosen:
        which = f"version {version} of " if version is not None else ""
        raise NotFound(f"{administration.code} has published no {which}{block} for {period}.", code="not_published")
    return _published(session, chosen[0], administration)


@cache
def table_schema(block: str) -> dict[str, Any] | None:
    """The block's Table Schema (frictionless), None when it has none."""
    path = TABLE_SCHEMAS / f"{block}.json"
    if block not in BLOCKS or not path.is_file():
        return None
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def files_directory(settings: Settings) -> Path:
    """Where the catalogue keeps its files (``$SEGELL_HOME/opendata``), submissions' included."""
    return settings.home_dir / "opendata"


def submission_file(files: Path, submission: PublishedSubmission) -> Path:
    """The submitted file, kept by the catalogue by its SHA-256 under `files` (``$SEGELL_HOME/opendata``)."""
    path: Path = _stored_path(files, submission.sha256)
    if not path.is_file():
        raise NotFound(f"The file of {submission.block} {submission.period} is not on this server.", code="no_file")
    return path


def submission_rows(files: Path, submission: PublishedSubmission) -> SubmissionTable:
    """The submitted CSV's rows, typed by the block's Table Schema when there is one, else as strings."""
    text = submission_file(files, submission).read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = tuple(reader.fieldnames or ())
    rows: list[dict[str, Cell]] = [{name: row.get(name) or "" for name in fields} for row in reader]
    schema = table_schema(submission.block)
    if schema is None:
        return SubmissionTable(fields, rows, typed=False)
    return SubmissionTable(fields, [typed_row(row, schema) for row in rows], typed=True)


_TRUE: Final = ("true", "True", "TRUE", "1")
_FALSE: Final = ("false", "False", "FALSE", "0")


def typed_row(row: dict[str, Cell], schema: dict[str, Any]) -> dict[str, Cell]:
    """A row's cells as their Table Schema fields type them: integer, number, boolean and year as JSON values, a
    missing value (``missingValues``, ``[""]`` by default) as None, any other type (string, date, ...) as written.
    A cell its type does not read stays the string it was: the submission API validated the file."""
    missing = set(schema.get("missingValues", [""]))
    fields = {field["name"]: field for field in schema.get("fields", [])}
    typed: dict[str, Cell] = {}
    for name, cell in row.items():
        field = fields.get(name)
        if not isinstance(cell, str) or field is None:
            typed[name] = cell
        elif cell in missing:
            typed[name] = None
        else:
            typed[name] = _cell(cell, field)
    return typed


def _cell(cell: str, field: dict[str, Any]) -> Cell:
    kind = field.get("type", "string")
    try:
        if kind in ("integer", "year"):
            return int(cell.replace(field.get("groupChar", ""), "") if field.get("groupChar") else cell)
        if kind == "number":
            text = cell.replace(field["groupChar"], "") if field.get("groupChar") else cell
            return float(text.replace(field.get("decimalChar", "."), "."))
        if kind == "boolean":
            if cell in field.get("trueValues", _TRUE):
                return True
            if cell in field.get("falseValues", _FALSE):
                return False
    except ValueError:
        pass
    return cell
