from typing import Literal

from pydantic import BaseModel, Field


class DeploymentDescription(BaseModel):
    """This deployment's chain and contracts: what `segell trust add URL` pins to verify its proof bundles."""

    format: Literal["segell-deployment"] = "segell-deployment"
    version: Literal[1] = 1
    name: str = Field(description="The deployment's name (SEGELL_DEPLOYMENT_NAME).")
    chain_id: int = Field(description="EIP-155 chain id of the consortium chain.")
    notary: str = Field(description="Address of the Notary contract that anchors this deployment's roots.")
    registry: str = Field(description="Address of the AdministrationRegistry the Notary names.")
    deployment_block: int = Field(description="The block the contracts were deployed in.")
    api_url: str = Field(description="The deployment's API.")
    rpc_url: str = Field(description="Its read-only JSON-RPC endpoint.")
