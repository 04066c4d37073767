from segell.services.deployment.schemas import DeploymentDescription
from segell.services.deployment.settings import DeploymentSettings
from segell.services.runtime import Runtime


def describe(runtime: Runtime) -> DeploymentDescription:
    """The deployment's own contracts, as recorded when they were deployed: nothing a request can change."""
    deployment, api = runtime.deployment, runtime.settings.api_url
    return DeploymentDescription(
        name=runtime.settings.section(DeploymentSettings).name,
        chain_id=deployment.chain_id,
        notary=deployment.notary,
        registry=deployment.registry,
        deployment_block=deployment.block,
        api_url=api,
        rpc_url=f"{api}/rpc",
    )
