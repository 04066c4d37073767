"""The citizen's interop routes: who accessed their data (and its export), and the requests for their reusable
documents, to preview and consent to or refuse. All of them take the citizen's token (`CitizenDep`); the page
`/me/access` (services/web) calls them."""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from segell.services.deps import CitizenDep, ClockDep, RuntimeDep, SessionDep
from segell.services.errors import error_responses
from segell.services.file_names import content_disposition
from segell.services.interop import access_service, once_only_service
from segell.services.interop.access_schemas import AccessAnchor, AccessLog, ExportFormat
from segell.services.interop.once_only_schemas import CitizenOnceOnlyRequest, CitizenOnceOnlyRequests, ConsentDecision

router = APIRouter(prefix="/v1/me", tags=["citizen interop"], responses=error_responses(401, 403, 404))

RequestPath = Annotated[str, Path(min_length=1, max_length=40, description="The once-only request's id.")]
AccessPath = Annotated[str, Path(min_length=1, max_length=40, description="The access's `id`.")]
_PRIVATE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_CONTENT_DISPOSITION = {
    "Content-Disposition": {"description": "`attachment`, with the file's name.", "schema": {"type": "string"}}
}


@router.get("/access", response_model=AccessLog)
def read_access_log(citizen: CitizenDep, session: SessionDep, clock: ClockDep) -> AccessLog:
    """Who accessed the citizen's data, when, for what procedure and under what legal basis; newest first."""
    return access_service.access_log(session, citizen, clock())


@router.get(
    "/access/export",
    response_class=Response,
    responses={
        200: {
            "description": "The accesses, as CSV or JSON, as an attachment.",
            "content": {"text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": {"type": "object"}}},
            "headers": _CONTENT_DISPOSITION,
        },
        **error_responses(422),
    },
)
def export_access_log(
    citizen: CitizenDep,
    session: SessionDep,
    clock: ClockDep,
    format: Annotated[ExportFormat, Query(description="`csv` or `json`.")] = "csv",
) -> Response:
    """The citizen's accesses as a file to keep: CSV or JSON."""
    now = clock()
    log = access_service.access_log(session, citizen, now)
    name = f"segell-accesses-{now.date().isoformat()}.{format}"
    if format == "csv":
        content, media_type = access_service.export_csv(log), "text/csv; charset=utf-8"
    else:
        content, media_type = access_service.export_json(log, now), "application/json"
    headers = {**_PRIVATE, "Content-Disposition": content_disposition(name, fallback="accesses")}
    return Response(content, media_type=media_type, headers=headers)


@router.get("/access/{access_id}/anchor", response_model=AccessAnchor, responses=error_responses(409, 422))
def read_access_anchor(
    access_id: AccessPath, citizen: CitizenDep, session: SessionDep, clock: ClockDep
) -> AccessAnchor:
    """What checks, without Segell, that an access is in its day's notarised log (once the day is closed)."""
    return access_service.access_anchor(session, citizen, access_id, clock())


@router.get("/once-only", response_model=CitizenOnceOnlyRequests)
def read_once_only_requests(citizen: CitizenDep, session: SessionDep) -> CitizenOnceOnlyRequests:
    """Other administrations' requests for the citizen's reusable documents, newest first."""
    subject = once_only_service.subject_of(session, citizen)
    return CitizenOnceOnlyRequests(requests=once_only_service.citizen_requests(session, subject))


@router.get(
    "/once-only/{request_id}/preview",
    response_class=Response,
    responses={
        200: {
            "description": "The document the request asks for, as an attachment.",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            "headers": _CONTENT_DISPOSITION,
        }
    },
)
def preview_once_only_document(request_id: RequestPath, citizen: CitizenDep, session: SessionDep) -> Response:
    """The document a request asks for, for the citizen to see before deciding."""
    subject = once_only_service.subject_of(session, citizen)
    document = once_only_service.preview(session, subject, request_id)
    headers = {
        **_PRIVATE,
        "Content-Disposition": content_disposition(document.file_name),
        # Served as a download, never as a page of this site: whatever it holds runs nothing here.
        "Content-Security-Policy": "sandbox; default-src 'none'",
    }
    return Response(document.content, media_type=document.media_type, headers=headers)


@router.post(
    "/once-only/{request_id}/decision", response_model=CitizenOnceOnlyRequest, responses=error_responses(409, 422)
)
def decide_once_only_request(
    request_id: RequestPath, body: ConsentDecision, citizen: CitizenDep, runtime: RuntimeDep, clock: ClockDep
) -> CitizenOnceOnlyRequest:
    """The citizen consents to sending their document, or refuses; a decision is taken once."""
    # The transaction is the handler's own, committed in its thread: a decision waiting for another's row lock
    # never waits for a thread of the pool to commit that other one.
    with runtime.transaction() as session:
        subject = once_only_service.subject_of(session, citizen)
    with runtime.transaction() as session:
        return once_only_service.decide(session, subject, request_id, body.decision, clock())
