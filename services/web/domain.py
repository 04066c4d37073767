"""The verification page and a document's proof bundle by its code."""

from segell.services.domains import Domain
from segell.services.web.router import router

domain = Domain(name="web", routers=(router,))
