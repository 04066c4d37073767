"""The interoperability domain: data exchanged between administrations with a purpose, sealed answers, evidence
anyone can check, and an access log citizens can read."""

from datetime import UTC, datetime

from fastapi import FastAPI

from segell.services.domains import Domain
from segell.services.interop import service
from segell.services.interop.access_router import router as access_router
from segell.services.interop.once_only_router import router as once_only_router
from segell.services.interop.router import router
from segell.services.interop.settings import InteropSettings
from segell.services.runtime import Runtime


def _close_past_days(app: FastAPI, runtime: Runtime) -> None:
    """Notarise the access log of the days that ended while no exchange closed them."""
    service.close_days(runtime, datetime.now(UTC))


domain = Domain(
    name="interop",
    routers=(router, once_only_router, access_router),
    models=("segell.services.interop.models", "segell.services.interop.once_only_models"),
    settings=InteropSettings,
    start=(_close_past_days,),
)
