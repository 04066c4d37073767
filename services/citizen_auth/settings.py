"""Citizen authentication's settings: ``SEGELL_CITIZEN_SMS_GATEWAY``, ``SEGELL_CITIZEN_CODE_TTL`` and
``SEGELL_CITIZEN_TOKEN_TTL``."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from segell.services.settings import SettingsSection


class CitizenAuthSettings(SettingsSection):
    model_config = SettingsConfigDict(env_prefix="SEGELL_CITIZEN_")

    sms_gateway: str = Field(
        default="outbox", description="How one-time codes reach phones: `outbox` (the sandbox's) or a registered name."
    )
    code_ttl: int = Field(default=300, gt=0, le=300, description="Seconds a one-time code is valid (<= 5 min).")
    token_ttl: int = Field(default=600, gt=0, le=3600, description="Seconds a citizen token is valid.")
