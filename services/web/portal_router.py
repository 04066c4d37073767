"""The transparency portal: its pages for people (left out of the API schema, like the verification page) and the
downloads of each publication as CSV (the file submitted, byte for byte: the one notarised) and JSON (its rows)."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from segell.services.deps import RuntimeDep, SessionDep
from segell.services.errors import NotFound, error_responses
from segell.services.file_names import content_disposition
from segell.services.opendata import api as opendata
from segell.services.web import pages, portal
from segell.services.web.portal_schemas import PublishedRows

site = APIRouter(include_in_schema=False)
downloads = APIRouter(prefix="/transparency", tags=["transparency"])

LanguageQuery = Annotated[str | None, Query(alias="lang", max_length=8)]
CodePath = Annotated[str, Path(min_length=1, max_length=32, description="The administration's code.")]
BlockPath = Annotated[str, Path(min_length=1, max_length=20, description=f"The block: {', '.join(opendata.BLOCKS)}.")]
YearPath = Annotated[int, Path(ge=1, le=9999, description="The year the publication covers.")]
VersionQuery = Annotated[
    int | None, Query(ge=1, le=100_000, description="A version, superseded or not; the current one when absent.")
]
_DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
_CONTENT_DISPOSITION = {
    "Content-Disposition": {"description": "`attachment`, with the file's name.", "schema": {"type": "string"}}
}


@site.get("/transparency", response_class=HTMLResponse)
def transparency_page(
    request: Request, session: SessionDep, lang: LanguageQuery = None, year: Annotated[str | None, Query()] = None
) -> HTMLResponse:
    """The administrations that publish, and their spending per inhabitant compared."""
    language = pages.request_language(request, lang)
    chosen = int(year) if year is not None and year.isdigit() and len(year) <= 4 else None
    body = portal.overview_page(
        language,
        opendata.published_administrations(session),
        opendata.current_figures(session, "budget"),
        chosen,
    )
    return pages.html_page(request, lang, language, body)


@site.get("/transparency/{code}", response_class=HTMLResponse)
def administration_page(
    request: Request, code: Annotated[str, Path(max_length=64)], session: SessionDep, lang: LanguageQuery = None
) -> HTMLResponse:
    """An administration's publications: every block, its versions and their verification, and its budget."""
    language = pages.request_language(request, lang)
    try:
        submissions = opendata.submissions_of(session, code)
    except NotFound:
        return pages.html_page(request, lang, language, portal.not_found_page(language, code), status_code=404)
    return pages.html_page(request, lang, language, portal.administration_page(language, submissions))


def _file_name(submission: opendata.PublishedSubmission, extension: str) -> str:
    return f"{submission.administration_code}-{submission.block}-{submission.period}-v{submission.version}.{extension}"


@downloads.get(
    "/{code}/{block}/{year}.csv",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file submitted, byte for byte: its SHA-256 is the hash notarised.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
            "headers": _CONTENT_DISPOSITION,
        },
        **error_responses(404, 422),
    },
)
def download_csv(
    code: CodePath,
    block: BlockPath,
    year: YearPath,
    session: SessionDep,
    runtime: RuntimeDep,
    version: VersionQuery = None,
) -> FileResponse:
    """A publication as the CSV file submitted (its current version, or `version`); no API key needed."""
    submission = opendata.submission(session, code, block, year, version)
    path = opendata.submission_file(opendata.files_directory(runtime.settings), submission)
    headers = {**_DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(_file_name(submission, "csv"))}
    return FileResponse(path, media_type="text/csv; charset=utf-8", headers=headers)


@downloads.get(
    "/{code}/{block}/{year}.json",
    response_model=PublishedRows,
    responses={200: {"headers": _CONTENT_DISPOSITION}, **error_responses(404, 422)},
)
def download_json(
    code: CodePath,
    block: BlockPath,
    year: YearPath,
    session: SessionDep,
    runtime: RuntimeDep,
    version: VersionQuery = None,
) -> JSONResponse:
    """A publication's rows (its current version, or `version`), typed by the block's Table Schema when it has
    one; no API key needed."""
    submission = opendata.submission(session, code, block, year, version)
    table = opendata.submission_rows(opendata.files_directory(runtime.settings), submission)
    body: dict[str, Any] = PublishedRows(
        administration=submission.administration_code,
        administration_name=submission.administration_name,
        block=submission.block,
        period=submission.period,
        version=submission.version,
        status=submission.status,
        submitted_at=submission.submitted_at,
        sha256=submission.sha256,
        verification_code=submission.verification_code,
        typed=table.typed,
        fields=list(table.fields),
        rows=table.rows,
    ).model_dump(mode="json")
    headers = {**_DOWNLOAD_HEADERS, "Content-Disposition": content_disposition(_file_name(submission, "json"))}
    return JSONResponse(body, headers=headers)


router = APIRouter()
router.include_router(site)
router.include_router(downloads)
