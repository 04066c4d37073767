"""HTTP API of mandatory publications: administrations submit (their API key), anyone reads what was submitted,
the deployment's recipients read it with their own tokens (each read recorded), and the submitting administration
sees those reads."""

import hashlib
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Security, UploadFile, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from segell.services.administrations.api import Administration, AdministrationCode
from segell.services.deps import AdministrationDep, AuthenticatorsDep, RuntimeDep, authenticate_api_key
from segell.services.errors import Conflict, Forbidden, PayloadTooLarge, Unauthenticated, error_responses
from segell.services.file_names import safe_file_name
from segell.services.opendata import publications
from segell.services.opendata.publications_schemas import (
    SubmissionAccesses,
    SubmissionOut,
    SubmissionPage,
    SubmissionStatus,
)
from segell.services.opendata.publications_tables import BLOCKS, Block
from segell.services.opendata.settings import OpendataSettings
from segell.services.opendata.uploads import Upload
from segell.services.runtime import Runtime

PREFIX = "/v1/transparency"
SUBMISSIONS_PATH = f"{PREFIX}/submissions"
FILE_PART = "file"
FIRST_PERIOD, LAST_PERIOD = 2000, 2100
MAX_INHABITANTS = 100_000_000
#: A submitted file, as the fuzzing strategies (and any client) must make it: one format per block.
FILE_FORMATS = {block: f"segell-transparency-{block}" for block in BLOCKS}

router = APIRouter(prefix=PREFIX, tags=["transparency"])
recipient_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="RecipientToken",
    description="A recipient's token: the deployment lists each recipient with its token's SHA-256 "
    "(`SEGELL_OPENDATA_RECIPIENTS`).",
)

SubmissionId = Annotated[
    str,
    PathParam(
        description="The submission's id.",
        pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    ),
]


def _file_format_by_block() -> dict[str, Any]:
    """One variant a block: the block, and the file that block takes."""
    return {
        "oneOf": [
            {"properties": {"block": {"const": block}, FILE_PART: {"format": file_format}}, "required": ["block"]}
            for block, file_format in FILE_FORMATS.items()
        ]
    }


# The file each block takes, as the schema says it (a format per block, which fuzzing draws real files for).
_FILE_BY_BLOCK = {
    "requestBody": {"content": {"multipart/form-data": {"schema": _file_format_by_block()}}, "required": True}
}
_FILE_DESCRIPTION = (
    "The block as CSV (UTF-8, a header of the block's columns), XLSX (the first sheet) or JSON (an array of "
    "objects), with every row valid against the block's Table Schema."
)


def _place(runtime: Runtime) -> publications.Place:
    settings = runtime.settings
    return publications.Place(settings.home_dir / "opendata", settings.api_url, settings.section(OpendataSettings))


def _record(
    runtime: Runtime, administration: Administration, block: str, period: int, inhabitants: int | None, upload: Upload
) -> dict[str, Any]:
    checked = publications.check_submission(block, upload)
    try:
        with runtime.transaction() as session:
            return publications.submit(
                session,
                _place(runtime),
                administration,
                block=block,
                period=period,
                inhabitants=inhabitants,
                upload=upload,
                checked=checked,
            )
    except IntegrityError:
        raise Conflict(
            f"Another {block} submission for {period} arrived at the same time; read the current one and submit "
            "again if it still needs correcting.",
            code="submitted_concurrently",
        ) from None


@router.post(
    "/submissions",
    response_model=SubmissionOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 413, 422, 503),
    openapi_extra=_FILE_BY_BLOCK,
)
async def submit_publication(
    runtime: RuntimeDep,
    administration: AdministrationDep,
    block: Annotated[Block, Form(description="Which publication.")],
    period: Annotated[int, Form(ge=FIRST_PERIOD, le=LAST_PERIOD, description="The year it covers.")],
    file: Annotated[UploadFile, File(description=_FILE_DESCRIPTION, json_schema_extra={"minLength": 1})],
    # Without `| None`, which the schema would publish as a null: a form field is a number, or left out.
    inhabitants: Annotated[
        int,
        Form(
            ge=1,
            le=MAX_INHABITANTS,
            description="Inhabitants the administration serves that year, for figures per inhabitant.",
        ),
    ] = None,  # type: ignore[assignment]
) -> Any:
    """Submit a block of mandatory publication for a year: checked, notarised and published (201); a correction
    when the block and year have one. 409 for a file that is already the current one; 422 lists every bad row."""
    limit = runtime.settings.section(OpendataSettings).max_resource_bytes
    upload = await _received_upload(file, runtime.settings.home_dir / "opendata" / "incoming", limit)
    try:
        return await run_in_threadpool(_record, runtime, administration, block, period, inhabitants, upload)
    finally:
        upload.path.unlink(missing_ok=True)


async def _received_upload(file: UploadFile, incoming: Path, limit: int) -> Upload:
    """The form's file written where the catalogue takes uploads from, hashed; 413 past `limit` bytes."""
    incoming.mkdir(parents=True, exist_ok=True)
    path = incoming / secrets.token_hex(16)
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("wb") as target:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(
                        f"The file is larger than {limit} bytes (SEGELL_OPENDATA_MAX_RESOURCE_BYTES).",
                        details={"limit_bytes": limit},
                    )
                digest.update(chunk)
                target.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Upload(path, safe_file_name(file.filename or "", fallback="file")[:200], size, digest.hexdigest())


BlockQuery = Annotated[Block | None, Query(description="Only this block.")]
PeriodQuery = Annotated[int | None, Query(ge=FIRST_PERIOD, le=LAST_PERIOD, description="Only this year.")]
AdministrationQuery = Annotated[AdministrationCode | None, Query(description="Only this administration's (its code).")]
StatusQuery = Annotated[SubmissionStatus | None, Query(description="current or superseded.")]
LimitQuery = Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")]
OffsetQuery = Annotated[int, Query(ge=0, le=10**9, description="Skip this many.")]


def _list(runtime: Runtime, recipient: str | None, **filters: Any) -> dict[str, Any]:
    with runtime.transaction() as session:
        if recipient is None:
            return publications.list_submissions(session, _place(runtime), **filters)
        return publications.recipient_list(session, _place(runtime), recipient, **filters)


@router.get("/submissions", response_model=SubmissionPage, responses=error_responses(422))
async def list_publications(
    runtime: RuntimeDep,
    administration: AdministrationQuery = None,
    block: BlockQuery = None,
    period: PeriodQuery = None,
    status: StatusQuery = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> Any:
    """The submissions, newest first, current and superseded; public."""
    return await run_in_threadpool(
        _list,
        runtime,
        None,
        administration_code=administration,
        block=block,
        period=period,
        status=status,
        limit=limit,
        offset=offset,
    )


def _get(runtime: Runtime, submission_id: str) -> dict[str, Any]:
    with runtime.transaction() as session:
        return publications.get_submission(session, _place(runtime), submission_id)


@router.get("/submissions/{submission_id}", response_model=SubmissionOut, responses=error_responses(404, 422))
async def get_publication(submission_id: SubmissionId, runtime: RuntimeDep) -> Any:
    """One submission, as submitted; public."""
    return await run_in_threadpool(_get, runtime, submission_id)


def _accesses(runtime: Runtime, administration: Administration, submission_id: str) -> dict[str, Any]:
    with runtime.transaction() as session:
        return publications.accesses(session, administration, submission_id)


@router.get(
    "/submissions/{submission_id}/accesses",
    response_model=SubmissionAccesses,
    responses=error_responses(401, 403, 404, 422),
)
async def list_publication_accesses(
    submission_id: SubmissionId, runtime: RuntimeDep, administration: AdministrationDep
) -> Any:
    """Who of the deployment's recipients read one of the administration's submissions, what and when."""
    return await run_in_threadpool(_accesses, runtime, administration, submission_id)


# -- recipients ---------------------------------------------------------------------------------------------------


def get_recipient(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(recipient_scheme)],
    authenticators: AuthenticatorsDep,
) -> str:
    """The recipient whose token the request carries: 401 without one; 403 for an API key."""
    if credentials is None:
        raise Unauthenticated("Send a recipient's token: `Authorization: Bearer <token>`.")
    recipient = publications.recipient_of(runtime.settings.section(OpendataSettings), credentials.credentials)
    if recipient is not None:
        return recipient
    with runtime.transaction() as session:
        authenticate_api_key(session, credentials, authenticators)  # 401 for a token that is nobody's
    raise Forbidden(
        "Only the deployment's recipients read here, with their own token (SEGELL_OPENDATA_RECIPIENTS); an API key "
        "reads the public GET /v1/transparency/submissions.",
        code="recipient_token_required",
    )


RecipientDep = Annotated[str, Depends(get_recipient)]


@router.get("/recipient/submissions", response_model=SubmissionPage, responses=error_responses(401, 403, 422))
async def list_received_publications(
    runtime: RuntimeDep,
    recipient: RecipientDep,
    administration: AdministrationQuery = None,
    block: BlockQuery = None,
    period: PeriodQuery = None,
    status: StatusQuery = None,
    limit: LimitQuery = 100,
    offset: OffsetQuery = 0,
) -> Any:
    """The submissions, for a recipient; each one listed is recorded as read (`metadata`)."""
    return await run_in_threadpool(
        _list,
        runtime,
        recipient,
        administration_code=administration,
        block=block,
        period=period,
        status=status,
        limit=limit,
        offset=offset,
    )


def _received(runtime: Runtime, recipient: str, submission_id: str) -> dict[str, Any]:
    with runtime.transaction() as session:
        return publications.recipient_get(session, _place(runtime), recipient, submission_id)


@router.get(
    "/recipient/submissions/{submission_id}",
    response_model=SubmissionOut,
    responses=error_responses(401, 403, 404, 422),
)
async def get_received_publication(submission_id: SubmissionId, runtime: RuntimeDep, recipient: RecipientDep) -> Any:
    """One submission, for a recipient; the read is recorded (`metadata`)."""
    return await run_in_threadpool(_received, runtime, recipient, submission_id)


def _received_file(runtime: Runtime, recipient: str, submission_id: str) -> tuple[Any, str, str]:
    with runtime.transaction() as session:
        return publications.recipient_file(session, _place(runtime), recipient, submission_id)


@router.get(
    "/recipient/submissions/{submission_id}/file",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file as submitted: its SHA-256 is the submission's `sha256`.",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in publications.MEDIA_TYPES.values()
            },
        },
        **error_responses(401, 403, 404, 422),
    },
)
async def get_received_publication_file(
    submission_id: SubmissionId, runtime: RuntimeDep, recipient: RecipientDep
) -> FileResponse:
    """The submitted file, for a recipient; the read is recorded (`file`)."""
    path, filename, media_type = await run_in_threadpool(_received_file, runtime, recipient, submission_id)
    return FileResponse(path, media_type=media_type, filename=filename)
