"""`segell up`, `segell worker` and `segell status`: run Segell and ask how it is."""

from __future__ import annotations

import contextlib
import os
from typing import Annotated

import typer
from rich.markup import escape

from segell.sdk import (
    Health,
)
from segell.services.cli.common import (
    CHAIN_CHOICES,
    Invocation,
    JsonOption,
    app,
    current_invocation,
    open_client,
    print_fields,
    print_json,
)

# -- segell up --------------------------------------------------------------------------------------


@app.command()
def up(
    chain: Annotated[
        str,
        typer.Option(
            envvar="SEGELL_CHAIN",
            help="embedded (in-process EVM), anvil (local node), auto (anvil when installed), a JSON-RPC URL, or "
            "the path of a node's IPC socket (*.ipc).",
        ),
    ] = "auto",
    host: Annotated[str, typer.Option(envvar="SEGELL_HOST", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            envvar="SEGELL_PORT",
            help="Port to listen on. The other segell commands call http://127.0.0.1:$SEGELL_PORT unless --url or "
            "SEGELL_URL says otherwise, so `export SEGELL_PORT=8100` moves the server and the commands together.",
            min=1,
            max=65535,
        ),
    ] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            envvar="SEGELL_WORKERS",
            help="API processes serving the port. Above 1 needs PostgreSQL (SEGELL_DATABASE_URL) and a chain the "
            "processes share (anvil, a URL or an IPC socket); one process at a time anchors.",
            min=1,
            max=64,
        ),
    ] = 1,
) -> None:
    """Start the Segell API and its chain in the foreground (Ctrl+C stops both)."""
    from segell.chain.nodes import is_ipc_spec

    if chain not in CHAIN_CHOICES and not chain.startswith(("http://", "https://")) and not is_ipc_spec(chain):
        raise typer.BadParameter(
            f"{chain!r} is not one of {', '.join(CHAIN_CHOICES)}, an http(s):// JSON-RPC URL nor the absolute path "
            "of a node's IPC socket (*.ipc).",
            param_hint="--chain",
        )
    # The application reads its configuration from the environment (services.settings.Settings).
    os.environ["SEGELL_CHAIN"] = chain
    os.environ["SEGELL_HOST"] = host
    os.environ["SEGELL_PORT"] = str(port)
    os.environ["SEGELL_WORKERS"] = str(workers)

    import uvicorn  # only `up` needs the server stack

    from segell.services.connections import server_config
    from segell.services.settings import Settings

    settings = Settings()
    if workers > 1:
        from segell.services.processes import WorkersRefused, check_workers, serve_workers

        try:
            check_workers(settings, workers)
            with contextlib.suppress(KeyboardInterrupt):
                serve_workers(settings, workers)
        except WorkersRefused as refused:
            raise typer.BadParameter(str(refused), param_hint="--workers") from None
        return

    from segell.services.main import create_app

    server = uvicorn.Server(server_config(create_app(settings), settings))
    # uvicorn raises Ctrl+C again once it has shut down cleanly; that is the normal way to stop, so exit 0.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()


# -- segell worker ---------------------------------------------------------------------------------


@app.command()
def worker(
    chain: Annotated[
        str,
        typer.Option(
            envvar="SEGELL_CHAIN",
            help="The node the API uses: for the anvil `segell up` manages, its socket $SEGELL_HOME/chain/anvil.ipc "
            "(segell up prints it); otherwise the node's JSON-RPC URL.",
            show_default=False,
        ),
    ] = "",
    reconcile_every: Annotated[
        float, typer.Option(help="Seconds between two checks that the node still holds every anchored root.", min=1)
    ] = 300.0,
) -> None:
    """Run the anchoring worker as its own process (the API then runs with SEGELL_ANCHORING_WORKER=false)."""
    from segell.chain.nodes import is_ipc_spec

    if not chain.startswith(("http://", "https://")) and not is_ipc_spec(chain):
        raise typer.BadParameter(
            "the worker needs a node that several processes reach: for the anvil `segell up` manages, its IPC "
            "socket (the `node` path it prints, $SEGELL_HOME/chain/anvil.ipc; run the worker as the same user), "
            "otherwise the node's JSON-RPC URL, e.g. http://127.0.0.1:8545. An embedded chain lives inside the API "
            "process, so its worker runs there.",
            param_hint="--chain / SEGELL_CHAIN",
        )
    os.environ["SEGELL_CHAIN"] = chain

    from segell.services.notary.anchoring import serve_worker  # only the worker needs the chain stack
    from segell.services.runtime import Runtime
    from segell.services.settings import Settings

    serve_worker(lambda: Runtime.start(Settings()), reconcile_every=reconcile_every)


# -- segell status ----------------------------------------------------------------------------------


@app.command()
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the server's chain, contracts and database; exit 1 if unreachable or degraded."""
    invocation = current_invocation(ctx)
    with open_client(invocation, api_key=None) as client:
        health = client.health()
    if as_json:
        print_json(health)
    else:
        _print_health(invocation, health)
    if not health.is_ok:
        raise typer.Exit(1)


def _print_health(invocation: Invocation, health: Health) -> None:
    out = invocation.out
    state = "[green]ok[/green]" if health.is_ok else "[bold red]degraded[/bold red]"
    out.print(f"Segell {escape(health.version)} at {escape(invocation.url)}: {state}")
    chain = health.chain
    head = "[bold red]node unreachable[/bold red]" if chain.head_block is None else str(chain.head_block)
    database = "[green]ok[/green]" if health.database.ok else "[bold red]unreachable[/bold red]"
    print_fields(
        out,
        [
            ("backend", chain.backend + (" (local development chain)" if chain.local_dev else "")),
            ("chain id", str(chain.chain_id)),
            ("head block", head),
            ("registry", health.contracts.registry),
            ("notary", health.contracts.notary),
            ("deployed at", f"block {health.contracts.deployed_at_block}"),
            ("database", f"{escape(health.database.dialect)}: {database}"),
            ("api", escape(health.urls.api)),
            ("api docs", escape(health.urls.docs)),
            ("json-rpc", escape(health.urls.rpc)),
        ],
    )
