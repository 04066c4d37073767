"""The participation domain: ideas, supports and votes, and the after-transaction survey."""

from segell.services.domains import Domain
from segell.services.participation.survey_router import router as survey_router

domain = Domain(
    name="participation",
    routers=(survey_router,),
    models=("segell.services.participation.survey_models",),
)
