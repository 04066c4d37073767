"""The open-data domain: a CKAN-compatible catalogue whose every dataset version is notarised, and the mandatory
publications administrations submit once."""

from segell.services.domains import Domain
from segell.services.opendata.publications_router import SUBMISSIONS_PATH
from segell.services.opendata.publications_router import router as publications_router
from segell.services.opendata.router import ACTION_PREFIXES, UPLOAD_ACTIONS, router
from segell.services.opendata.settings import OpendataSettings
from segell.services.opendata.versions_router import router as versions_router

domain = Domain(
    name="opendata",
    routers=(router, versions_router, publications_router),
    models=("segell.services.opendata.models", "segell.services.opendata.datastore_models"),
    settings=OpendataSettings,
    streamed_forms=frozenset(
        {("POST", f"{prefix}/{name}") for prefix in ACTION_PREFIXES for name in UPLOAD_ACTIONS}
        | {("POST", SUBMISSIONS_PATH)}
    ),
)
