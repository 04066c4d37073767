"""Several API processes on one port (`segell up --workers N`): what they share, and what starts only once.

The processes share PostgreSQL and the chain's node; everything that must hold across them lives in the database
or is safe to keep per process (docs/architecture.md, "Several API processes", lists each piece of state). This
parent process does what must happen once before they start:

- applies the migrations, starts the managed node (anvil) and deploys the contracts (`Runtime.start`), and keeps
  that node running for as long as it runs; the API processes reach it through its IPC socket;
- runs every domain's start and stop hooks once, so that what a first start creates (the governance API key, the
  certificate authorities, the token signing key) is created by one process, not raced for by N;

then serves with uvicorn's supervisor, which starts the N processes on one listening socket and starts again any
that dies. Each API process runs an anchoring worker; one of them at a time anchors (the leader,
`services.notary.anchoring`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import time
from socket import socket

from sqlalchemy import make_url
from uvicorn.config import Config
from uvicorn.supervisors import Multiprocess, multiprocess

from segell.chain.anvil import stop_with_parent
from segell.services.connections import server_config
from segell.services.runtime import Runtime, chain_spec
from segell.services.settings import Settings

log = logging.getLogger("segell")

APP_FACTORY = "segell.services.main:create_app"
#: Seconds an API process has to answer its supervisor's health check, starting included (it imports the whole
#: application first: seconds, far more on a loaded machine) before it is taken for hung and replaced.
HEALTHCHECK_SECONDS = 120


#: Seconds between the supervisor's looks at a process that has not answered its health check yet.
_HEALTHCHECK_SLICE = 0.2


class _WatchedProcess(multiprocess.Process):
    """uvicorn's API process, whose health check ends as soon as the process is gone, and which stops with its
    supervisor.

    uvicorn waits for the answer to a health check for the whole timeout, and keeps both ends of the pipe: a
    process killed between the supervisor's look at it and its ping was waited for `HEALTHCHECK_SECONDS`, during
    which no process was started in its place, nor in place of another one killed meanwhile. And a supervisor
    killed with -9 left its API processes serving the port, with nothing to start them again or stop them."""

    def __init__(self, config: Config, sockets: list[socket]) -> None:
        self._supervisor = os.getpid()
        super().__init__(config, sockets)

    def target(self, sockets: list[socket] | None = None) -> None:
        stop_with_parent()
        if os.getppid() != self._supervisor:  # the supervisor was gone before the line above
            os.kill(os.getpid(), signal.SIGTERM)
        super().target(sockets)

    def _healthcheck(self, timeout: float) -> bool | None:
        deadline = time.monotonic() + timeout
        try:
            self.parent_conn.send(b"ping")
            while not self.parent_conn.poll(min(_HEALTHCHECK_SLICE, max(0.0, deadline - time.monotonic()))):
                if not self.process.is_alive() or time.monotonic() >= deadline:
                    return None
            started: bool = self.parent_conn.recv()
            return started
        except (OSError, EOFError, pickle.UnpicklingError):
            return None


class WorkersRefused(ValueError):
    """`--workers` above 1 where several processes cannot share the state; the message says what to change."""


def check_workers(settings: Settings, workers: int) -> None:
    """Refuse N > 1 API processes on SQLite or on a chain that lives inside one process (embedded)."""
    if workers <= 1:
        return
    if make_url(settings.sqlalchemy_url).get_backend_name() != "postgresql":
        raise WorkersRefused(
            f"--workers {workers} needs PostgreSQL: the API processes share their limits, queues and idempotency "
            "keys through the database, and a SQLite file serves one process. Set SEGELL_DATABASE_URL="
            "postgresql+psycopg://USER@HOST/DB, or run one process (--workers 1)."
        )
    if chain_spec(settings) == "embedded":
        raise WorkersRefused(
            f"--workers {workers} needs a chain the processes share: the embedded chain lives inside one process. "
            "Use --chain anvil (Segell manages it), or a node's JSON-RPC URL or IPC socket, or run one process."
        )


def serve_workers(settings: Settings, workers: int) -> None:
    """Run `workers` API processes on `settings.host:settings.port` until SIGINT or SIGTERM."""
    check_workers(settings, workers)
    runtime = Runtime.start(settings)
    try:
        node = runtime.node
        # The processes reach the node this one started, or the one it reached.
        shared_chain = str(node.ipc_path) if node.ipc_path is not None else node.rpc_url
        if shared_chain is None:
            raise WorkersRefused(
                f"--workers {workers} needs a chain the processes share, and {node.backend} lives inside this process "
                "(anvil is not installed here: `make setup` installs it). Use --chain anvil, or a node's JSON-RPC URL "
                "or IPC socket, or run one process."
            )
        os.environ["SEGELL_CHAIN"] = shared_chain
        shared = Settings()
        _start_and_stop_once(shared)
        config = server_config(
            APP_FACTORY, shared, factory=True, workers=workers, timeout_worker_healthcheck=HEALTHCHECK_SECONDS
        )
        log.info("serving with %s API processes (chain %s)", workers, shared_chain)
        multiprocess.Process = _WatchedProcess  # type: ignore[misc]  # the class the supervisor starts processes of
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    finally:
        runtime.stop()


def _start_and_stop_once(settings: Settings) -> None:
    """Every domain's start hooks, then its stop hooks: what a first start creates exists before the processes
    start, each of which then finds it."""
    from segell.services.main import create_app

    app = create_app(settings)

    async def once() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(once())


__all__ = ["APP_FACTORY", "WorkersRefused", "check_workers", "serve_workers"]
