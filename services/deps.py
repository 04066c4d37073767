"""Dependencies shared by the routers: the runtime, a database session, and who calls.

Who calls is declared once, here, for every domain, each with the one error it answers:

- ``CallerDep``: any valid API key. No key, or an invalid or revoked one: 401 ``unauthenticated``; an
  administration's key while it is suspended: 403 ``administration_suspended``.
- ``AdministrationDep``: an administration's API key, checked in a short transaction of its own. The governance
  key: 403 ``administration_key_required``.
- ``ApiKeySentDep``: the API key a request carries, for a route that checks it in a transaction of its own (the
  exchanges between administrations). No key: 401 ``unauthenticated``, before the body is checked.
- ``GovernanceDep``: the consortium's governance key. An administration's key: 403 ``governance_key_required``.
- ``CitizenDep``: a citizen token. None: 401 ``unauthenticated``; one that does not check out: 401 with the
  token's reason (``invalid_token``, ``token_expired``...). ``citizen_with_factor("totp")`` also wants a login
  with that factor: 403 ``factor_required``. ``CitizenTokenSentDep``: the token a request carries, for a route
  that checks it itself (from the event loop); none: 401 ``unauthenticated``.

The kernel knows no domain: the administrations domain says how an API key is authenticated and citizen_auth how
a citizen token is verified, in their `Domain` (`services.domains`), and the app keeps them as `Authenticators`.
"""

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from fastapi import Depends, FastAPI, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from segell.services.errors import Forbidden, Unauthenticated, Unavailable
from segell.services.runtime import Runtime

bearer_scheme = HTTPBearer(auto_error=False, description="An API key issued by the consortium's governance.")
citizen_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="CitizenToken",
    bearerFormat="JWT",
    description="A citizen token (ES256 JWT) from `POST /v1/auth/otp/verify` or `POST /v1/auth/totp/verify`.",
)


@dataclass(frozen=True)
class Caller:
    role: str  # "governance" | "administration"
    key_id: str
    administration: Any  # the administrations domain's `Administration`; None for the governance key

    @property
    def is_governance(self) -> bool:
        return self.role == "governance"


@dataclass(frozen=True)
class AuthenticatedCitizen:
    """A citizen whose token checked out."""

    citizen_id: str
    administration: Any  # the administration the token was issued for (its audience)
    amr: list[str]
    issued_at: datetime
    expires_at: datetime
    token_id: str


#: The caller an API key stands for, or `Unauthenticated` / `Forbidden` (the administrations domain's `authenticate`).
ApiKeyAuthenticator = Callable[[Session, str], Caller]
#: The citizen a token stands for (session, token, issuer, now), or `Unauthenticated` / `Forbidden` (citizen_auth).
CitizenTokenVerifier = Callable[[Session, str, str, datetime], AuthenticatedCitizen]


@dataclass(frozen=True)
class Authenticators:
    """How callers are recognised, given by the domains that own keys and tokens."""

    api_keys: ApiKeyAuthenticator | None = None
    citizen_tokens: CitizenTokenVerifier | None = None


# Dependencies that only read the app's state are coroutines: FastAPI runs a plain function dependency in its
# thread pool, a hop of a thread's CPU per dependency and request for what takes a microsecond.


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """One transaction per request: committed before the response is sent, rolled back when the handler raises."""
    with runtime.transaction() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]


def get_authenticators(request: Request) -> Authenticators:
    authenticators: Authenticators = request.app.state.authenticators
    return authenticators


async def _authenticators(request: Request) -> Authenticators:
    return get_authenticators(request)


AuthenticatorsDep = Annotated[Authenticators, Depends(_authenticators)]


def authenticate_api_key(
    session: Session, credentials: HTTPAuthorizationCredentials | None, by: Authenticators
) -> Caller:
    """The caller the request's API key stands for: 401 without one."""
    if credentials is None:
        raise _missing_api_key()
    if by.api_keys is None:
        raise Unavailable("This server authenticates no API keys: it runs without the administrations domain.")
    return by.api_keys(session, credentials.credentials)


def _missing_api_key() -> Unauthenticated:
    return Unauthenticated("Missing API key. Send `Authorization: Bearer <api key>`.")


async def api_key_sent(credentials: CredentialsDep) -> HTTPAuthorizationCredentials:
    """The API key the request carries, not checked yet (a route that checks it in its own transaction): 401 at
    once, before the body is checked, without one."""
    if credentials is None:
        raise _missing_api_key()
    return credentials


# Async: no worker thread for a dependency that reads only a header.
ApiKeySentDep = Annotated[HTTPAuthorizationCredentials, Depends(api_key_sent)]


def administration_of(caller: Caller) -> Any:
    """The caller's administration; 403 `administration_key_required` for the governance key."""
    if caller.administration is None:
        raise Forbidden(
            "This belongs to an administration: use an administration's API key, not the governance key.",
            code="administration_key_required",
        )
    return caller.administration


def get_caller(session: SessionDep, credentials: CredentialsDep, authenticators: AuthenticatorsDep) -> Caller:
    return authenticate_api_key(session, credentials, authenticators)


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_administration(runtime: RuntimeDep, credentials: CredentialsDep, authenticators: AuthenticatorsDep) -> Any:
    """The calling administration, authenticated in a short transaction of its own: the request's work (a file
    arriving, the CA's writes, the notary's) never waits behind it."""
    with runtime.transaction() as session:
        caller = authenticate_api_key(session, credentials, authenticators)
    return administration_of(caller)


# Typed as Any: the kernel names no domain's model; routes read it as the administrations domain's `Administration`.
AdministrationDep = Annotated[Any, Depends(get_administration)]


def get_governance(caller: CallerDep) -> Caller:
    if not caller.is_governance:
        raise Forbidden("Only the consortium's governance key may do this.", code="governance_key_required")
    return caller


GovernanceDep = Annotated[Caller, Depends(get_governance)]


def system_clock() -> datetime:
    return datetime.now(UTC)


Clock = Callable[[], datetime]


async def get_clock() -> Clock:
    """The time the rules use; tests override this dependency to move time without waiting."""
    return system_clock


ClockDep = Annotated[Clock, Depends(get_clock)]


def app_clock(app: FastAPI) -> Clock:
    """`get_clock` as `app` has it (tests override it, with a function or a coroutine function), outside a request:
    for a thread of the app's, or a route served from the event loop."""
    provided = app.dependency_overrides.get(get_clock, get_clock)()
    if not inspect.iscoroutine(provided):
        return cast(Clock, provided)
    try:  # a coroutine that awaits nothing (as `get_clock`) finishes at its first step
        provided.send(None)
    except StopIteration as finished:
        return cast(Clock, finished.value)
    provided.close()
    raise RuntimeError("the clock dependency awaits: it cannot be read outside a request")


def clock_of(request: Request) -> Clock:
    """`get_clock` as the request's app has it (tests override it), for a route served from the event loop that
    takes no sync dependency (each would cost a worker thread)."""
    return app_clock(request.app)


CitizenCredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Security(citizen_scheme)]


def _missing_citizen_token() -> Unauthenticated:
    return Unauthenticated("Missing citizen token. Send `Authorization: Bearer <token>` from a citizen login.")


async def citizen_token_sent(credentials: CitizenCredentialsDep) -> HTTPAuthorizationCredentials:
    """The citizen token a request carries, not checked yet (a route served from the event loop checks it): 401 at
    once, before the body is checked, without one."""
    if credentials is None:
        raise _missing_citizen_token()
    return credentials


CitizenTokenSentDep = Annotated[HTTPAuthorizationCredentials, Depends(citizen_token_sent)]


def get_citizen(
    runtime: RuntimeDep,
    clock: ClockDep,
    credentials: CitizenCredentialsDep,
    authenticators: AuthenticatorsDep,
) -> AuthenticatedCitizen:
    if credentials is None:
        raise _missing_citizen_token()
    if authenticators.citizen_tokens is None:
        raise Unavailable("This server verifies no citizen tokens: it runs without the citizen_auth domain.")
    with runtime.transaction() as session:
        return authenticators.citizen_tokens(session, credentials.credentials, runtime.settings.api_url, clock())


CitizenDep = Annotated[AuthenticatedCitizen, Depends(get_citizen)]


def citizen_with_factor(method: str) -> Callable[[AuthenticatedCitizen], AuthenticatedCitizen]:
    """A dependency accepting only tokens whose `amr` names `method`, e.g. ``"totp"``::

    TotpCitizenDep = Annotated[AuthenticatedCitizen, Depends(citizen_with_factor("totp"))]
    """

    def citizen_with(citizen: CitizenDep) -> AuthenticatedCitizen:
        if method not in citizen.amr:
            raise Forbidden(
                f"This needs a login with {method}; the token says {', '.join(citizen.amr)}.", code="factor_required"
            )
        return citizen

    return citizen_with
