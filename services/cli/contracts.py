"""`segell contract ...`: deploy Solidity into a sandbox, register one deployed elsewhere, list, show, call, send and
read events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from segell.sdk import Client, CompilerSettings, ContractEvent, ContractTransaction, SegellError
from segell.services.cli.common import (
    SANDBOXES_PANEL,
    Invocation,
    JsonOption,
    administration_credential,
    app,
    current_invocation,
    fail,
    fail_with,
    open_client,
    print_fields,
    print_json,
    require_value,
    timestamp,
)

DEPLOY_TIMEOUT_S = 180.0

contract_app = typer.Typer(
    help="Contracts of your own in a sandbox: deploy from Solidity, register one deployed elsewhere, call, send,"
    " events.",
    no_args_is_help=True,
)
app.add_typer(contract_app, name="contract", rich_help_panel=SANDBOXES_PANEL)

SandboxOption = Annotated[
    str,
    typer.Option(
        "--sandbox",
        envvar="SEGELL_SANDBOX",
        help="The sandbox id (sbx_...).",
        show_default=False,
        callback=require_value,
    ),
]
AddressArgument = Annotated[
    str, typer.Argument(help="The contract's address (0x...).", show_default=False, callback=require_value)
]
FunctionArgument = Annotated[
    str,
    typer.Argument(
        help="Function name, or its signature such as 'issue(uint256,address)'.",
        show_default=False,
        callback=require_value,
    ),
]
ArgsArgument = Annotated[
    list[str] | None,
    typer.Argument(
        help='Arguments in order. Each is read as JSON when it parses (42, true, [1,2], {"a":1}), else as a'
        " string (addresses, 0x-hex, text).",
        show_default=False,
    ),
]
ValueOption = Annotated[int | None, typer.Option("--value", help="Wei to send.", min=0, show_default=False)]


def parse_argument(text: str) -> Any:
    """A command-line argument as JSON when it parses, else as the string it is (0x... addresses stay strings)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _client(ctx: typer.Context, command: str) -> tuple[Invocation, Any]:
    invocation = current_invocation(ctx)
    credential = administration_credential(invocation, command)
    return invocation, open_client(invocation, api_key=credential.key, key_source=credential.source)


@contextmanager
def _deploying_client(ctx: typer.Context, command: str = "contract deploy") -> Iterator[tuple[Invocation, Client]]:
    """Like `open_client`, with time for a first compilation (seconds of the npm compiler on a busy server)."""
    invocation = current_invocation(ctx)
    credential = administration_credential(invocation, command)
    try:
        client = Client(invocation.url, credential.key, timeout=DEPLOY_TIMEOUT_S)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--url' / SEGELL_URL") from exc
    try:
        with client:
            yield invocation, client
    except SegellError as exc:
        fail_with(invocation, exc, key_source=credential.source)


def _print_events(invocation: Invocation, events: tuple[ContractEvent, ...] | list[ContractEvent]) -> None:
    for event in events:
        args = ", ".join(f"{name}={value}" for name, value in event.args.items())
        name = event.event or f"(undecoded log of {event.address})"
        invocation.out.print(f"  block {event.block_number}  {escape(name)}({escape(args)})")


def _print_transaction(invocation: Invocation, sent: ContractTransaction) -> None:
    fields = [
        ("transaction", sent.transaction_hash),
        ("block", str(sent.block_number)),
        ("status", sent.status),
        ("gas used", str(sent.gas_used)),
    ]
    if sent.function:
        fields.insert(0, ("function", escape(sent.function)))
    print_fields(invocation.out, fields)
    _print_events(invocation, sent.events)


@contract_app.command("deploy")
def deploy(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Solidity files; several are sent by their paths relative to their common folder.",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ],
    sandbox: SandboxOption,
    contract: Annotated[
        str | None,
        typer.Option(help="Which contract to deploy (Name or path.sol:Name), when several can be.", show_default=False),
    ] = None,
    arg: Annotated[
        list[str] | None,
        typer.Option("--arg", help="A constructor argument (repeat in order); read as JSON when it parses."),
    ] = None,
    value: ValueOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compile Solidity files with the server's pinned solc and deploy a contract in a sandbox."""
    args = [parse_argument(item) for item in arg or []]
    with _deploying_client(ctx) as (invocation, segell):
        deployed = segell.contracts.deploy(sandbox, files, contract=contract, args=args, value=value)
    if as_json:
        print_json(deployed)
        return
    print_fields(
        invocation.out,
        [
            ("contract", escape(deployed.source_unit or deployed.name)),
            ("address", deployed.address),
            ("transaction", deployed.deployment.transaction_hash),
            ("block", str(deployed.deployment.block_number)),
            ("gas used", str(deployed.deployment.gas_used)),
            ("functions", escape(", ".join(deployed.functions))),
        ],
    )
    for warning in deployed.warnings:
        invocation.err.print(f"[yellow]{escape(str(warning))}[/yellow]")


@contract_app.command("register")
def register(
    ctx: typer.Context,
    address: AddressArgument,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="The Solidity files it was compiled from; several are sent by their paths relative to their common"
            " folder.",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ],
    sandbox: SandboxOption,
    contract: Annotated[
        str | None,
        typer.Option(
            help="Which contract is at the address (Name or path.sol:Name), when several can be.", show_default=False
        ),
    ] = None,
    optimizer: Annotated[
        bool,
        typer.Option("--optimizer/--no-optimizer", help="Whether it was compiled with the optimizer (forge: off)."),
    ] = True,
    optimizer_runs: Annotated[int, typer.Option("--optimizer-runs", min=0, help="The optimizer's runs.")] = 200,
    evm_version: Annotated[
        str | None,
        typer.Option(
            "--evm-version",
            help="The EVM version compiled for (the server's pinned one by default).",
            show_default=False,
        ),
    ] = None,
    via_ir: Annotated[bool, typer.Option("--via-ir", help="It was compiled through the IR pipeline.")] = False,
    transaction: Annotated[
        str | None,
        typer.Option(
            "--transaction", help="The hash of the transaction that deployed it, if known.", show_default=False
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Register a contract deployed elsewhere (forge create, a raw transaction) with the sources it was compiled from.

    The server compiles them with its pinned solc and keeps them only if they make the code at the address.
    """
    settings = CompilerSettings(
        optimizer=optimizer, optimizer_runs=optimizer_runs, evm_version=evm_version, via_ir=via_ir
    )
    with _deploying_client(ctx, "contract register") as (invocation, segell):
        registered = segell.contracts.register(
            sandbox, address, files, contract=contract, compiler=settings, transaction_hash=transaction
        )
    if as_json:
        print_json(registered)
        return
    print_fields(
        invocation.out,
        [
            ("contract", escape(registered.source_unit or registered.name)),
            ("address", registered.address),
            ("match", f"{registered.verification} (the code on chain is what these sources compile to)"),
            ("functions", escape(", ".join(registered.functions))),
            ("events", escape(", ".join(registered.events))),
        ],
    )
    for warning in registered.warnings:
        invocation.err.print(f"[yellow]{escape(str(warning))}[/yellow]")


@contract_app.command("list")
def list_contracts(ctx: typer.Context, sandbox: SandboxOption, as_json: JsonOption = False) -> None:
    """The sandbox's Segell contracts and those deployed in it."""
    invocation, client = _client(ctx, "contract list")
    with client as segell:
        listed = segell.contracts.list(sandbox)
    if as_json:
        print_json(listed)
        return
    for item in listed:
        gone = "" if item.on_chain else "  (no longer on chain)"
        when = f"  deployed {timestamp(item.deployed_at)}" if item.deployed_at else ""
        invocation.out.print(f"{item.address}  {escape(item.name)}  {item.origin}{when}{gone}")


@contract_app.command("show")
def show(ctx: typer.Context, address: AddressArgument, sandbox: SandboxOption, as_json: JsonOption = False) -> None:
    """One contract: its functions and events (the full ABI and sources with --json)."""
    invocation, client = _client(ctx, "contract show")
    with client as segell:
        details = segell.contracts.get(sandbox, address)
    if as_json:
        print_json(details)
        return
    print_fields(
        invocation.out,
        [
            ("contract", escape(details.source_unit or details.name)),
            ("address", details.address),
            ("origin", details.origin),
            ("on chain", str(details.on_chain)),
            ("functions", escape(", ".join(details.functions))),
            ("events", escape(", ".join(details.events))),
        ],
    )


@contract_app.command("call")
def call(
    ctx: typer.Context,
    address: AddressArgument,
    function: FunctionArgument,
    sandbox: SandboxOption,
    args: ArgsArgument = None,
    sender: Annotated[
        str | None, typer.Option("--from", help="The msg.sender the contract sees.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run a function with eth_call (nothing is sent) and print what it returns, as JSON."""
    _invocation, client = _client(ctx, "contract call")
    with client as segell:
        answer = segell.contracts.call(
            sandbox, address, function, [parse_argument(item) for item in args or []], sender=sender
        )
    print_json(answer if as_json else answer.result)


@contract_app.command("send")
def send(
    ctx: typer.Context,
    address: AddressArgument,
    function: FunctionArgument,
    sandbox: SandboxOption,
    args: ArgsArgument = None,
    value: ValueOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send a transaction calling a function from your sandbox account; print its block, gas and events."""
    invocation, client = _client(ctx, "contract send")
    with client as segell:
        sent = segell.contracts.send(
            sandbox, address, function, [parse_argument(item) for item in args or []], value=value
        )
    if as_json:
        print_json(sent)
        return
    if sent.status != "success":
        _print_transaction(invocation, sent)
        fail(invocation, f"The transaction was mined but reverted in block {sent.block_number}.")
    _print_transaction(invocation, sent)


@contract_app.command("events")
def events(
    ctx: typer.Context,
    address: AddressArgument,
    sandbox: SandboxOption,
    name: Annotated[str | None, typer.Option(help="Only this event (name or signature).", show_default=False)] = None,
    from_block: Annotated[int, typer.Option(help="First block.", min=0)] = 0,
    to_block: Annotated[int | None, typer.Option(help="Last block (the head by default).", min=0)] = None,
    as_json: JsonOption = False,
) -> None:
    """The contract's decoded events between two blocks."""
    invocation, client = _client(ctx, "contract events")
    with client as segell:
        found = segell.contracts.events(sandbox, address, name, from_block=from_block, to_block=to_block)
    if as_json:
        print_json(found)
        return
    if not found:
        invocation.out.print("no events")
    _print_events(invocation, found)
