"""The participation domain's variables (``SEGELL_PARTICIPATION_*``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from segell.services.settings import SettingsSection


class ParticipationSettings(SettingsSection):
    model_config = SettingsConfigDict(env_prefix="SEGELL_PARTICIPATION_")

    max_census_upload: int = Field(
        default=100_000, ge=1, description="Citizen ids one census upload may add (send more in several uploads)."
    )
    max_projects: int = Field(default=1_000, ge=1, description="Projects one participatory budget may hold.")
