"""`segell sandbox ...`: create, list, show, snapshot, revert, reset, extend and delete sandboxes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal, cast

import typer
from rich.markup import escape
from rich.table import Column, Table

from segell.sdk import Client, Sandbox
from segell.services.cli.common import (
    SANDBOXES_PANEL,
    Invocation,
    JsonOption,
    administration_credential,
    app,
    current_invocation,
    open_client,
    print_fields,
    print_json,
    require_value,
    timestamp,
)

sandbox_app = typer.Typer(
    help="Sandboxes: chains of your own with the Segell contracts deployed (needs an administration's key).",
    no_args_is_help=True,
)
app.add_typer(sandbox_app, name="sandbox", rich_help_panel=SANDBOXES_PANEL)

SandboxArgument = Annotated[
    str, typer.Argument(help="The sandbox id (sbx_...).", show_default=False, callback=require_value)
]


@contextmanager
def _client(invocation: Invocation, command: str) -> Iterator[Client]:
    credential = administration_credential(invocation, f"sandbox {command}")
    with open_client(invocation, api_key=credential.key, key_source=credential.source) as client:
        yield client


@sandbox_app.command("create")
def sandbox_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What it is for, e.g. permits-poc.", callback=require_value)],
    ttl: Annotated[
        int | None, typer.Option("--ttl", min=60, help="Seconds until it is removed (server default: 3600).")
    ] = None,
    backend: Annotated[
        str | None, typer.Option("--backend", help="anvil (default where installed) or embedded.")
    ] = None,
    node_admin: Annotated[
        bool, typer.Option("--node-admin", help="Let its JSON-RPC endpoint pass anvil_*/evm_*/hardhat_* methods.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a sandbox and print its chain id, contracts, accounts and JSON-RPC endpoint."""
    invocation = current_invocation(ctx)
    if backend not in (None, "anvil", "embedded"):
        raise typer.BadParameter("use anvil or embedded", param_hint="'--backend'")
    chosen = cast(Literal["anvil", "embedded"] | None, backend)
    with _client(invocation, "create") as client:
        sandbox = client.sandboxes.create(name, ttl_seconds=ttl, backend=chosen, node_admin=node_admin)
    if as_json:
        print_json(sandbox)
        return
    invocation.out.print(f"Created sandbox [bold]{sandbox.id}[/bold] ({escape(sandbox.name)})")
    _print_sandbox(invocation, sandbox)


@sandbox_app.command("list")
def sandbox_list(
    ctx: typer.Context,
    include_ended: Annotated[bool, typer.Option("--all", help="Also deleted and expired sandboxes.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List your administration's sandboxes."""
    invocation = current_invocation(ctx)
    with _client(invocation, "list") as client:
        sandboxes = client.sandboxes.list(include_ended=include_ended)
    if as_json:
        print_json(sandboxes)
        return
    if not sandboxes:
        invocation.out.print("No sandboxes. Create one with `segell sandbox create NAME`.")
        return
    table = Table(Column("id", no_wrap=True), "name", "status", "backend", "chain id", "expires", highlight=False)
    for sandbox in sandboxes:
        table.add_row(
            sandbox.id,
            escape(sandbox.name),
            sandbox.status,
            sandbox.backend,
            str(sandbox.chain_id),
            timestamp(sandbox.expires_at),
        )
    invocation.out.print(table)


@sandbox_app.command("show")
def sandbox_show(ctx: typer.Context, sandbox_id: SandboxArgument, as_json: JsonOption = False) -> None:
    """Show a sandbox: head block, transactions, uptime, expiry, snapshots."""
    invocation = current_invocation(ctx)
    with _client(invocation, "show") as client:
        sandbox = client.sandboxes.get(sandbox_id)
    if as_json:
        print_json(sandbox)
        return
    _print_sandbox(invocation, sandbox)


@sandbox_app.command("snapshot")
def sandbox_snapshot(
    ctx: typer.Context,
    sandbox_id: SandboxArgument,
    name: Annotated[str | None, typer.Option("--name", help="A name to recognise it by.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Save the sandbox's chain as it is now (revert to it with `segell sandbox revert`)."""
    invocation = current_invocation(ctx)
    with _client(invocation, "snapshot") as client:
        snapshot = client.sandboxes.snapshot(sandbox_id, name)
    if as_json:
        print_json(snapshot)
        return
    invocation.out.print(f"Snapshot [bold]{snapshot.id}[/bold] at block {snapshot.head_block}")


@sandbox_app.command("revert")
def sandbox_revert(
    ctx: typer.Context,
    sandbox_id: SandboxArgument,
    snapshot_id: Annotated[str, typer.Argument(help="The snapshot id (snap_...).", callback=require_value)],
    as_json: JsonOption = False,
) -> None:
    """Bring the sandbox's chain back to a snapshot."""
    invocation = current_invocation(ctx)
    with _client(invocation, "revert") as client:
        sandbox = client.sandboxes.revert(sandbox_id, snapshot_id)
    if as_json:
        print_json(sandbox)
        return
    invocation.out.print(f"Reverted {sandbox.id} to {snapshot_id}: head block {sandbox.head_block}")


@sandbox_app.command("reset")
def sandbox_reset(ctx: typer.Context, sandbox_id: SandboxArgument, as_json: JsonOption = False) -> None:
    """Bring the sandbox's chain back to how it was created."""
    invocation = current_invocation(ctx)
    with _client(invocation, "reset") as client:
        sandbox = client.sandboxes.reset(sandbox_id)
    if as_json:
        print_json(sandbox)
        return
    invocation.out.print(f"Reset {sandbox.id}: head block {sandbox.head_block}")


@sandbox_app.command("extend")
def sandbox_extend(
    ctx: typer.Context,
    sandbox_id: SandboxArgument,
    seconds: Annotated[int, typer.Argument(min=1, help="Seconds to add to its time to live.")],
    as_json: JsonOption = False,
) -> None:
    """Add time to a sandbox's time to live."""
    invocation = current_invocation(ctx)
    with _client(invocation, "extend") as client:
        sandbox = client.sandboxes.extend(sandbox_id, seconds)
    if as_json:
        print_json(sandbox)
        return
    invocation.out.print(f"{sandbox.id} now expires at {timestamp(sandbox.expires_at)}")


@sandbox_app.command("delete")
def sandbox_delete(ctx: typer.Context, sandbox_id: SandboxArgument, as_json: JsonOption = False) -> None:
    """Delete a sandbox: its node stops and its chain and snapshots are erased."""
    invocation = current_invocation(ctx)
    with _client(invocation, "delete") as client:
        sandbox = client.sandboxes.delete(sandbox_id)
    if as_json:
        print_json(sandbox)
        return
    invocation.out.print(f"Deleted {sandbox.id}")


@sandbox_app.command("accounts")
def sandbox_accounts(ctx: typer.Context, sandbox_id: SandboxArgument, as_json: JsonOption = False) -> None:
    """Print the sandbox's funded accounts with their private keys (keep them to yourself)."""
    invocation = current_invocation(ctx)
    with _client(invocation, "accounts") as client:
        accounts = client.sandboxes.export_accounts(sandbox_id)
    if as_json:
        print_json(accounts)
        return
    for account in accounts:
        invocation.out.print(f"{account.address}  {account.private_key}  {account.role}")


def _print_sandbox(invocation: Invocation, sandbox: Sandbox) -> None:
    fields = [
        ("id", sandbox.id),
        ("status", sandbox.status),
        ("backend", sandbox.backend),
        ("chain id", str(sandbox.chain_id)),
        ("JSON-RPC", f"{escape(sandbox.rpc_url)}  (send your API key as a bearer token)"),
        ("explorer", f"{escape(sandbox.explorer_url)}  (open it in a browser; it asks for your API key)"),
        ("registry", sandbox.contracts.registry),
        ("notary", sandbox.contracts.notary),
        ("accounts", ", ".join(sandbox.accounts) + "  (the first is admitted for you)"),
        ("created", timestamp(sandbox.created_at)),
        ("expires", timestamp(sandbox.expires_at)),
    ]
    if sandbox.head_block is not None:
        fields.append(("head block", str(sandbox.head_block)))
        fields.append(("transactions", str(sandbox.transaction_count)))
        fields.append(("uptime", f"{sandbox.uptime_seconds or 0:.0f} s"))
    if sandbox.snapshots:
        fields.append(("snapshots", ", ".join(f"{s.id} (block {s.head_block})" for s in sandbox.snapshots)))
    print_fields(invocation.out, fields)
