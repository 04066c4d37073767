"""What the catalogue's actions take: a dataset's and a resource's fields as CKAN clients send them, checked
against DCAT-AP 3's vocabularies, and the answers' envelope."""

import json
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from segell.chain.gateway import MAX_JSON_DEPTH, json_depth
from segell.services.display_text import DisplayText
from segell.services.opendata.vocabularies import FREQUENCIES, FREQUENCY_URI, LICENCES, THEME_URI, THEMES

DatasetName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{2,100}$")]
Title = Annotated[str, DisplayText(max_length=300)]
Description = Annotated[str, StringConstraints(max_length=20_000)]
Keyword = Annotated[str, StringConstraints(pattern=r"^[\w .-]{2,100}$")]
LANGUAGES = ("ca", "es", "en")


class Translated(BaseModel):
    """A text in each of the catalogue's languages."""

    model_config = ConfigDict(extra="forbid")

    ca: Title
    es: Title
    en: Title


class TranslatedDescription(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ca: Description
    es: Description
    en: Description


class Tag(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Keyword


class DatasetFields(BaseModel):
    """A dataset as `package_create` and `package_update` take it. Fields CKAN answers but a client does not set
    (`id`, `organization`, `resources`, `metadata_modified`...) are ignored, so a dict from `package_show` can be
    sent back changed."""

    model_config = ConfigDict(extra="ignore")

    name: DatasetName
    title_translated: Translated = Field(description="The title in Catalan, Spanish and English.")
    notes_translated: TranslatedDescription = Field(description="The description in Catalan, Spanish and English.")
    owner_org: str | None = Field(default=None, description="The publishing administration: the caller's own.")
    theme: list[str] = Field(min_length=1, max_length=13, description="EU data theme codes: GOVE, ECON, ...")
    tags: list[Tag] = Field(default=[], max_length=100)
    license_id: str
    temporal_start: date | None = None
    temporal_end: date | None = None
    spatial_uri: Annotated[str, StringConstraints(max_length=300)] | None = None
    frequency: str | None = None
    private: bool = False

    @field_validator("theme")
    @classmethod
    def _known_themes(cls, themes: list[str]) -> list[str]:
        themes = [theme.removeprefix(THEME_URI) for theme in themes]
        unknown = [theme for theme in themes if theme.upper() not in THEMES]
        if unknown:
            raise ValueError(f"unknown EU data theme {', '.join(unknown)}; use one of {', '.join(THEMES)}")
        return sorted({theme.upper() for theme in themes})

    @field_validator("license_id")
    @classmethod
    def _known_licence(cls, licence: str) -> str:
        if licence not in LICENCES:
            raise ValueError(f"unknown licence {licence!r}; use one of {', '.join(LICENCES)}")
        return licence

    @field_validator("frequency")
    @classmethod
    def _known_frequency(cls, frequency: str | None) -> str | None:
        frequency = frequency.removeprefix(FREQUENCY_URI) if frequency else None
        if frequency is not None and frequency.upper() not in FREQUENCIES:
            raise ValueError(f"unknown EU frequency {frequency!r}; use one of {', '.join(FREQUENCIES)}")
        return frequency.upper() if frequency is not None else None

    @model_validator(mode="after")
    def _coverage_in_order(self) -> "DatasetFields":
        if self.temporal_start and self.temporal_end and self.temporal_end < self.temporal_start:
            raise ValueError("temporal_end is before temporal_start")
        return self


class ResourceFields(BaseModel):
    """A resource's fields besides its file (the multipart part `upload`)."""

    model_config = ConfigDict(extra="ignore")

    name: Title | None = None
    description: Description = ""
    format: str | None = Field(default=None, description="CSV, JSON, XLSX or GeoJSON; from the file's name if absent.")
    table_schema: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="The file's Table Schema (a JSON object, or its text): `fields`, and a `primaryKey` that names "
        "the rows a version difference matches.",
    )

    @field_validator("table_schema", mode="before")
    @classmethod
    def _table_schema(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            if json_depth(value.encode()) > MAX_JSON_DEPTH:
                raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError("not a JSON object") from None
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ValueError("a Table Schema is a JSON object")
        fields = value.get("fields")
        if not isinstance(fields, list) or not all(
            isinstance(field, dict) and isinstance(field.get("name"), str) and field["name"] for field in fields
        ):
            raise ValueError("`fields` must be a list of objects, each with a `name`")
        names = [field["name"] for field in fields]
        key = value.get("primaryKey", [])
        key = [key] if isinstance(key, str) else key
        if not isinstance(key, list) or not all(isinstance(name, str) and name in names for name in key):
            raise ValueError("`primaryKey` must name one or more of its `fields`")
        return value


class ActionErrorBody(BaseModel):
    """A refused action, as CKAN answers it: `error.__type` says which (`Not Found Error`, `Authorization Error`,
    `Validation Error`, `Search Query Error`, `Bad request`); a Validation Error maps each field to its messages."""

    help: str
    success: Literal[False]
    error: dict[str, Any] = Field(json_schema_extra={"required": ["__type"]})


class ActionResultBody(BaseModel):
    help: str
    success: Literal[True]
    result: Any
