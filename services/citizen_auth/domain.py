"""The citizen_auth domain: one-time codes, TOTP and tokens; it verifies citizen tokens for `CitizenDep`."""

from fastapi import FastAPI

from segell.services.citizen_auth import service
from segell.services.citizen_auth.deps import verify_citizen_token
from segell.services.citizen_auth.router import router
from segell.services.citizen_auth.settings import CitizenAuthSettings
from segell.services.domains import Domain
from segell.services.runtime import Runtime


def _start(app: FastAPI, runtime: Runtime) -> None:
    service.start(runtime)


domain = Domain(
    name="citizen_auth",
    routers=(router,),
    start=(_start,),
    models=("segell.services.citizen_auth.models",),
    verifies_citizen_tokens=verify_citizen_token,
    settings=CitizenAuthSettings,
)
