"""The verification page and a document's proof bundle by its code; the transparency portal and its downloads; the
participation pages; the citizen's page of accesses to their data."""

from segell.services.domains import Domain
from segell.services.web.access_page import site as access_site
from segell.services.web.participation_router import router as participation_router
from segell.services.web.participation_survey_router import router as participation_survey_router
from segell.services.web.portal_router import router as portal_router
from segell.services.web.router import router

domain = Domain(
    name="web", routers=(router, portal_router, participation_router, participation_survey_router, access_site)
)
