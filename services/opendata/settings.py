"""The open-data catalogue's settings: ``SEGELL_OPENDATA_*``."""

import re
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from segell.services.settings import SettingsSection

RECIPIENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def parse_recipients(value: Any) -> dict[str, str]:
    """``name=<sha256 of its token>,name=...`` (or a mapping) as ``{name: sha256}``; `ValueError` saying what is
    wrong otherwise."""
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, str):
        pairs = []
        for entry in value.split(","):
            if not entry.strip():
                continue
            name, equals, digest = entry.partition("=")
            if not equals:
                raise ValueError(f"{entry.strip()!r} is not name=<sha256 of the recipient's token>")
            pairs.append((name, digest))
    else:
        raise ValueError("write the recipients as name=<sha256 of its token>,name=...")
    recipients: dict[str, str] = {}
    for name, digest in pairs:
        name, digest = str(name).strip().lower(), str(digest).strip().lower()
        if not RECIPIENT_NAME.match(name):
            raise ValueError(f"recipient name {name!r}: 1-60 of a-z 0-9 _ -, starting with a letter or digit")
        if not SHA256_HEX.match(digest):
            raise ValueError(f"recipient {name!r}: its token's SHA-256 must be 64 hexadecimal digits")
        if name in recipients:
            raise ValueError(f"recipient {name!r} is named twice")
        recipients[name] = digest
    return recipients


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
    recipients: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="Who reads mandatory publications for the deployment: `name=<SHA-256 of its token>,...`, "
        "e.g. `generalitat=9f86...,age=2c26...`.",
    )
    consolidated_publisher: str | None = Field(
        default=None,
        description="Code of the administration that publishes the consolidated datasets; by default the first "
        "admitted one.",
    )

    @field_validator("recipients", mode="before")
    @classmethod
    def _recipients(cls, value: Any) -> dict[str, str]:
        return parse_recipients(value)
