"""What the after-transaction survey's routes take and answer."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from segell.services.display_text import DisplayText
from segell.services.json_types import JSON_NUMBER
from segell.services.languages import Language

ProcedureCode = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
        description="The procedure's code in the administration's catalogue (1-64 of A-Z a-z 0-9 . _ : -).",
        examples=["PADRO-CERT"],
    ),
]
Rating = Annotated[int, Field(ge=1, le=5, description="1 (very bad) to 5 (very good)."), JSON_NUMBER]
Idea = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=2000),
    Field(description="An idea to improve the service: up to 2,000 characters; empty for none."),
]
SURVEY_TOKEN_PATTERN = r"^[A-Za-z0-9_-]{32}$"


class InvitationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    procedure: ProcedureCode
    procedure_name: Annotated[str, DisplayText(max_length=200)] | None = Field(
        default=None, description="The procedure's name as citizens know it, shown on the survey page."
    )
    language: Language | None = Field(
        default=None, description="The language the citizen completed the procedure in: the page opens in it."
    )
    expires_in_days: Annotated[int, Field(ge=1, le=90), JSON_NUMBER] = Field(
        default=30, description="Days the link stays valid (1-90)."
    )


class InvitationOut(BaseModel):
    id: str
    procedure: str
    url: str = Field(description="The single-use link to give the citizen: the survey page.")
    token: str = Field(description="The link's secret, for an app that shows the survey itself.")
    expires_at: datetime


class SurveyAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Rating
    idea: Idea | None = None


class SurveyAnswerOut(BaseModel):
    procedure: str
    rating: int
    idea_recorded: bool
    proposal_id: str | None = Field(
        description="The proposal the idea became, when the administration has an ideas process."
    )


class SurveyView(BaseModel):
    """What the survey page shows of an invitation."""

    administration: str
    administration_code: str
    procedure: str
    procedure_name: str | None
    language: str | None
    status: str = Field(description="`open`, `answered` or `expired`.")
    expires_at: datetime


class ProcedureRatings(BaseModel):
    procedure: str
    procedure_name: str | None
    count: int
    average: float
    counts: list[int] = Field(description="How many answers gave 1, 2, 3, 4 and 5.")


class RatingsOut(BaseModel):
    administration: str
    administration_name: str
    procedures: list[ProcedureRatings]


class RatingsPublication(BaseModel):
    dataset: str
    version: int
    verification_code: str | None
    download_url: str
    procedures: int
    answers: int


class IdeasLinked(BaseModel):
    linked: int = Field(description="Survey ideas that became proposals now.")
