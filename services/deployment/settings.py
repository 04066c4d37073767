"""The deployment's settings: ``SEGELL_DEPLOYMENT_NAME``."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from segell.services.settings import SettingsSection


class DeploymentSettings(SettingsSection):
    model_config = SettingsConfigDict(env_prefix="SEGELL_DEPLOYMENT_")

    name: str = Field(
        default="Segell sandbox",
        min_length=1,
        description="The name /.well-known/segell.json gives this deployment; `segell trust add` pins it under it.",
    )
