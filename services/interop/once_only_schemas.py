"""What the once-only routes take and answer: citizens bound to their subject, reusable documents, the requests
other administrations make for them, and what a consumer receives."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from segell.services.display_text import DisplayText
from segell.services.interop.schemas import CaseId, EliUri, NationalId, Officer, ProcedureCode

# A JWS compact serialisation, as the citizen login returns it.
CitizenToken = Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=r"^[A-Za-z0-9_.=-]+$")]
DocumentType = Annotated[
    str,
    StringConstraints(min_length=2, max_length=40, pattern=r"^[A-Z][A-Z0-9_]+$"),
    Field(description="What the document is, as a code: `DIPLOMA`, `RESIDENCE_CERTIFICATE`...", examples=["DIPLOMA"]),
]
Title = Annotated[str, DisplayText(max_length=300)]
FileName = Annotated[str, DisplayText(max_length=200)]
MediaType = Annotated[
    str, StringConstraints(max_length=100, pattern=r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
]
Base64 = Annotated[
    str,
    StringConstraints(
        min_length=4,
        max_length=4_200_000,
        pattern=r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)$",
    ),
]
RequestStatus = Literal["consent_pending", "refused", "authorised", "delivered"]


class CitizenBinding(BaseModel):
    """An administration tells Segell whose national id a citizen who logged in with it holds."""

    model_config = ConfigDict(extra="forbid")

    citizen_token: CitizenToken = Field(description="The token of the citizen's login with this administration.")
    national_id: NationalId


class CitizenBound(BaseModel):
    citizen_id: str
    bound_at: datetime


class AdministrationRef(BaseModel):
    code: str
    name: str


class ReusableDocumentIn(BaseModel):
    """A document the citizen submitted to this administration, marked reusable by other administrations."""

    model_config = ConfigDict(extra="forbid")

    national_id: NationalId = Field(description="The national id of the citizen who submitted it.")
    document_type: DocumentType
    title: Title
    file_name: FileName
    media_type: MediaType = "application/pdf"
    content_base64: Base64 = Field(description="The document's bytes, base64 (at most 3 MB of document).")
    seal_certificate: str = Field(
        pattern=r"^[0-9a-fA-F]{1,40}$",
        description="Serial of this administration's seal certificate (`POST /v1/certificates`, profile `seal`): "
        "the document's deliveries are sealed with it.",
    )
    legal_bases: list[EliUri] = Field(
        default_factory=list,
        max_length=20,
        description="The norms under which another administration may obtain it without the citizen's consent.",
    )


class ReusableDocumentOut(BaseModel):
    id: str
    holder: AdministrationRef
    document_type: str
    title: str
    file_name: str
    media_type: str
    size: int
    sha256: str
    legal_bases: list[str]
    receipt_id: str
    created_at: datetime


class OnceOnlyRequestIn(BaseModel):
    """Another administration asks for a citizen's reusable document, for one procedure."""

    model_config = ConfigDict(extra="forbid")

    national_id: NationalId
    document_type: DocumentType
    procedure_code: ProcedureCode
    case_id: CaseId
    officer: Officer = Field(description="Who, in the administration, asks.")
    legal_basis: EliUri | None = Field(
        default=None,
        description="A norm the holder accepts, to obtain the document without the citizen's consent; without it "
        "the citizen is asked on their page, where they may preview the document first.",
    )


class OnceOnlyRequestOut(BaseModel):
    id: str
    status: RequestStatus
    document_type: str
    holder: AdministrationRef
    consumer: AdministrationRef
    procedure_code: str
    case_id: str
    legal_basis: str | None
    created_at: datetime
    decided_at: datetime | None
    delivered_at: datetime | None


class OnceOnlyDelivery(BaseModel):
    """The document as the consumer receives it, with the holder's sealed answer naming its SHA-256."""

    request: OnceOnlyRequestOut
    file_name: str
    media_type: str
    sha256: str
    content_base64: str
    request_document: dict[str, object] = Field(description="The request, as hashed and notarised.")
    request_hash: str
    answer: dict[str, object] = Field(description="The holder's answer: the document's SHA-256, name and type.")
    answer_hash: str
    answer_jws: str = Field(description="The answer, sealed by the holder (compact JWS, ES256, chain in `x5c`).")
    request_receipt_id: str
    answer_receipt_id: str
    evidence_url: str = Field(
        description="The evidence file (`segell interop verify` checks it offline), once both sides are anchored."
    )


class CitizenOnceOnlyRequest(BaseModel):
    """A request for one of the citizen's documents, as the citizen sees it on their page."""

    id: str
    status: RequestStatus
    document_title: str
    document_type: str
    holder: AdministrationRef
    consumer: AdministrationRef
    procedure_code: str
    legal_basis: str | None
    created_at: datetime
    decided_at: datetime | None


class CitizenOnceOnlyRequests(BaseModel):
    requests: list[CitizenOnceOnlyRequest]


class ConsentDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["consent", "refuse"]
