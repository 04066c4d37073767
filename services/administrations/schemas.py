import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

from segell.services.display_text import DisplayText

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


class AdmissionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: AdministrationCode = Field(description="Stable id of the administration: its DIR3 code or tax code.")
    name: AdministrationName


class AdministrationOut(BaseModel):
    code: str
    registry_id: str = Field(description="The administration's bytes32 id in the on-chain registry.")
    name: str
    status: Literal["active", "suspended"]
    accounts: list[str]
    admitted_at: datetime
    admission_tx: str | None


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
