"""The verification page and a document's proof bundle by its code; the transparency portal and its downloads."""

from segell.services.domains import Domain
from segell.services.web.access_page import site as access_site
from segell.services.web.portal_router import router as portal_router
from segell.services.web.router import router

domain = Domain(name="web", routers=(router, portal_router, access_site))
