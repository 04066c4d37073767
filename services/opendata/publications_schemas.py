"""What the mandatory publications' API answers: a submission, a page of them, and the reads of its recipients."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from segell.services.opendata.publications_tables import Block

SubmissionStatus = Literal["current", "superseded"]


class Publisher(BaseModel):
    code: str = Field(description="The administration's code.")
    name: str


class PublishedDataset(BaseModel):
    """The catalogue dataset a submission was published in, and its version that holds it."""

    id: str
    name: str = Field(description="Its name in the catalogue (`package_show?id=`).")
    version: int | None = Field(description="The dataset's version made by this submission.")
    verification_code: str | None = Field(description="That version's verification code (`GET /v1/verify?code=`).")


class SubmissionReceipt(BaseModel):
    id: str = Field(description="The notary's receipt of the submitted file (kind `transparency-publication`).")
    verification_code: str
    status: str = Field(description="`pending` until anchored on chain, then `anchored` (or `revoked`).")


class SubmissionOut(BaseModel):
    """One submission of a block for a year: the file as submitted, its figures, where it is published."""

    id: str
    administration: Publisher
    block: Block
    period: int = Field(description="The year it covers.")
    version: int = Field(description="1 for the first submission of the block and year, then one more a correction.")
    status: Literal["current", "superseded"]
    superseded_by: str | None = Field(description="The correction that replaced it.")
    inhabitants: int | None
    row_count: int
    filename: str
    size: int
    sha256: str = Field(description="The file's SHA-256: what was notarised, and the catalogue's checksum.")
    figures: dict[str, Any] = Field(description="Totals by block, as docs/transparency.md describes them.")
    dataset: PublishedDataset
    resource_id: str
    download_url: str | None = Field(description="The file in the catalogue, while this submission is current.")
    receipt: SubmissionReceipt
    submitted_at: datetime


class SubmissionPage(BaseModel):
    items: list[SubmissionOut]
    total: int = Field(description="How many match the filters in all.")


class SubmissionAccessOut(BaseModel):
    recipient: str = Field(description="The recipient's name, as the deployment configures it.")
    what: Literal["metadata", "file", "rows"]
    accessed_at: datetime


class SubmissionAccesses(BaseModel):
    items: list[SubmissionAccessOut]
