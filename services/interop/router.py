"""The interoperability routes: the catalogue, authorisations, exchanges and their evidence, the log's days."""

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from segell.services.deps import (
    AdministrationDep,
    CallerDep,
    RuntimeDep,
    SessionDep,
    api_key_sent,
    bearer_scheme,
    clock_of,
    get_administration,
    get_authenticators,
)
from segell.services.errors import ValidationFailed, error_responses
from segell.services.interop import service
from segell.services.interop.schemas import (
    AuthorisationDecision,
    AuthorisationList,
    AuthorisationOut,
    AuthorisationRequest,
    ExchangeOut,
    ExchangeRequest,
    LogDayVerification,
    RecordUpload,
    RecordUploadOut,
    RegisteredService,
    ServiceList,
    ServiceOut,
    ServiceRegistration,
)
from segell.services.runtime import Runtime

router = APIRouter(prefix="/v1/interop", tags=["interop"], responses=error_responses(401, 403))

Day = Annotated[str, Path(description="A day, YYYY-MM-DD (UTC).", json_schema_extra={"format": "date"})]
ResourceId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="32 lower-case hex digits.")]


@router.post(
    "/services",
    response_model=RegisteredService,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, 422),
)
def register_service(body: ServiceRegistration, runtime: RuntimeDep, provider: AdministrationDep) -> RegisteredService:
    """Register a data service the administration provides, sealed with its seal certificate."""
    return service.register_service(runtime, provider, body)


@router.get("/services", response_model=ServiceList)
def list_services(session: SessionDep, caller: CallerDep) -> ServiceList:
    """The catalogue of every administration's data services."""
    return ServiceList(items=service.list_services(session))


@router.get("/services/{service_id}", response_model=ServiceOut, responses=error_responses(404, 422))
def get_service(service_id: ResourceId, session: SessionDep, caller: CallerDep) -> ServiceOut:
    """One data service of the catalogue."""
    return service.get_service(session, service_id)


@router.put("/services/{service_id}/records", response_model=RecordUploadOut, responses=error_responses(404, 409, 422))
def upload_records(
    service_id: ResourceId, body: RecordUpload, runtime: RuntimeDep, provider: AdministrationDep
) -> RecordUploadOut:
    """Upload records a built-in service answers from (its register); national ids are kept only hashed."""
    return RecordUploadOut(stored=service.upload_records(runtime, provider, service_id, body))


@router.post(
    "/authorisations",
    response_model=AuthorisationOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, 422),
)
def request_authorisation(
    body: AuthorisationRequest, session: SessionDep, consumer: AdministrationDep
) -> AuthorisationOut:
    """Ask a provider for access to its service for one procedure."""
    return service.request_authorisation(session, consumer, body)


@router.get("/authorisations", response_model=AuthorisationList)
def list_authorisations(session: SessionDep, administration: AdministrationDep) -> AuthorisationList:
    """The authorisations the administration asked for, and those asked of it."""
    return AuthorisationList(items=service.list_authorisations(session, administration))


@router.post(
    "/authorisations/{authorisation_id}/decision",
    response_model=AuthorisationOut,
    responses=error_responses(404, 422),
)
def decide_authorisation(
    authorisation_id: ResourceId, body: AuthorisationDecision, session: SessionDep, provider: AdministrationDep
) -> AuthorisationOut:
    """Grant or refuse an authorisation to one of the administration's services."""
    return service.decide_authorisation(session, provider, authorisation_id, body)


def _inlined(schema: Any, definitions: dict[str, Any]) -> Any:
    """`schema` with each `#/$defs/...` reference replaced by the definition it names (OpenAPI resolves a reference
    from the document's root, where a model's own `$defs` are not)."""
    if isinstance(schema, dict):
        reference = schema.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            return _inlined(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inlined(value, definitions) for key, value in schema.items() if key != "$defs"}
    if isinstance(schema, list):
        return [_inlined(value, definitions) for value in schema]
    return schema


def _exchange_schema() -> dict[str, Any]:
    schema = ExchangeRequest.model_json_schema()
    inlined: dict[str, Any] = _inlined(schema, schema.get("$defs", {}))
    return inlined


# The body and the API key are read by the route itself (`_exchange_request`), documented here as FastAPI would.
_EXCHANGE_OPENAPI = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": _exchange_schema()}}},
    "security": [{"HTTPBearer": []}],
}


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").partition(";")[0].strip().lower()
    maintype, _, subtype = media_type.partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


async def _exchange_request(request: Request) -> tuple[ExchangeRequest, HTTPAuthorizationCredentials]:
    """The body and the API key of an exchange, refused as FastAPI refuses them when it reads a body parameter and
    `ApiKeySentDep`: a body that is not JSON 422 first, then no API key 401, then a body that breaks the schema 422."""
    raw = await request.body()
    content: Any = None
    if raw:
        content = raw
        if _is_json(request.headers.get("content-type")):
            try:
                content = json.loads(raw)
            except UnicodeDecodeError:
                raise ValidationFailed.in_body("JSON must be encoded in UTF-8") from None
            except json.JSONDecodeError as exc:
                error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {}}
                raise RequestValidationError([{**error, "ctx": {"error": exc.msg}}]) from None
    credentials = await api_key_sent(await bearer_scheme(request))
    if content is None:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    try:
        body = ExchangeRequest.model_validate(content)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    return body, credentials


@router.post(
    "/requests",
    response_model=ExchangeOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, 422, 502, 504),
    openapi_extra=_EXCHANGE_OPENAPI,
)
async def exchange(request: Request) -> Response:
    """Ask a provider's service about a citizen, for a procedure: the answer, sealed by the provider."""
    # Served from the event loop, body and API key read here: FastAPI's handling of a body parameter and of a
    # dependency cost a third of an exchange's time in the event loop. A built-in service's exchange has its API
    # key checked in the transaction that writes it, shared with the exchanges that arrive meanwhile; the others
    # take a worker thread.
    body, credentials = await _exchange_request(request)
    runtime: Runtime = request.app.state.runtime
    api_url, now = runtime.settings.api_url, clock_of(request)()
    answered = await service.exchange_from_register(runtime, credentials.credentials, body, api_url, now)
    if answered is None:
        consumer = await run_in_threadpool(get_administration, runtime, credentials, get_authenticators(request))
        answered = await run_in_threadpool(service.exchange, runtime, consumer, body, api_url, now)
    return Response(answered, status_code=status.HTTP_201_CREATED, media_type="application/json")


@router.get("/requests/{exchange_id}", response_model=ExchangeOut, responses=error_responses(404, 422))
def get_exchange(
    exchange_id: ResourceId, runtime: RuntimeDep, session: SessionDep, administration: AdministrationDep
) -> ExchangeOut:
    """An exchange, for its consumer or its provider."""
    return service.get_exchange(session, administration, exchange_id, runtime.settings.api_url)


@router.get(
    "/requests/{exchange_id}/evidence",
    responses={
        **error_responses(404, 409, 422),
        200: {"content": {"application/json": {}}, "description": "The evidence file (`segell-interop-evidence`)."},
    },
)
def evidence(exchange_id: ResourceId, session: SessionDep, administration: AdministrationDep) -> Response:
    """The exchange's evidence file, once both sides are anchored (409 `not_anchored` until then)."""
    content = service.evidence_file(session, administration, exchange_id)
    return Response(
        json.dumps(content, ensure_ascii=False, indent=1),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{exchange_id}.evidence.json"'},
    )


@router.get("/log/{day}", response_model=LogDayVerification, responses=error_responses(422))
def verify_log_day(day: Day, session: SessionDep, consumer: AdministrationDep) -> LogDayVerification:
    """Whether the administration's access log of a day is still exactly what was notarised."""
    try:
        parsed = date.fromisoformat(day) if len(day) == 10 else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationFailed(
            f"Invalid request. path.day: {day} is not a date; write it YYYY-MM-DD.",
            details=[{"location": "path.day", "message": "not a date"}],
        )
    return service.verify_day(session, consumer.id, parsed)
