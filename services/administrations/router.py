from typing import cast

from fastapi import APIRouter, status
from sqlalchemy.orm import Session

from segell.services.administrations import repository, service
from segell.services.administrations.models import Administration, ApiKey
from segell.services.administrations.schemas import (
    AdministrationCode,
    AdministrationList,
    AdministrationOut,
    AdministrationUpdate,
    AdmissionOut,
    AdmissionRequest,
    ApiKeyId,
    ApiKeyInfo,
    ApiKeyIssued,
    ApiKeyList,
    Identity,
    SmsTemplates,
)
from segell.services.deps import Caller, CallerDep, GovernanceDep, RuntimeDep, SessionDep
from segell.services.errors import NotFound, error_responses
from segell.services.languages import Language

# Every route needs an API key, and an administration's key stops working while it is suspended.
router = APIRouter(prefix="/v1", tags=["administrations"], responses=error_responses(401, 403))
# The routes about one administration: its code may be malformed or unknown.
one_administration = APIRouter(prefix="/administrations/{code}", responses=error_responses(404, 422))
# The operator's own keys.
governance_keys = APIRouter(prefix="/governance/api-keys", tags=["governance"])


def _administration_out(administration: Administration) -> AdministrationOut:
    return AdministrationOut(
        code=administration.code,
        registry_id=administration.registry_id,
        name=administration.name,
        status=administration.status,  # type: ignore[arg-type]
        accounts=[account.address for account in administration.accounts],
        admitted_at=administration.admitted_at,
        admission_tx=administration.admission_tx,
        language=administration.language,  # type: ignore[arg-type]
        sms_templates=SmsTemplates.model_validate(service.sms_templates_of(administration)),
    )


def _key_info(key: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=key.id,
        prefix=f"{service.KEY_PREFIX}_{key.id}_",
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


def _issued(issued: service.IssuedKey) -> ApiKeyIssued:
    return ApiKeyIssued(id=issued.record.id, key=issued.secret, created_at=issued.record.created_at)


@router.get("/me", response_model=Identity)
def read_me(caller: CallerDep) -> Identity:
    """Who the API key belongs to."""
    administration = _administration_out(caller.administration) if caller.administration else None
    return Identity(role=caller.role, administration=administration, key_id=caller.key_id)  # type: ignore[arg-type]


@router.post(
    "/administrations",
    response_model=AdmissionOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, 422, 503),
)
def admit_administration(
    body: AdmissionRequest, runtime: RuntimeDep, session: SessionDep, _: GovernanceDep
) -> AdmissionOut:
    """Admit an administration on chain and issue its first API key (shown once)."""
    with runtime.governance_lock:
        administration, issued = service.admit(runtime, session, code=body.code, name=body.name, language=body.language)
    return AdmissionOut(administration=_administration_out(administration), api_key=_issued(issued))


@router.get("/administrations", response_model=AdministrationList)
def list_administrations(session: SessionDep, _: GovernanceDep) -> AdministrationList:
    """List every administration."""
    return AdministrationList(items=[_administration_out(a) for a in repository.list_all(session)])


@one_administration.get("", response_model=AdministrationOut)
def read_administration(code: AdministrationCode, session: SessionDep, caller: CallerDep) -> AdministrationOut:
    """One administration: governance sees all, an administration only itself."""
    return _administration_out(_visible(session, caller, code))


@one_administration.patch("", response_model=AdministrationOut)
def update_administration(
    code: AdministrationCode, body: AdministrationUpdate, session: SessionDep, caller: CallerDep
) -> AdministrationOut:
    """Change the language of the administration's SMS and its own SMS texts: governance, or the administration."""
    administration = _visible(session, caller, code)
    changed: dict[Language, str | None] | None = None
    if body.sms_templates is not None:
        # A language given as null goes back to the default text; one left out is unchanged.
        given = body.sms_templates.model_fields_set
        changed = {cast(Language, language): getattr(body.sms_templates, language) for language in given}
    return _administration_out(service.update(administration, language=body.language, sms_templates=changed))


def _visible(session: Session, caller: Caller, code: str) -> Administration:
    """The administration with this code, if the caller may see it: governance sees all, an administration itself."""
    administration = service.get(session, code)
    if not caller.is_governance and (caller.administration is None or caller.administration.id != administration.id):
        # Another tenant's existence is not disclosed.
        raise NotFound(f"No administration with code {code!r}.")
    return administration


@one_administration.post("/suspend", response_model=AdministrationOut, responses=error_responses(503))
def suspend_administration(
    code: AdministrationCode, runtime: RuntimeDep, session: SessionDep, _: GovernanceDep
) -> AdministrationOut:
    """Suspend an administration: its accounts can no longer anchor and its keys stop working."""
    with runtime.governance_lock:
        return _administration_out(service.suspend(runtime, session, code))


@one_administration.post("/reinstate", response_model=AdministrationOut, responses=error_responses(503))
def reinstate_administration(
    code: AdministrationCode, runtime: RuntimeDep, session: SessionDep, _: GovernanceDep
) -> AdministrationOut:
    """Reinstate a suspended administration."""
    with runtime.governance_lock:
        return _administration_out(service.reinstate(runtime, session, code))


@one_administration.post("/api-keys", response_model=ApiKeyIssued, status_code=status.HTTP_201_CREATED)
def issue_api_key(code: AdministrationCode, session: SessionDep, _: GovernanceDep) -> ApiKeyIssued:
    """Issue another API key for an administration (shown once)."""
    return _issued(service.issue_key(session, service.get(session, code)))


@one_administration.get("/api-keys", response_model=ApiKeyList)
def list_api_keys(code: AdministrationCode, session: SessionDep, _: GovernanceDep) -> ApiKeyList:
    """List an administration's API keys (never their secrets)."""
    administration = service.get(session, code)
    return ApiKeyList(items=[_key_info(k) for k in repository.list_api_keys(session, administration.id)])


@one_administration.delete("/api-keys/{key_id}", response_model=ApiKeyInfo)
def revoke_api_key(code: AdministrationCode, key_id: ApiKeyId, session: SessionDep, _: GovernanceDep) -> ApiKeyInfo:
    """Revoke an API key; it stops working at once."""
    return _key_info(service.revoke_key(session, service.get(session, code), key_id))


@governance_keys.get("", response_model=ApiKeyList)
def list_governance_keys(session: SessionDep, _: GovernanceDep) -> ApiKeyList:
    """List the governance API keys (never their secrets)."""
    return ApiKeyList(items=[_key_info(k) for k in repository.list_api_keys(session, None)])


@governance_keys.post(
    "/{key_id}/rotate",
    response_model=ApiKeyIssued,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, 422),
)
def rotate_governance_key(key_id: ApiKeyId, session: SessionDep, _: GovernanceDep) -> ApiKeyIssued:
    """Issue a governance key (shown once) in place of this one, which stops working at once."""
    return _issued(service.rotate_governance_key(session, key_id))


@governance_keys.delete("/{key_id}", response_model=ApiKeyInfo, responses=error_responses(404, 409, 422))
def revoke_governance_key(key_id: ApiKeyId, session: SessionDep, _: GovernanceDep) -> ApiKeyInfo:
    """Revoke a governance key; it stops working at once. The last active one is kept (409)."""
    return _key_info(service.revoke_key(session, None, key_id))


router.include_router(one_administration)
router.include_router(governance_keys)
