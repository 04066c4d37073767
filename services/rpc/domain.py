"""The consortium chain's read-only JSON-RPC: `/rpc`."""

from segell.services.domains import Domain
from segell.services.rpc.router import router

domain = Domain(name="rpc", routers=(router,))
