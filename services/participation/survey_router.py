"""The after-transaction survey's routes: an administration asks for a link, the citizen answers through it, anyone
reads the ratings per procedure."""

from typing import Annotated

from fastapi import APIRouter, Path, status

from segell.services.deps import AdministrationDep, RuntimeDep, SessionDep
from segell.services.errors import error_responses
from segell.services.participation import survey_service as service
from segell.services.participation.survey_schemas import (
    SURVEY_TOKEN_PATTERN,
    IdeasLinked,
    InvitationOut,
    InvitationRequest,
    RatingsOut,
    RatingsPublication,
    SurveyAnswer,
    SurveyAnswerOut,
    SurveyView,
)

router = APIRouter(prefix="/v1/participation", tags=["participation"])

TokenPath = Annotated[
    str, Path(pattern=SURVEY_TOKEN_PATTERN, description="The secret of the survey's link (its last path segment).")
]


@router.post(
    "/invitations",
    response_model=InvitationOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 422),
)
def create_invitation(
    body: InvitationRequest, session: SessionDep, runtime: RuntimeDep, administration: AdministrationDep
) -> InvitationOut:
    """A single-use survey link for a citizen who has just completed a procedure."""
    return service.create_invitation(session, runtime.settings, administration, body)


@router.get("/invitations/{token}", response_model=SurveyView, responses=error_responses(404, 422))
def read_survey(token: TokenPath, session: SessionDep) -> SurveyView:
    """What a survey link asks about, and whether it can still be answered; the link is the credential."""
    return service.survey_view(session, token)


@router.post(
    "/invitations/{token}/answer",
    response_model=SurveyAnswerOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(404, 409, 410, 422),
)
def answer_survey(token: TokenPath, body: SurveyAnswer, runtime: RuntimeDep) -> SurveyAnswerOut:
    """Rate the service from 1 to 5 and maybe leave an idea: once per link."""
    # The transaction begins and ends in this thread: with answers racing for one link, the one holding the
    # database's writer lock never waits for a free worker thread to commit.
    with runtime.transaction() as session:
        return service.answer_survey(session, runtime.master_key, token, body)


@router.post("/survey-ideas", response_model=IdeasLinked, responses=error_responses(401, 403))
def link_waiting_ideas(runtime: RuntimeDep, administration: AdministrationDep) -> IdeasLinked:
    """Turn the survey ideas left while you had no open ideas process into proposals of the one you have now."""
    with runtime.transaction() as session:
        return IdeasLinked(linked=service.link_waiting_ideas(session, runtime.master_key, administration))


@router.get("/ratings/{administration}", response_model=RatingsOut, responses=error_responses(404, 422))
def read_ratings(
    administration: Annotated[str, Path(min_length=1, max_length=32, description="The administration's code.")],
    session: SessionDep,
) -> RatingsOut:
    """The ratings of every procedure of an administration's: no API key needed."""
    return service.ratings_of(session, administration)


@router.post(
    "/ratings",
    response_model=RatingsPublication,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409),
)
def publish_ratings(session: SessionDep, runtime: RuntimeDep, administration: AdministrationDep) -> RatingsPublication:
    """Publish the ratings per procedure as the next version of the administration's open dataset of them."""
    return service.publish_ratings(session, runtime.settings, administration)
