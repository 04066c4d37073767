"""What the transparency portal's JSON download answers."""

from datetime import datetime

from pydantic import BaseModel, Field

PublishedCell = str | int | float | bool | None


class PublishedRows(BaseModel):
    administration: str = Field(description="The publishing administration's code.")
    administration_name: str
    block: str = Field(description="`budget`, `salaries`, `personnel`, `contracts`, `agreements`, `subsidies`, `debt`.")
    period: int = Field(description="The year the publication covers.")
    version: int
    status: str = Field(description="`current`, or `superseded` by a later version.")
    submitted_at: datetime
    sha256: str = Field(description="SHA-256 of the submitted file (the CSV download): the hash notarised.")
    verification_code: str = Field(description="Checks the file on the citizen page `/verify/{code}`.")
    typed: bool = Field(description="Cells typed by the block's Table Schema; otherwise the strings submitted.")
    fields: list[str] = Field(description="The columns, in the file's order.")
    rows: list[dict[str, PublishedCell]]
