"""What the citizen's access routes answer: the accesses to their data, as their page and their export show them."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from segell.services.interop.once_only_schemas import AdministrationRef
from segell.services.notary.api import ProofBundle

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


class AccessLogDay(BaseModel):
    """One administration's access log of one day, as it notarised it once the day was over."""

    format: Literal["segell-interop-access-log-day/1"]
    consumer: str = Field(description="The code of the administration whose accesses of the day these are.")
    day: str = Field(description="The day, YYYY-MM-DD (UTC).")
    entry_count: int = Field(description="How many accesses it made that day.")
    entries_digest: str = Field(description="SHA-256 (hex) of the entries' hashes, concatenated in order as bytes.")


class AccessAnchor(BaseModel):
    """What a citizen needs to check that an access to their data is in its day's notarised log, without Segell:
    the entry as hashed, every entry hash of that administration's day (nothing else of the others), the day's
    document as notarised, and its proof bundle."""

    entry: dict[str, Any] = Field(
        description="The access-log entry as hashed: its SHA-256 over the canonical JSON (sorted keys, no spaces, "
        "UTF-8) is `entry_hash`."
    )
    entry_hash: str
    entry_hashes: list[str] = Field(
        description="The hashes of all the administration's entries of that day, in order, as stored now."
    )
    day: AccessLogDay
    day_hash: str = Field(description="SHA-256 of the day document's canonical JSON: the notarised hash.")
    bundle: ProofBundle = Field(description="The proof bundle of the day document ([proof-bundle.md]).")
