"""The deployment's public description, which verifiers pin: `/.well-known/segell.json`."""

from segell.services.deployment.router import router
from segell.services.deployment.settings import DeploymentSettings
from segell.services.domains import Domain

domain = Domain(name="deployment", routers=(router,), settings=DeploymentSettings)
