"""The interoperability domain's settings: ``SEGELL_INTEROP_*``."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from segell.services.settings import SettingsSection


class InteropSettings(SettingsSection):
    model_config = SettingsConfigDict(env_prefix="SEGELL_INTEROP_")

    webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="How long a provider's endpoint may take to answer an exchange."
    )
    retry_after_seconds: int = Field(
        default=30, ge=1, le=3600, description="`Retry-After` given to a consumer when a provider is down."
    )
    seal_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        le=300,
        description="How long a provider's opened seal key is reused before its certificate is checked again "
        "(revocation, expiry).",
    )
    log_close_interval_seconds: float = Field(
        default=300.0,
        gt=0,
        le=3600,
        description="How often each API process looks for access-log days to close (a day is closed once, a few "
        "minutes after it ends), so that a day is notarised even when no exchange follows it.",
    )
