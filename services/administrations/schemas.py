import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

from segell.services.display_text import DisplayText, refuse_hidden_characters
from segell.services.languages import Language

_CODE = re.compile(r"[A-Z0-9][A-Z0-9._-]{1,31}")


def _check_code(code: str) -> str:
    if not _CODE.fullmatch(code):
        raise ValueError(
            "must be the administration's DIR3 unit code or tax code (for example L01080193 or P0801900B): "
            "2 to 32 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return code


# A DIR3 unit code (L01080193, EA0003311) or a tax code (P0801900B): stored upper-case, at most 32 bytes on chain.
AdministrationCode = Annotated[
    str,
    BeforeValidator(lambda value: value.strip().upper() if isinstance(value, str) else value),
    AfterValidator(_check_code),
    WithJsonSchema({"type": "string", "minLength": 2, "maxLength": 32, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$"}),
]

# Issued ids are 12 hex digits; anything up to the 16 characters the column holds is looked up (and not found).
ApiKeyId = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z]{1,16}$")]
# Shown to citizens (the verification page, certificates, signature reports), and put on chain.
AdministrationName = Annotated[str, DisplayText(max_length=200)]


# An SMS text of the administration's own: `{code}` where the one-time code goes, `{administration}` where its name
# goes, and no other brace. At most one SMS (160 characters) as written.
SMS_TEMPLATE_MAX_LENGTH = 160
SMS_PLACEHOLDERS = ("{code}", "{administration}")
_BRACED = re.compile(r"\{[^{}]*\}?|\}")
_HIDDEN = r"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_PLAIN = rf"[^{{}}{_HIDDEN}]"
SMS_TEMPLATE_PATTERN = rf"^(?:{_PLAIN}|\{{administration\}})*\{{code\}}(?:{_PLAIN}|\{{code\}}|\{{administration\}})*$"


def _check_sms_template(template: str) -> str:
    refuse_hidden_characters(template)
    for match in _BRACED.finditer(template):
        if match.group() not in SMS_PLACEHOLDERS:
            raise ValueError(
                f"{match.group()!r} at position {match.start()} is not a placeholder: only {{code}} and "
                "{administration} are filled in, and the text has no other brace"
            )
    if "{code}" not in template:
        raise ValueError("must contain {code}, where the one-time code goes")
    return template


SmsTemplate = Annotated[
    str,
    StringConstraints(min_length=1, max_length=SMS_TEMPLATE_MAX_LENGTH),
    AfterValidator(_check_sms_template),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": SMS_TEMPLATE_MAX_LENGTH,
            "pattern": SMS_TEMPLATE_PATTERN,
            "examples": ["{code} és el teu codi per a la seu electrònica de {administration}."],
        }
    ),
]
LANGUAGE_DESCRIPTION = "The language its citizens' SMS are written in, unless a citizen's app asks for another."


class AdmissionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: AdministrationCode = Field(description="Stable id of the administration: its DIR3 code or tax code.")
    name: AdministrationName
    language: Language = Field(default="ca", description=LANGUAGE_DESCRIPTION)


class SmsTemplates(BaseModel):
    """The administration's own SMS text in each language; null where Segell's default text is used."""

    ca: str | None
    es: str | None
    en: str | None


class SmsTemplatesUpdate(BaseModel):
    """SMS texts to set (a text) or to give back to Segell's default (null); a language left out is unchanged."""

    model_config = ConfigDict(extra="forbid")

    ca: SmsTemplate | None = None
    es: SmsTemplate | None = None
    en: SmsTemplate | None = None


class AdministrationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Language | None = Field(default=None, description=LANGUAGE_DESCRIPTION + " Null or absent: unchanged.")
    sms_templates: SmsTemplatesUpdate | None = Field(
        default=None,
        description="The one-time code's SMS text by language: `{code}` is replaced by the code (required) and "
        "`{administration}` by the administration's name; no other brace. "
        f"At most {SMS_TEMPLATE_MAX_LENGTH} characters as written. Null for a language: Segell's default text again.",
    )


class AdministrationOut(BaseModel):
    code: str
    registry_id: str = Field(description="The administration's bytes32 id in the on-chain registry.")
    name: str
    status: Literal["active", "suspended"]
    accounts: list[str]
    admitted_at: datetime
    admission_tx: str | None
    language: Language = Field(description=LANGUAGE_DESCRIPTION)
    sms_templates: SmsTemplates


class AdministrationList(BaseModel):
    items: list[AdministrationOut]


class ApiKeyIssued(BaseModel):
    id: str
    key: str = Field(description="The secret key. Shown once: store it now.")
    created_at: datetime


class ApiKeyInfo(BaseModel):
    id: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyList(BaseModel):
    items: list[ApiKeyInfo]


class AdmissionOut(BaseModel):
    administration: AdministrationOut
    api_key: ApiKeyIssued


class Identity(BaseModel):
    role: Literal["governance", "administration"]
    administration: AdministrationOut | None
    key_id: str
