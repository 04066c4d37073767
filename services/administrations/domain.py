"""The administrations domain: members, their chain accounts and API keys; it authenticates every API key."""

import functools

from fastapi import FastAPI

from segell.chain.anvil import AnvilNode
from segell.services.administrations.router import router
from segell.services.administrations.service import authenticate, ensure_governance_key, reconcile_with_chain
from segell.services.domains import Domain
from segell.services.runtime import Runtime


def _write_governance_key(app: FastAPI, runtime: Runtime) -> None:
    ensure_governance_key(runtime)


def _reconcile_with_chain(app: FastAPI, runtime: Runtime) -> None:
    reconcile_with_chain(runtime)
    if isinstance(runtime.node, AnvilNode):
        # anvil killed on its own comes back with its last state save: replay what it lost since.
        runtime.node.on_restart = functools.partial(reconcile_with_chain, runtime)


domain = Domain(
    name="administrations",
    routers=(router,),
    start=(_write_governance_key, _reconcile_with_chain),
    models=("segell.services.administrations.models",),
    authenticates_api_keys=authenticate,
)
