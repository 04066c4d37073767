"""Citizen authentication's dependencies, and how it verifies a citizen token for the shared `CitizenDep`.

A route that serves a citizen declares ``citizen: CitizenDep`` (from `services.deps`); it gets the token's checked
claims, and the administration the token was issued for (its audience), or the request ends with 401. A route that
wants the stronger factor declares ``citizen: Annotated[AuthenticatedCitizen, Depends(citizen_with_factor("totp"))]``::

    @router.get("/v1/participation/my-votes")
    def my_votes(citizen: CitizenDep, session: SessionDep) -> VoteList:
        return list_votes(session, citizen.administration.id, citizen.citizen_id)
"""

from datetime import datetime
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from segell.services.administrations import api as administrations
from segell.services.citizen_auth import tokens
from segell.services.citizen_auth.service import CitizenAuth
from segell.services.deps import AuthenticatedCitizen, ClockDep, RuntimeDep, get_clock
from segell.services.errors import Forbidden, Unauthenticated

__all__ = [
    "AuthenticatedCitizen",
    "CitizenAuthDep",
    "ClockDep",
    "get_citizen_auth",
    "get_clock",
    "verify_citizen_token",
]


def get_citizen_auth(runtime: RuntimeDep, clock: ClockDep) -> CitizenAuth:
    return CitizenAuth.of(runtime, clock)


CitizenAuthDep = Annotated[CitizenAuth, Depends(get_citizen_auth)]


def verify_citizen_token(session: Session, token: str, issuer: str, now: datetime) -> AuthenticatedCitizen:
    """The citizen a token stands for: 401 when it does not check out or names no administration of this server,
    403 `administration_suspended` while that administration is suspended."""
    try:
        claims = tokens.verify(session, token, issuer=issuer, now=now)
    except tokens.InvalidToken as exc:
        raise Unauthenticated(exc.message, code=exc.code) from None
    # The administration's own record, for its id, code, name and status: its chain accounts are nobody's business here.
    administration = administrations.get_by_code(session, claims.audience, with_accounts=False)
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
