"""Citizen authentication over HTTP.

`/v1/auth/...` is called by an administration's citizen-facing app with the administration's API key: it asks
for codes, checks them and hands the citizen the token. `/v1/citizens/me...` is called with the citizen's token.
`/.well-known/jwks.json` is public: any service checks tokens with it.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from segell.services.administrations import api as administrations
from segell.services.administrations.api import AdministrationCode
from segell.services.citizen_auth import service, tokens
from segell.services.citizen_auth.deps import CitizenAuthDep
from segell.services.citizen_auth.schemas import (
    Citizen,
    CitizenToken,
    CodeLogin,
    JsonWebKeySet,
    OtpChallenge,
    OtpRequest,
    OutboxList,
    OutboxMessage,
    Phone,
    TotpConfirmRequest,
    TotpEnrolment,
    TotpStatus,
)
from segell.services.deps import AdministrationDep, CallerDep, CitizenDep, RuntimeDep, SessionDep
from segell.services.errors import NotFound, error_responses

_DESCRIPTIONS = {
    404: "No code is pending for this number (expired, used, replaced, or never sent), or nothing is enrolled.",
    409: "An authenticator is already enrolled; replacing it needs a login with it.",
    429: "A rate limit or lock-out applies: too many codes asked for or tried for this number or from this client "
    "address. `Retry-After` says when to try again.",
    503: "The SMS gateway did not take the message; try again later.",
}
# A wrong code is a well-formed request whose credential grants nothing: 403, as for the other refusals of a caller.
_WRONG_CODE_403 = (
    "`wrong_code`: the code is wrong, or was already used; `details.attempts_left` says how many tries the code has "
    "left. Any other code: the caller may not do this (the governance key, a suspended administration)."
)
_CITIZEN_401 = "Missing, invalid or expired citizen token, or one for an audience this server does not serve."


def _responses(
    *status_codes: int, citizen: bool = False, checks_a_code: bool = False
) -> dict[int | str, dict[str, Any]]:
    responses = error_responses(*status_codes)
    for code in status_codes:
        if code in _DESCRIPTIONS:
            responses[code] = {**responses[code], "description": _DESCRIPTIONS[code]}
    if checks_a_code:
        responses[403] = {**error_responses(403)[403], "description": _WRONG_CODE_403}
    if citizen and 401 in responses:
        responses[401] = {**responses[401], "description": _CITIZEN_401}
    return responses


router = APIRouter()
auth = APIRouter(prefix="/v1/auth", tags=["citizen authentication"], responses=_responses(401, 403))
citizens = APIRouter(prefix="/v1/citizens/me", tags=["citizens"], responses=_responses(401, 403, citizen=True))


def _client_address(request: Request, given: object) -> str:
    if given is not None:
        return str(given)
    return request.client.host if request.client else "unknown"


def _token(issued: tokens.IssuedToken) -> CitizenToken:
    return CitizenToken(
        access_token=issued.token,
        expires_in=int((issued.expires_at - issued.issued_at).total_seconds()),
        expires_at=issued.expires_at,
        citizen_id=issued.citizen_id,
        amr=issued.amr,
    )


@auth.post(
    "/otp", response_model=OtpChallenge, status_code=status.HTTP_202_ACCEPTED, responses=_responses(422, 429, 503)
)
def request_otp(
    body: OtpRequest, request: Request, tenant: AdministrationDep, citizen_auth: CitizenAuthDep
) -> OtpChallenge:
    """Send a one-time code to a citizen's mobile number (it replaces any code sent to it before), in `lang` or the
    administration's language."""
    address = _client_address(request, body.client_address)
    sent = service.request_code(citizen_auth, tenant, body.phone, address, language=body.lang)
    return OtpChallenge(
        challenge_id=sent.challenge_id, phone=sent.phone, expires_at=sent.expires_at, gateway=sent.gateway
    )


@auth.post("/otp/verify", response_model=CitizenToken, responses=_responses(404, 422, 429, checks_a_code=True))
def verify_otp(
    body: CodeLogin, request: Request, tenant: AdministrationDep, citizen_auth: CitizenAuthDep
) -> CitizenToken:
    """Check the code the citizen typed; a citizen token when it is right."""
    address = _client_address(request, body.client_address)
    return _token(service.verify_code(citizen_auth, tenant, body.phone, body.code, address))


@auth.get("/otp/outbox", response_model=OutboxList, responses=_responses(404, 422))
def read_outbox(
    session: SessionDep,
    caller: CallerDep,
    citizen_auth: CitizenAuthDep,
    administration: Annotated[
        AdministrationCode | None, Query(description="Governance only: one administration's messages.")
    ] = None,
    phone: Annotated[Phone | None, Query(description="Only the messages to this number.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first.")] = 100,
) -> OutboxList:
    """The sandbox gateway's messages whose code has not expired: governance reads all, an administration its own."""
    administration_id = None
    if administration is not None:
        found = administrations.get_by_code(session, administration)
        own = caller.administration is not None and found is not None and found.id == caller.administration.id
        if found is None or not (caller.is_governance or own):
            raise NotFound(f"No administration with code {administration!r}.")
        administration_id = found.id
    if not caller.is_governance:
        assert caller.administration is not None
        administration_id = caller.administration.id
    messages = service.read_outbox(citizen_auth, session, administration_id=administration_id, phone=phone, limit=limit)
    return OutboxList(
        items=[
            OutboxMessage(
                id=m.id, administration=m.administration, phone=m.phone, message=m.message, created_at=m.created_at
            )
            for m in messages
        ]
    )


@auth.post("/totp/verify", response_model=CitizenToken, responses=_responses(404, 422, 429, checks_a_code=True))
def verify_totp(
    body: CodeLogin, request: Request, tenant: AdministrationDep, citizen_auth: CitizenAuthDep
) -> CitizenToken:
    """Log in with the mobile number and a code of the citizen's authenticator app (TOTP)."""
    address = _client_address(request, body.client_address)
    return _token(service.verify_totp(citizen_auth, tenant, body.phone, body.code, address))


@citizens.get("", response_model=Citizen)
def read_citizen(citizen: CitizenDep, runtime: RuntimeDep) -> Citizen:
    """Who the citizen token belongs to, and how the citizen logged in."""
    with runtime.transaction() as session:
        totp = service.totp_status(session, citizen.administration, citizen.citizen_id)
    return Citizen(
        citizen_id=citizen.citizen_id,
        administration=citizen.administration.code,
        amr=citizen.amr,
        issued_at=citizen.issued_at,
        expires_at=citizen.expires_at,
        totp=totp,  # type: ignore[arg-type]
    )


@citizens.post("/totp", response_model=TotpEnrolment, status_code=status.HTTP_201_CREATED, responses=_responses(409))
def enrol_totp(citizen: CitizenDep, citizen_auth: CitizenAuthDep) -> TotpEnrolment:
    """Start enrolling an authenticator app (TOTP, RFC 6238): show `otpauth_uri` as a QR code, then confirm."""
    enrolment = service.enrol_totp(citizen_auth, citizen.administration, citizen.citizen_id, citizen.amr)
    return TotpEnrolment(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, created_at=enrolment.created_at)


@citizens.post("/totp/confirm", response_model=TotpStatus, responses=_responses(404, 422, 429, checks_a_code=True))
def confirm_totp(body: TotpConfirmRequest, citizen: CitizenDep, citizen_auth: CitizenAuthDep) -> TotpStatus:
    """Confirm the enrolment with the first code the app shows; from then on the citizen can log in with it."""
    confirmed_at = service.confirm_totp(citizen_auth, citizen.administration, citizen.citizen_id, body.code)
    return TotpStatus(confirmed_at=confirmed_at)


@router.get("/.well-known/jwks.json", response_model=JsonWebKeySet, tags=["citizen authentication"])
def read_jwks(session: SessionDep) -> JsonWebKeySet:
    """The public keys that sign citizen tokens (JWKS, RFC 7517)."""
    return JsonWebKeySet.model_validate({"keys": tokens.json_web_key_set(session)})


router.include_router(auth)
router.include_router(citizens)
