from fastapi import APIRouter
from fastapi.responses import JSONResponse

from segell.services.deps import RuntimeDep
from segell.services.health import service
from segell.services.health.schemas import Health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "The chain node or the database cannot be reached."}},
)
def read_health(runtime: RuntimeDep) -> JSONResponse:
    """Chain backend, head block, deployed contracts and database: 200 when all is well, 503 otherwise."""
    health = service.check(runtime)
    return JSONResponse(health.model_dump(mode="json"), status_code=200 if health.status == "ok" else 503)
