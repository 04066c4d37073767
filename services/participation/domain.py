"""The participation domain: processes, proposals, supports, ballots and recountable tallies."""

from segell.services.domains import Domain
from segell.services.participation.router import router
from segell.services.participation.settings import ParticipationSettings

domain = Domain(
    name="participation",
    routers=(router,),
    models=("segell.services.participation.models",),
    settings=ParticipationSettings,
)
