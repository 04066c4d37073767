"""The sandboxes domain: one chain per sandbox, contracts over REST, the explorer."""

from fastapi import FastAPI

from segell.services.domains import Domain
from segell.services.runtime import Runtime
from segell.services.sandboxes import contracts_router, explorer
from segell.services.sandboxes.router import router
from segell.services.sandboxes.service import SandboxService
from segell.services.sandboxes.settings import SandboxSettings


def _start_sandboxes(app: FastAPI, runtime: Runtime) -> None:
    """Restores the running sandboxes and starts their reaper: the runtime is up first."""
    service = SandboxService(runtime)
    service.start()
    app.state.sandboxes = service


def _stop_sandboxes(app: FastAPI) -> None:
    service: SandboxService = app.state.sandboxes
    service.stop()


domain = Domain(
    name="sandboxes",
    routers=(router, contracts_router.router, explorer.api, explorer.pages),
    start=(_start_sandboxes,),
    stop=(_stop_sandboxes,),
    models=("segell.services.sandboxes.models", "segell.services.sandboxes.contracts_models"),
    settings=SandboxSettings,
)
