"""The open-data catalogue's settings: ``SEGELL_OPENDATA_*``."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from segell.services.settings import SettingsSection


class OpendataSettings(SettingsSection):
    model_config = SettingsConfigDict(env_prefix="SEGELL_OPENDATA_")

    max_resource_bytes: int = Field(
        default=100 * 2**20, gt=0, description="Largest file one resource upload may carry, in bytes."
    )
    max_search_rows: int = Field(
        default=1000, ge=1, le=100_000, description="Most datasets `package_search` answers in one page."
    )
    dcat_page_size: int = Field(
        default=100, ge=1, le=10_000, description="Datasets in one page of the DCAT-AP catalogue (`/catalog.ttl`)."
    )
