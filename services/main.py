"""The Segell API: run it with ``segell up``, which adds the connection deadlines of `services.connections`."""

import gc
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from segell.services import __version__
from segell.services.administrations.domain import domain as administrations
from segell.services.api_docs import serve_api_docs
from segell.services.citizen_auth.domain import domain as citizen_auth
from segell.services.content_type_options import NoSniff
from segell.services.deployment.domain import domain as deployment
from segell.services.domains import Domain, authenticators_of, streamed_forms_of, streamed_uploads_of
from segell.services.errors import install_error_handlers
from segell.services.health.domain import domain as health
from segell.services.identity.domain import domain as identity
from segell.services.interop.domain import domain as interop
from segell.services.limits import RequestBodyLimits
from segell.services.notary.domain import domain as notary
from segell.services.opendata.domain import domain as opendata
from segell.services.participation.domain import domain as participation
from segell.services.route_table import install_route_table
from segell.services.rpc.domain import domain as rpc
from segell.services.runtime import Runtime
from segell.services.sandboxes.domain import domain as sandboxes
from segell.services.settings import Settings
from segell.services.web.domain import domain as web

#: Every domain the API serves. Start-up runs in this order (the governance key and the reconciliation, the
#: certificate authorities, the notary's committer and worker, citizen authentication, the sandboxes), shutdown in
#: the opposite one; routes are matched in it too.
DOMAINS: tuple[Domain, ...] = (
    administrations,
    identity,
    notary,
    citizen_auth,
    sandboxes,
    opendata,
    interop,
    participation,
    health,
    deployment,
    rpc,
    web,
)

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
        f"Segell {__version__} is up (process {os.getpid()})\n"
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
    for domain in DOMAINS:
        if domain.settings is not None:
            settings.section(domain.settings)  # a bad SEGELL_* value of a domain stops the app here

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await run_in_threadpool(Runtime.start, settings)
        app.state.runtime = runtime
        try:
            async with AsyncExitStack() as started:
                for domain in DOMAINS:
                    for start in domain.start:
                        await run_in_threadpool(start, app, runtime)
                    # Stopped in the opposite order, and only once started.
                    for stop in reversed(domain.stop):
                        started.push_async_callback(run_in_threadpool, stop, app)
                _announce(runtime)
                # What start-up made (modules, the chain, the contracts) lives as long as the app: a full
                # collection need not walk it again. Each one took 50-150 ms with it, stalling every request in flight.
                gc.freeze()
                thresholds = gc.get_threshold()
                # A batch request makes tens of thousands of short-lived objects: collect the young ones after
                # 20,000 allocations rather than 700, and the older ones less often (5 % less CPU per batch request).
                gc.set_threshold(20_000, 50, 50)
                try:
                    yield
                finally:
                    gc.set_threshold(*thresholds)
                    gc.unfreeze()
        finally:
            runtime.stop()

    app = FastAPI(
        title="Segell", version=__version__, description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    install_error_handlers(app)
    app.add_middleware(
        RequestBodyLimits, streamed_uploads=streamed_uploads_of(DOMAINS), streamed_forms=streamed_forms_of(DOMAINS)
    )
    app.add_middleware(NoSniff)  # outermost: errors answered by the body limits get it too
    app.state.authenticators = authenticators_of(DOMAINS)
    for domain in DOMAINS:
        for router in domain.routers:
            app.include_router(router)
    serve_api_docs(app)
    install_route_table(app)
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
