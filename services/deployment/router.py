from fastapi import APIRouter, Response

from segell.services.deployment import service
from segell.services.deployment.schemas import DeploymentDescription
from segell.services.deps import RuntimeDep

router = APIRouter(tags=["verification"])


@router.get("/.well-known/segell.json", response_model=DeploymentDescription)
def read_deployment(runtime: RuntimeDep, response: Response) -> DeploymentDescription:
    """This deployment's chain id, Notary and registry: pin them to trust its proof bundles. No API key needed."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    return service.describe(runtime)
