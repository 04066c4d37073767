"""What the citizen's access routes answer: the accesses to their data, as their page and their export show them."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from segell.services.interop.once_only_schemas import AdministrationRef

ExportFormat = Literal["csv", "json"]


class Access(BaseModel):
    """One access to the citizen's data: who asked, of whom, when, what, and why."""

    id: str = Field(description="The exchange (or once-only request) the access was part of.")
    at: datetime
    consumer: AdministrationRef = Field(description="The administration that asked.")
    provider: AdministrationRef = Field(description="The administration whose data or document it obtained.")
    data: str = Field(description="The data service (`RESIDENCE`...) or the type of document obtained.")
    officer: str = Field(description="Who, in the administration that asked, asked.")
    procedure_code: str
    case_id: str
    legal_basis: str = Field(description="The norm (ELI URI) under which the data was obtained.")
    consent_reference: str | None = Field(description="The citizen's consent, when it was given.")


class AccessLog(BaseModel):
    administration: AdministrationRef = Field(description="The administration the citizen logged in with.")
    accesses: list[Access] = Field(description="Newest first; those still hidden by their date are left out.")
