"""What the interoperability routes take and answer."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from segell.services.administrations.api import AdministrationCode
from segell.services.display_text import DisplayText

ServiceCode = Annotated[
    str,
    Field(
        pattern=r"^[A-Z][A-Z0-9_]{1,39}$",
        description="The service's code, unique for its provider: upper-case letters, digits, `_` (`RESIDENCE`).",
        examples=["RESIDENCE"],
    ),
]
EliUri = Annotated[
    str,
    Field(
        pattern=r"^https?://[A-Za-z0-9.-]+(/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)*/eli/[A-Za-z0-9._~%!$&'()*+,;=:@/-]+$",
        max_length=300,
        description="A specific norm as its European Legislation Identifier (ELI) URI.",
        examples=["https://www.boe.es/eli/es/l/2015/10/01/39"],
    ),
]
ProcedureCode = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,59}$",
        description="The procedure's code in the administration's catalogue of procedures.",
        examples=["PADRO-ALTA"],
    ),
]
CaseId = Annotated[str, DisplayText(max_length=100, one_word=True)]
Officer = Annotated[str, DisplayText(max_length=200)]
NationalId = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{2,30}$",
        description="The citizen's national id (DNI, NIE): never stored, only a keyed hash of it.",
        examples=["12345678Z"],
    ),
]
Reference = Annotated[str, DisplayText(max_length=200, one_word=True)]


class ServiceRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ServiceCode
    description: Annotated[str, DisplayText(max_length=2000)]
    response_schema: dict[str, Any] = Field(
        description="The JSON Schema (2020-12) every answer's `data` follows; uploaded records are checked against it."
    )
    legal_bases: list[EliUri] = Field(min_length=1, max_length=20, description="The norms a request may cite.")
    consent_required: bool = Field(description="Whether a request must cite the citizen's consent.")
    seal_certificate: str = Field(
        pattern=r"^[0-9a-fA-F]{1,40}$",
        description="Serial of the provider's seal certificate (issued without a CSR): answers are sealed with it.",
    )
    endpoint_url: str | None = Field(
        default=None,
        max_length=500,
        pattern=r"^(https://[^\s]+|http://(127\.0\.0\.1|localhost)(:[0-9]+)?(/[^\s]*)?)$",
        description="The provider's HTTPS endpoint, called with a signed webhook (plain HTTP only on this machine, "
        "for tests). Without it, Segell answers from the records the provider uploads.",
    )


class ServiceOut(BaseModel):
    id: str
    provider: str = Field(description="The provider administration's code.")
    code: str
    description: str
    response_schema: dict[str, Any]
    legal_bases: list[str]
    consent_required: bool
    routing: Literal["builtin", "webhook"]
    endpoint_url: str | None
    seal_certificate: str
    created_at: datetime


class RegisteredService(ServiceOut):
    webhook_secret: str | None = Field(
        description="The key webhooks are signed with (HMAC-SHA256), shown only now; null for a built-in service."
    )


class ServiceList(BaseModel):
    items: list[ServiceOut]


class ProviderRecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    national_id: NationalId
    data: dict[str, Any] = Field(description="The answer's `data` for this citizen, as the response schema says.")


class RecordUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    records: list[ProviderRecordIn] = Field(min_length=1, max_length=10_000)


class RecordUploadOut(BaseModel):
    stored: int = Field(description="Records written (a citizen's earlier record is replaced).")


class AuthorisationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: AdministrationCode
    service: ServiceCode
    procedure_code: ProcedureCode
    justification: Annotated[str, DisplayText(max_length=2000)]


class AuthorisationDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["grant", "refuse"]
    reason: Annotated[str, DisplayText(max_length=2000)] | None = Field(
        default=None, description="Why: required to refuse."
    )


class AuthorisationOut(BaseModel):
    id: str
    service_id: str
    provider: str
    service: str
    consumer: str
    procedure_code: str
    justification: str
    status: Literal["pending", "granted", "refused"]
    reason: str | None
    requested_at: datetime
    decided_at: datetime | None


class AuthorisationList(BaseModel):
    items: list[AuthorisationOut]


class Subject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    national_id: NationalId


class Purpose(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure_code: ProcedureCode
    case_id: CaseId
    legal_basis: EliUri
    consent_reference: Reference | None = Field(
        default=None, description="Where the citizen's consent is recorded; required by services that need it."
    )


class ExchangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: AdministrationCode
    service: ServiceCode
    subject: Subject
    purpose: Purpose
    officer: Officer = Field(description="Who initiates the request: the officer's name or staff id.")
    hidden_until: datetime | None = Field(
        default=None, description="Until then the citizen is not shown this access (an investigation)."
    )


class ExchangeOut(BaseModel):
    id: str
    request: dict[str, Any] = Field(description="The request document, as hashed and notarised.")
    request_hash: str
    answer: dict[str, Any] = Field(description="The provider's answer: it names `request_hash`.")
    answer_hash: str = Field(description="SHA-256 of the answer's canonical JSON, the JWS payload.")
    answer_jws: str = Field(description="The answer sealed by the provider: compact JWS, ES256, chain in `x5c`.")
    request_receipt_id: str
    answer_receipt_id: str
    evidence_url: str


class LogDayVerification(BaseModel):
    day: date
    entry_count: int = Field(description="Entries in the log now.")
    notarised_count: int | None = Field(description="Entries the notarised digest counted; null if not closed.")
    intact: bool | None = Field(description="Whether the entries are exactly those notarised; null if not closed.")
    receipt_id: str | None
