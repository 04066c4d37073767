"""The open-data domain: a CKAN-compatible catalogue whose every dataset version is notarised, and the mandatory
publications administrations submit once."""

from fastapi import FastAPI

from segell.services.domains import Domain
from segell.services.opendata import service
from segell.services.opendata.publications_router import SUBMISSIONS_PATH
from segell.services.opendata.publications_router import router as publications_router
from segell.services.opendata.router import ACTION_PREFIXES, UPLOAD_ACTIONS, router
from segell.services.opendata.settings import OpendataSettings
from segell.services.opendata.versions_router import router as versions_router
from segell.services.runtime import Runtime


def _index_missing(app: FastAPI, runtime: Runtime) -> None:
    """Index the datasets published before the search index existed (none, after the first start)."""
    with runtime.transaction() as session:
        service.index_missing(session)


domain = Domain(
    name="opendata",
    routers=(router, versions_router, publications_router),
    models=("segell.services.opendata.models", "segell.services.opendata.datastore_models"),
    settings=OpendataSettings,
    start=(_index_missing,),
    streamed_forms=frozenset(
        {("POST", f"{prefix}/{name}") for prefix in ACTION_PREFIXES for name in UPLOAD_ACTIONS}
        | {("POST", SUBMISSIONS_PATH)}
    ),
)
