"""Liveness and what a running Segell is connected to: `/health`."""

from segell.services.domains import Domain
from segell.services.health.router import router

domain = Domain(name="health", routers=(router,))
