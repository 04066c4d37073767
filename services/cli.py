"""The `segell` command line: run a sandbox and manage its member administrations.

    segell up                          start the API (and a chain) on 127.0.0.1:8000
    segell status                      what the running server reports about itself
    segell admin add NAME --code CODE  admit an administration and print its first API key
    segell admin key issue CODE        another API key for it

Admin commands authenticate with --api-key / SEGELL_API_KEY, else with the operator's governance key that the
server writes to $SEGELL_HOME/governance.key at first start. Errors go to stderr with exit status 1 (2 for
usage errors); `--json` prints machine-readable output for scripts.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sdk import (
    DEFAULT_BASE_URL,
    Administration,
    APIError,
    ApiKeyInfo,
    AuthenticationError,
    Client,
    Health,
    IssuedApiKey,
    SegellError,
)

CHAIN_CHOICES = ("embedded", "anvil", "auto")
DEFAULT_HOME = Path(".segell")
GOVERNANCE_KEY_FILE = "governance.key"

app = typer.Typer(
    name="segell",
    help="Segell: a permissioned blockchain sandbox for public administrations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
admin_app = typer.Typer(
    help="Admit, inspect, suspend and reinstate member administrations (needs the governance key).",
    no_args_is_help=True,
)
key_app = typer.Typer(help="Issue, list and revoke an administration's API keys.", no_args_is_help=True)
admin_app.add_typer(key_app, name="key")
app.add_typer(admin_app, name="admin")


def _require_value(value: str) -> str:
    if not value.strip():
        raise typer.BadParameter("must not be empty")
    return value


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a human-readable view.")]
CodeArgument = Annotated[
    str,
    typer.Argument(help="The administration's code, e.g. L01080193.", show_default=False, callback=_require_value),
]


@dataclass(frozen=True)
class Invocation:
    """What the global options resolved to, shared by every command through the click context."""

    url: str
    api_key: str | None
    home: Path
    out: Console
    err: Console


@dataclass(frozen=True)
class _Credential:
    key: str
    source: str  # where the key came from, named in authentication errors


@app.callback()
def _global_options(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Option("--url", envvar="SEGELL_URL", help="Base URL of the Segell API.")
    ] = DEFAULT_BASE_URL,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="SEGELL_API_KEY",
            help="API key (sgl_...). Admin commands fall back to $SEGELL_HOME/governance.key.",
            show_default=False,
        ),
    ] = None,
) -> None:
    home = Path(os.environ.get("SEGELL_HOME") or DEFAULT_HOME)
    ctx.obj = Invocation(
        url=url.rstrip("/"),
        api_key=api_key or None,
        home=home,
        out=Console(highlight=False, soft_wrap=True),
        err=Console(stderr=True, highlight=False, soft_wrap=True),
    )


# -- segell up --------------------------------------------------------------------------------------


@app.command()
def up(
    chain: Annotated[
        str,
        typer.Option(
            envvar="SEGELL_CHAIN",
            help="embedded (in-process EVM), anvil (local node), auto (anvil when installed) or a JSON-RPC URL.",
        ),
    ] = "auto",
    host: Annotated[str, typer.Option(envvar="SEGELL_HOST", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="SEGELL_PORT", help="Port to listen on.", min=1, max=65535)] = 8000,
) -> None:
    """Start the Segell API and its chain in the foreground (Ctrl+C stops both)."""
    if chain not in CHAIN_CHOICES and not chain.startswith(("http://", "https://")):
        raise typer.BadParameter(
            f"{chain!r} is not one of {', '.join(CHAIN_CHOICES)} nor an http(s):// JSON-RPC URL.",
            param_hint="--chain",
        )
    # The application reads its configuration from the environment (services.settings.Settings).
    os.environ["SEGELL_CHAIN"] = chain
    os.environ["SEGELL_HOST"] = host
    os.environ["SEGELL_PORT"] = str(port)

    import uvicorn  # only `up` needs the server stack

    uvicorn.run("services.main:app", host=host, port=port)


# -- segell status ----------------------------------------------------------------------------------


@app.command()
def status(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Show the server's chain, contracts and database; exit 1 if unreachable or degraded."""
    invocation = _invocation(ctx)
    with _client(invocation, api_key=None) as client:
        health = client.health()
    if as_json:
        _print_json(health)
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
    _print_fields(
        out,
        [
            ("backend", chain.backend + (" (local development chain)" if chain.local_dev else "")),
            ("rpc url", escape(chain.rpc_url) if chain.rpc_url else "none (in-process chain)"),
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


# -- segell admin -----------------------------------------------------------------------------------


@admin_app.command("add")
def admin_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Display name, e.g. 'Ajuntament de Barcelona'.", show_default=False)],
    code: Annotated[str, typer.Option("--code", help="The administration's DIR3 or tax code.", show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """Admit an administration on chain and print its first API key (shown only once)."""
    invocation = _invocation(ctx)
    with _governance_client(invocation) as client:
        admitted = client.admit_administration(code, name)
    if as_json:
        _print_json(admitted)
        return
    administration = admitted.administration
    invocation.out.print(f"Admitted [bold]{escape(administration.code)}[/bold]: {escape(administration.name)}")
    _print_administration(invocation, administration)
    _print_issued_key(invocation, administration.code, admitted.api_key)


@admin_app.command("list")
def admin_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List every administration."""
    invocation = _invocation(ctx)
    with _governance_client(invocation) as client:
        administrations = client.list_administrations()
    if as_json:
        _print_json(administrations)
        return
    if not administrations:
        invocation.out.print("No administrations yet. Admit one with `segell admin add NAME --code CODE`.")
        return
    table = Table("code", "name", "status", "accounts", "admitted", title=None, highlight=False)
    for administration in administrations:
        table.add_row(
            escape(administration.code),
            escape(administration.name),
            _status_markup(administration),
            str(len(administration.accounts)),
            _timestamp(administration.admitted_at),
        )
    invocation.out.print(table)


@admin_app.command("show")
def admin_show(ctx: typer.Context, code: CodeArgument, as_json: JsonOption = False) -> None:
    """Show one administration: chain id, status, accounts, admission transaction."""
    invocation = _invocation(ctx)
    with _governance_client(invocation) as client:
        administration = client.get_administration(code)
    if as_json:
        _print_json(administration)
        return
    invocation.out.print(f"[bold]{escape(administration.code)}[/bold]: {escape(administration.name)}")
    _print_administration(invocation, administration)


@admin_app.command("suspend")
def admin_suspend(ctx: typer.Context, code: CodeArgument) -> None:
    """Suspend an administration: it can no longer anchor and its API keys stop working."""
    invocation = _invocation(ctx)
    with _governance_client(invocation) as client:
        administration = client.suspend_administration(code)
    invocation.out.print(f"{escape(administration.code)} is now {_status_markup(administration)}.")


@admin_app.command("reinstate")
def admin_reinstate(ctx: typer.Context, code: CodeArgument) -> None:
    """Reinstate a suspended administration."""
    invocation = _invocation(ctx)
    with _governance_client(invocation) as client:
        administration = client.reinstate_administration(code)
    invocation.out.print(f"{escape(administration.code)} is now {_status_markup(administration)}.")


def _print_administration(invocation: Invocation, administration: Administration) -> None:
    _print_fields(
        invocation.out,
        [
            ("status", _status_markup(administration)),
            ("chain id", administration.chain_id),
            ("accounts", ", ".join(administration.accounts) or "none"),
            ("admitted", _timestamp(administration.admitted_at)),
            ("admission tx", administration.admission_tx or "not sent yet"),
        ],
    )


def _status_markup(administration: Administration) -> str:
    colour = "green" if administration.is_active else "yellow"
    return f"[{colour}]{escape(administration.status)}[/{colour}]"


# -- segell admin key -------------------------------------------------------------------------------


@key_app.command("issue")
def key_issue(ctx: typer.Context, code: CodeArgument, as_json: JsonOption = False) -> None:
    """Issue another API key for an administration and print it (shown only once)."""
    invocation = _invocation(ctx)
    with _governance_client(invocation) as client:
        issued = client.issue_api_key(code)
    if as_json:
        _print_json(issued)
        return
    _print_issued_key(invocation, code, issued)


@key_app.command("list")
def key_list(ctx: typer.Context, code: CodeArgument, as_json: JsonOption = False) -> None:
    """List an administration's API keys (never their secrets)."""
    invocation = _invocation(ctx)
    with _governance_client(invocation) as client:
        keys = client.list_api_keys(code)
    if as_json:
        _print_json(keys)
        return
    table = Table("id", "prefix", "created", "revoked", highlight=False)
    for key in keys:
        table.add_row(escape(key.id), escape(key.prefix), _timestamp(key.created_at), _revoked(key))
    invocation.out.print(table)


@key_app.command("revoke")
def key_revoke(
    ctx: typer.Context,
    code: CodeArgument,
    key_id: Annotated[
        str, typer.Argument(help="The key id, as shown by `segell admin key list`.", callback=_require_value)
    ],
) -> None:
    """Revoke an API key; it stops working at once."""
    invocation = _invocation(ctx)
    with _governance_client(invocation) as client:
        key = client.revoke_api_key(code, key_id)
    invocation.out.print(f"Revoked key {escape(key.id)} of {escape(code)} ({_revoked(key)}).")


def _print_issued_key(invocation: Invocation, code: str, issued: IssuedApiKey) -> None:
    out = invocation.out
    out.print()
    out.print(f"API key for {escape(code)} (id {escape(issued.id)}):")
    out.print(issued.key, markup=False)
    out.print("[bold yellow]Store this key now: it cannot be shown again.[/bold yellow]")


def _revoked(key: ApiKeyInfo) -> str:
    return f"revoked {_timestamp(key.revoked_at)}" if key.revoked_at else "[green]active[/green]"


# -- plumbing ---------------------------------------------------------------------------------------


def _invocation(ctx: typer.Context) -> Invocation:
    invocation = ctx.find_object(Invocation)
    assert invocation is not None, "the app callback sets the invocation"
    return invocation


@contextmanager
def _client(invocation: Invocation, *, api_key: str | None, key_source: str | None = None) -> Iterator[Client]:
    """A client for one command; SDK errors become a message on stderr and exit status 1."""
    try:
        client = Client(invocation.url, api_key)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--url' / SEGELL_URL") from exc
    try:
        with client:
            yield client
    except SegellError as exc:
        _fail_with(invocation, exc, key_source=key_source)


@contextmanager
def _governance_client(invocation: Invocation) -> Iterator[Client]:
    credential = _governance_credential(invocation)
    with _client(invocation, api_key=credential.key, key_source=credential.source) as client:
        yield client


def _governance_credential(invocation: Invocation) -> _Credential:
    if invocation.api_key:
        return _Credential(invocation.api_key, "--api-key / SEGELL_API_KEY")
    path = invocation.home / GOVERNANCE_KEY_FILE
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        _fail(
            invocation,
            f"No API key given and no governance key at {path.resolve()}. "
            "Pass --api-key or set SEGELL_API_KEY, or set SEGELL_HOME to the directory "
            "of the server started with `segell up` "
            "(it writes governance.key there at first start).",
        )
    except OSError as exc:
        _fail(invocation, f"Cannot read the governance key at {path.resolve()}: {exc.strerror or exc}.")
    if not key:
        _fail(invocation, f"The governance key file {path.resolve()} is empty. Pass --api-key instead.")
    return _Credential(key, str(path.resolve()))


def _fail_with(invocation: Invocation, exc: SegellError, *, key_source: str | None) -> NoReturn:
    if isinstance(exc, APIError):
        hint = f"HTTP {exc.status_code}, {exc.code}"
        if isinstance(exc, AuthenticationError) and key_source:
            hint += f"; the API key came from {key_source}"
        _fail(invocation, exc.message, hint=hint, details=exc.details)
    _fail(invocation, exc.message)


def _fail(invocation: Invocation, message: str, *, hint: str | None = None, details: Any = None) -> NoReturn:
    invocation.err.print(f"[bold red]Error:[/bold red] {escape(message)}")
    if hint:
        invocation.err.print(f"[dim]({escape(hint)})[/dim]")
    if details is not None:
        invocation.err.print(f"details: {json.dumps(details, default=str)}", markup=False, style="dim")
    raise typer.Exit(1)


def _print_fields(out: Console, fields: list[tuple[str, str]]) -> None:
    """Print `label  value` lines with aligned values; values may hold rich markup."""
    width = max(len(label) for label, _ in fields)
    for label, value in fields:
        out.print(f"[bold]{label.ljust(width)}[/bold]  {value}")


def _print_json(value: Any) -> None:
    # Plain print, not rich: scripts need the exact bytes, without wrapping or colour.
    print(json.dumps(_jsonable(value), indent=2))


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _timestamp(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") if moment else ""


def main() -> None:
    """Entry point of the `segell` console script."""
    app()


if __name__ == "__main__":
    main()
