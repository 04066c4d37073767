from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

# A DIR3 unit code (L01080193, EA0003311) or a tax code (P0801900B): stored upper-case, at most 32 bytes on chain.
AdministrationCode = Annotated[
    str,
    StringConstraints(min_length=2, max_length=32, pattern=r"^[A-Z0-9][A-Z0-9._-]*$"),
    BeforeValidator(lambda value: value.strip().upper() if isinstance(value, str) else value),
]


class AdmissionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: AdministrationCode = Field(
        description="Stable id of the administration: its DIR3 code or tax code."
    )
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class AdministrationOut(BaseModel):
    code: str
    chain_id: str = Field(description="The administration's bytes32 id in the on-chain registry.")
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
