"""Checks behind /health: each part answers for itself, so one failure never hides the others."""

import logging

from sqlalchemy import text
from web3 import Web3

from segell.services import __version__
from segell.services.health.schemas import ChainHealth, ContractsHealth, DatabaseHealth, Health, Urls
from segell.services.runtime import Runtime

log = logging.getLogger("segell")


def check(runtime: Runtime) -> Health:
    node, deployment = runtime.node, runtime.deployment
    head_block: int | None
    deployed = False
    try:
        head_block = node.w3.eth.block_number
        deployed = all(
            len(node.w3.eth.get_code(Web3.to_checksum_address(a))) > 0 for a in (deployment.registry, deployment.notary)
        )
    except Exception:  # any failure to reach the node is reported, not raised
        log.warning("health: chain node unreachable", exc_info=True)
        head_block = None
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database_ok = True
    except Exception:
        log.warning("health: database unreachable", exc_info=True)
        database_ok = False
    api = runtime.settings.api_url
    healthy = head_block is not None and deployed and database_ok
    return Health(
        status="ok" if healthy else "degraded",
        version=__version__,
        chain=ChainHealth(
            backend=node.backend,
            chain_id=node.chain_id,
            head_block=head_block,
            local_dev=node.is_local_dev,
            reachable=head_block is not None,
        ),
        contracts=ContractsHealth(
            registry=deployment.registry,
            notary=deployment.notary,
            deployed_at_block=deployment.block,
            deployed=deployed,
        ),
        database=DatabaseHealth(
            dialect=runtime.engine.dialect.name, revision=runtime.database_revision, ok=database_ok
        ),
        urls=Urls(api=api, docs=f"{api}/docs", rpc=f"{api}/rpc"),
    )
