"""The participation domain: processes, proposals, supports, ballots and recountable tallies."""

from segell.services.domains import Domain
from segell.services.participation.router import router
from segell.services.participation.settings import ParticipationSettings
from segell.services.participation.survey_router import router as survey_router

domain = Domain(
    name="participation",
    routers=(router, survey_router),
    models=("segell.services.participation.models", "segell.services.participation.survey_models"),
    settings=ParticipationSettings,
)
