"""Dependencies for citizen authentication, and `CitizenDep`: what citizen-facing services use to accept a token.

A route that serves a citizen declares ``citizen: CitizenDep``; it gets the token's checked claims, and the
administration the token was issued for (its audience), or the request ends with 401. A route that wants the
stronger factor declares ``citizen: Annotated[AuthenticatedCitizen, Depends(require_factor("totp"))]``::

    @router.get("/v1/participation/my-votes")
    def my_votes(citizen: CitizenDep, session: SessionDep) -> VoteList:
        return list_votes(session, citizen.administration.id, citizen.citizen_id)
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from segell.services.administrations import repository as administrations
from segell.services.citizen_auth import tokens
from segell.services.citizen_auth.service import CitizenAuth, Clock, system_clock
from segell.services.deps import RuntimeDep, bearer_scheme, get_caller
from segell.services.errors import Forbidden, Unauthenticated
from segell.services.models import Administration

citizen_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="CitizenToken",
    bearerFormat="JWT",
    description="A citizen token (ES256 JWT) from `POST /v1/auth/otp/verify` or `POST /v1/auth/totp/verify`.",
)


def get_clock() -> Clock:
    """The time the rules use; tests override this dependency to move time without waiting."""
    return system_clock


ClockDep = Annotated[Clock, Depends(get_clock)]


def get_citizen_auth(runtime: RuntimeDep, clock: ClockDep) -> CitizenAuth:
    return CitizenAuth.of(runtime, clock)


CitizenAuthDep = Annotated[CitizenAuth, Depends(get_citizen_auth)]


def get_tenant(
    runtime: RuntimeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
) -> Administration:
    """The administration whose app calls, authenticated in a short transaction of its own."""
    with runtime.transaction() as session:
        caller = get_caller(session, credentials)
    if caller.administration is None:
        raise Forbidden(
            "Citizens authenticate with an administration: call with that administration's API key, "
            "not the governance key."
        )
    return caller.administration


TenantDep = Annotated[Administration, Depends(get_tenant)]


@dataclass(frozen=True)
class AuthenticatedCitizen:
    """A citizen whose token checked out."""

    citizen_id: str
    administration: Administration
    amr: list[str]
    issued_at: datetime
    expires_at: datetime
    token_id: str


def get_citizen(
    runtime: RuntimeDep,
    clock: ClockDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(citizen_scheme)],
) -> AuthenticatedCitizen:
    if credentials is None:
        raise Unauthenticated("Missing citizen token. Send `Authorization: Bearer <token>` from a citizen login.")
    with runtime.transaction() as session:
        try:
            claims = tokens.verify(session, credentials.credentials, issuer=runtime.settings.api_url, now=clock())
        except tokens.InvalidToken as exc:
            raise Unauthenticated(exc.message, code=exc.code) from None
        administration = administrations.get_by_code(session, claims.audience)
    if administration is None:
        raise Unauthenticated(
            f"The token is for {claims.audience!r}, which is no administration of this server.", code="invalid_token"
        )
    if administration.status != "active":
        raise Forbidden(
            f"Administration {administration.code} is suspended; its citizens' tokens act again once it is reinstated.",
            code="administration_suspended",
        )
    return AuthenticatedCitizen(
        claims.citizen_id, administration, claims.amr, claims.issued_at, claims.expires_at, claims.token_id
    )


CitizenDep = Annotated[AuthenticatedCitizen, Depends(get_citizen)]


def require_factor(method: str) -> Callable[[AuthenticatedCitizen], AuthenticatedCitizen]:
    """A dependency accepting only tokens whose `amr` names `method`, e.g. ``"totp"``."""

    def citizen_with_factor(citizen: CitizenDep) -> AuthenticatedCitizen:
        if method not in citizen.amr:
            raise Forbidden(f"This needs a login with {method}; the token says {', '.join(citizen.amr)}.")
        return citizen

    return citizen_with_factor
