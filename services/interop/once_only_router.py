"""The administrations' once-only routes: binding a citizen's login to their subject, marking a citizen's document
reusable, asking for one, and fetching it with its evidence."""

import json
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from segell.services.deps import AdministrationDep, ClockDep, RuntimeDep, SessionDep
from segell.services.errors import error_responses
from segell.services.interop import once_only_service as service
from segell.services.interop.once_only_schemas import (
    CitizenBinding,
    CitizenBound,
    OnceOnlyDelivery,
    OnceOnlyRequestIn,
    OnceOnlyRequestOut,
    ReusableDocumentIn,
    ReusableDocumentOut,
)

router = APIRouter(prefix="/v1/interop", tags=["interop once-only"], responses=error_responses(401, 403))

RequestId = Annotated[str, Path(pattern=r"^oo_[0-9a-f]{24}$", description="The once-only request's id.")]


@router.post("/citizens", response_model=CitizenBound, responses=error_responses(409, 422))
def bind_citizen(
    body: CitizenBinding, runtime: RuntimeDep, administration: AdministrationDep, clock: ClockDep
) -> CitizenBound:
    """Bind a citizen's login with this administration to their national id, so they can read their accesses."""
    # Committed in the handler's own thread: a binding waiting on another's insert of the same login never waits
    # for a thread of the pool to commit that one.
    with runtime.transaction() as session:
        return service.bind_citizen(session, runtime, administration, body, clock())


@router.post(
    "/once-only/documents",
    response_model=ReusableDocumentOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, 413, 422),
)
def mark_reusable(body: ReusableDocumentIn, runtime: RuntimeDep, holder: AdministrationDep) -> ReusableDocumentOut:
    """Mark a document a citizen submitted to this administration reusable by other administrations."""
    return service.mark_reusable(runtime, holder, body)


@router.post(
    "/once-only/requests",
    response_model=OnceOnlyRequestOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 422),
)
def request_document(
    body: OnceOnlyRequestIn, session: SessionDep, runtime: RuntimeDep, consumer: AdministrationDep, clock: ClockDep
) -> OnceOnlyRequestOut:
    """Ask for a citizen's reusable document: with a legal basis the holder accepts, or waiting for consent."""
    return service.request_document(session, runtime, consumer, body, clock())


@router.get("/once-only/requests/{request_id}", response_model=OnceOnlyRequestOut, responses=error_responses(404, 422))
def read_request(request_id: RequestId, session: SessionDep, consumer: AdministrationDep) -> OnceOnlyRequestOut:
    """A once-only request of this administration: whether the citizen has decided."""
    return service.read_request(session, consumer, request_id)


@router.get(
    "/once-only/requests/{request_id}/document",
    response_model=OnceOnlyDelivery,
    responses=error_responses(404, 409, 422, 503),
)
def fetch_document(request_id: RequestId, runtime: RuntimeDep, consumer: AdministrationDep) -> OnceOnlyDelivery:
    """The document, sealed by its holder and notarised; 403 `consent_missing` until the citizen consents."""
    return service.fetch_document(runtime, consumer, request_id, runtime.settings.api_url)


@router.get(
    "/once-only/requests/{request_id}/evidence",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}}, "description": "The evidence file (`segell-interop-evidence`)."},
        **error_responses(404, 409, 422),
    },
)
def evidence(request_id: RequestId, session: SessionDep, consumer: AdministrationDep) -> Response:
    """The delivery's evidence file, once both sides are anchored (409 `not_anchored` until then)."""
    content = service.evidence_file(session, consumer, request_id)
    return Response(
        json.dumps(content, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{request_id}.evidence.json"'},
    )
