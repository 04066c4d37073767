"""Dependencies shared by the routers: the runtime, a database session, the authenticated caller."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from segell.services.administrations.service import Caller, authenticate
from segell.services.errors import Forbidden, Unauthenticated
from segell.services.runtime import Runtime

bearer_scheme = HTTPBearer(auto_error=False, description="An API key issued by the consortium's governance.")


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """One transaction per request: committed before the response is sent, rolled back when the handler raises."""
    with runtime.transaction() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_caller(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)]
) -> Caller:
    if credentials is None:
        raise Unauthenticated("Missing API key. Send `Authorization: Bearer <api key>`.")
    return authenticate(session, credentials.credentials)


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_governance(caller: CallerDep) -> Caller:
    if not caller.is_governance:
        raise Forbidden("Only the consortium's governance key may do this.")
    return caller


GovernanceDep = Annotated[Caller, Depends(get_governance)]
