"""The Segell API: run it with ``segell up``, which adds the connection deadlines of `services.connections`."""

import functools
import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from segell.chain.anvil import AnvilNode
from segell.services import __version__
from segell.services.administrations.router import router as administrations_router
from segell.services.administrations.service import ensure_governance_key, reconcile_with_chain
from segell.services.api_docs import serve_api_docs
from segell.services.citizen_auth.router import router as citizen_auth_router
from segell.services.content_type_options import NoSniff
from segell.services.deployment.router import router as deployment_router
from segell.services.errors import install_error_handlers
from segell.services.health.router import router as health_router
from segell.services.identity.ca import ensure_certificate_authorities
from segell.services.identity.certificates_router import public as certificate_authority_router
from segell.services.identity.certificates_router import router as certificates_router
from segell.services.identity.signatures_router import router as signatures_router
from segell.services.limits import RequestBodyLimits
from segell.services.notary.anchoring import AnchoringWorker
from segell.services.notary.router import STREAMED_UPLOADS, new_committer
from segell.services.notary.router import public as verification_router
from segell.services.notary.router import router as notary_router
from segell.services.notary.service import AnchoredRoots
from segell.services.rpc.router import router as rpc_router
from segell.services.runtime import Runtime
from segell.services.sandboxes.contracts_router import router as sandbox_contracts_router
from segell.services.sandboxes.explorer import api as sandbox_explorer_router
from segell.services.sandboxes.explorer import pages as sandbox_explorer_pages
from segell.services.sandboxes.router import router as sandboxes_router
from segell.services.settings import Settings
from segell.services.web.router import router as web_router

log = logging.getLogger("segell")

DESCRIPTION = """
Segell anchors the hashes of administrations' outputs on a permissioned Ethereum-compatible chain.
Authenticate with `Authorization: Bearer <api key>`; keys are issued by the consortium's governance.
Every error answers `{"error": {"code", "message", "details"}}`.
"""


def _announce(runtime: Runtime) -> None:
    settings, node = runtime.settings, runtime.node
    chain = f"{node.backend} (chain id {node.chain_id}, node {node.endpoint})"
    print(
        f"Segell {__version__} is up\n"
        f"  chain      {chain}\n"
        f"  contracts  registry {runtime.deployment.registry}, notary {runtime.deployment.notary}\n"
        f"  database   {runtime.engine.url.render_as_string(hide_password=True)}\n"
        f"  API        {settings.api_url}   docs {settings.api_url}/docs   JSON-RPC {settings.api_url}/rpc\n"
        f"  governance key in {settings.governance_key_path} (used by `segell admin ...`)",
        file=sys.stderr,
        flush=True,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await run_in_threadpool(Runtime.start, settings)
        try:
            await run_in_threadpool(ensure_governance_key, runtime)
            await run_in_threadpool(ensure_certificate_authorities, runtime)
            await run_in_threadpool(reconcile_with_chain, runtime)
            if isinstance(runtime.node, AnvilNode):
                # anvil killed on its own comes back with its last state save: replay what it lost since.
                runtime.node.on_restart = functools.partial(reconcile_with_chain, runtime)
            app.state.runtime = runtime
            app.state.notary_committer = new_committer(runtime)
            # The embedded chain lives in this process, so its worker must too; `segell worker` runs one apart.
            worker = AnchoringWorker(runtime) if settings.anchoring_worker else None
            app.state.anchoring_worker = worker
            if worker is not None:
                worker.start()
            _announce(runtime)
            # What start-up made (modules, the chain, the contracts) lives as long as the app: a full collection
            # need not walk it again. Each one took 50-150 ms with it, stalling every request in flight.
            gc.freeze()
            thresholds = gc.get_threshold()
            # A batch request makes tens of thousands of short-lived objects: collect the young ones after 20,000
            # allocations rather than 700, and the older ones less often (5 % less CPU per batch request).
            gc.set_threshold(20_000, 50, 50)
            try:
                yield
            finally:
                gc.set_threshold(*thresholds)
                gc.unfreeze()
                if worker is not None:
                    await run_in_threadpool(worker.stop)
        finally:
            runtime.stop()

    app = FastAPI(
        title="Segell", version=__version__, description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    install_error_handlers(app)
    app.add_middleware(RequestBodyLimits, streamed_uploads=STREAMED_UPLOADS)
    app.add_middleware(NoSniff)  # outermost: errors answered by the body limits get it too
    app.state.anchored_roots = AnchoredRoots()
    app.include_router(health_router)
    app.include_router(deployment_router)
    app.include_router(administrations_router)
    app.include_router(notary_router)
    app.include_router(verification_router)
    app.include_router(rpc_router)
    app.include_router(citizen_auth_router)
    app.include_router(sandboxes_router)
    app.include_router(sandbox_contracts_router)
    app.include_router(sandbox_explorer_router)
    app.include_router(sandbox_explorer_pages)
    app.include_router(certificates_router)
    app.include_router(certificate_authority_router)
    app.include_router(signatures_router)
    app.include_router(web_router)
    serve_api_docs(app)
    _write_integer_bounds_exactly(app)
    return app


_NUMERIC_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def _integer_bounds(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _NUMERIC_BOUNDS and isinstance(value, float) and value.is_integer():
                node[key] = int(value)
            else:
                _integer_bounds(value)
    elif isinstance(node, list):
        for item in node:
            _integer_bounds(item)


def _write_integer_bounds_exactly(app: FastAPI) -> None:
    """FastAPI's OpenAPI model holds numeric bounds as floats, and a float past 2**53 prints as another number:
    2**256, a wei amount's bound, came out as 1.157920892373162e+77. Whole bounds are written as integers again."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _integer_bounds(generate())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


app = create_app()
