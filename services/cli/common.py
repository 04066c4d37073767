"""What every `segell` command shares: the root app, global options, API clients, errors and output."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from segell.sdk import (
    DEFAULT_BASE_URL,
    APIError,
    AuthenticationError,
    Client,
    SegellError,
)

CHAIN_CHOICES = ("embedded", "anvil", "auto")
DEFAULT_HOME = Path(".segell")
DEFAULT_PORT = 8000
GOVERNANCE_KEY_FILE = "governance.key"
# Output that is not a terminal (a pipe, a file) is not wrapped at all: ids, codes and hashes are never cut or folded.
UNWRAPPED_WIDTH = 100_000

# Panels of `segell --help`; commands of no panel (running Segell) come first.
DOCUMENTS_PANEL = "Documents"
IDENTITY_PANEL = "Identity"
SANDBOXES_PANEL = "Sandboxes"
CONSORTIUM_PANEL = "Consortium"

app = typer.Typer(
    name="segell",
    help="Segell: a permissioned blockchain sandbox for public administrations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def require_value(value: str) -> str:
    if not value.strip():
        raise typer.BadParameter("must not be empty")
    return value


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a human-readable view.")]


class LanguageChoice(StrEnum):
    """The languages citizens read Segell in."""

    ca = "ca"
    es = "es"
    en = "en"


CodeArgument = Annotated[
    str,
    typer.Argument(help="The administration's code, e.g. L01080193.", show_default=False, callback=require_value),
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
class Credential:
    key: str
    source: str  # where the key came from, named in authentication errors


def default_url() -> str:
    """Where `segell up` listens when started in this environment: 127.0.0.1 on SEGELL_PORT (default 8000)."""
    port = os.environ.get("SEGELL_PORT", "").strip()
    if not port:
        return DEFAULT_BASE_URL
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise typer.BadParameter(f"{port!r} is not a port number (1-65535).", param_hint="SEGELL_PORT")
    return f"http://127.0.0.1:{int(port)}"


def console(*, stderr: bool = False) -> Console:
    """Rich output on stdout or stderr: wrapped to a terminal's width, never wrapped (nor cut) when piped."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else UNWRAPPED_WIDTH
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


@app.callback()
def _global_options(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="SEGELL_URL",
            help="Base URL of the Segell API; by default http://127.0.0.1:$SEGELL_PORT, where `segell up` listens"
            " in the same environment (port 8000 when SEGELL_PORT is unset).",
            show_default=False,
        ),
    ] = None,
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
        url=(url or default_url()).rstrip("/"),
        api_key=api_key or None,
        home=home,
        out=console(),
        err=console(stderr=True),
    )


def administration_credential(invocation: Invocation, command: str) -> Credential:
    if not invocation.api_key:
        fail(
            invocation,
            f"`segell {command}` acts for an administration: pass its API key with --api-key or set "
            "SEGELL_API_KEY (governance issues one with `segell admin key issue CODE`).",
        )
    return Credential(invocation.api_key, "--api-key / SEGELL_API_KEY")


@contextmanager
def progress_bar(invocation: Invocation) -> Iterator[Progress]:
    # On stderr, so that stdout holds only the results (and --json stays parseable).
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=invocation.err,
        transient=True,
    ) as progress:
        yield progress


def hash_file(invocation: Invocation, path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        fail(invocation, f"Cannot read {path}: {exc.strerror or exc}.")
    return digest.hexdigest()


def current_invocation(ctx: typer.Context) -> Invocation:
    invocation = ctx.find_object(Invocation)
    assert invocation is not None, "the app callback sets the invocation"
    return invocation


@contextmanager
def open_client(invocation: Invocation, *, api_key: str | None, key_source: str | None = None) -> Iterator[Client]:
    """A client for one command; SDK errors become a message on stderr and exit status 1."""
    try:
        client = Client(invocation.url, api_key)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--url' / SEGELL_URL") from exc
    try:
        with client:
            yield client
    except SegellError as exc:
        fail_with(invocation, exc, key_source=key_source)


@contextmanager
def governance_client(invocation: Invocation) -> Iterator[Client]:
    credential = governance_credential(invocation)
    with open_client(invocation, api_key=credential.key, key_source=credential.source) as client:
        yield client


def governance_credential(invocation: Invocation) -> Credential:
    if invocation.api_key:
        return Credential(invocation.api_key, "--api-key / SEGELL_API_KEY")
    path = invocation.home / GOVERNANCE_KEY_FILE
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        fail(
            invocation,
            f"No API key given and no governance key at {path.resolve()}. "
            "Pass --api-key or set SEGELL_API_KEY, or set SEGELL_HOME to the directory "
            "of the server started with `segell up` "
            "(it writes governance.key there at first start).",
        )
    except OSError as exc:
        fail(invocation, f"Cannot read the governance key at {path.resolve()}: {exc.strerror or exc}.")
    if not key:
        fail(invocation, f"The governance key file {path.resolve()} is empty. Pass --api-key instead.")
    return Credential(key, str(path.resolve()))


# The API's messages name its routes; a command line user is told the command that does the same instead. An id in
# the route is carried over; `{id}` (a route's placeholder) becomes ID. Routes with no command are left as they are.
_ID = r"(?P<id>[^/\s`.,;)]+)"
_ROUTE_COMMANDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"`?{route}(?![/\w])`?"), command)
    for route, command in (
        (
            rf"POST /v1/sandboxes/{_ID}/contracts/(?P<address>0x[0-9a-fA-F]+)/register",
            "segell contract register {address} FILE.sol... --sandbox {id}",
        ),
        (rf"GET /v1/sandboxes/{_ID}/snapshots", "segell sandbox show {id}"),
        (rf"GET /v1/sandboxes/{_ID}/contracts", "segell contract list --sandbox {id}"),
        (rf"POST /v1/sandboxes/{_ID}/extend", "segell sandbox extend {id} SECONDS"),
        (rf"DELETE /v1/sandboxes/{_ID}", "segell sandbox delete {id}"),
        (r"GET /v1/sandboxes", "segell sandbox list"),
        (r"POST /v1/sandboxes", "segell sandbox create NAME"),
        (r"GET /v1/administrations", "segell admin list"),
        (r"GET /v1/documents", "segell documents list"),
        (r"POST /v1/certificates \(profile (?P<profile>[a-z_]+)\)", "segell cert issue --profile {profile}"),
        (r"POST /v1/certificates", "segell cert issue"),
        (r"POST /v1/auth/otp/verify", "segell otp verify PHONE CODE"),
        (r"POST /v1/auth/otp", "segell otp send PHONE"),
    )
)
# What a path that matches no route of the API was meant to name, by its start: the id in it is malformed.
_NO_ROUTE = re.compile(r"^No route (?P<path>/\S*); /docs lists them\.$")
_MALFORMED_IDS = (
    (
        re.compile(r"^/v1/documents/(?P<id>[^/]+)"),
        "No document {id!r} was found: a receipt id is 32 hexadecimal digits, as `segell notarise` prints it.",
    ),
    (
        re.compile(r"^/v1/certificates/(?P<id>[^/]+)"),
        "No certificate {id!r} was found: a serial is 40 hexadecimal digits, as `segell cert list` prints it.",
    ),
)


def command_line_message(message: str, url: str) -> str:
    """An API error message in the command line's words: the commands to run rather than the routes to call.

    Example: ``command_line_message("No sandbox 'x'. GET /v1/sandboxes lists yours.", url)`` is
    ``"No sandbox 'x'. `segell sandbox list` lists yours."``
    """
    no_route = _NO_ROUTE.match(message)
    if no_route:
        path = no_route["path"]
        for pattern, said in _MALFORMED_IDS:
            malformed = pattern.match(path)
            if malformed:
                return said.format(id=malformed["id"])
        return (
            f"Not found: {url} has no {path}. Check the values you gave, and that --url / SEGELL_URL is Segell's API."
        )

    for pattern, command in _ROUTE_COMMANDS:
        message = pattern.sub(functools.partial(_command_for, command), message)
    return message


def _command_for(command: str, route: re.Match[str]) -> str:
    named = {name: "ID" if value == "{id}" else value for name, value in route.groupdict().items()}
    return f"`{command.format(**named)}`"


def fail_with(invocation: Invocation, exc: SegellError, *, key_source: str | None) -> NoReturn:
    if isinstance(exc, APIError):
        hint = f"HTTP {exc.status_code}, {exc.code}"
        if isinstance(exc, AuthenticationError) and key_source:
            hint += f"; the API key came from {key_source}"
        fail(invocation, command_line_message(exc.message, invocation.url), hint=hint, details=exc.details)
    fail(invocation, exc.message)


def fail(invocation: Invocation, message: str, *, hint: str | None = None, details: Any = None) -> NoReturn:
    invocation.err.print(f"[bold red]Error:[/bold red] {escape(message)}")
    if hint:
        invocation.err.print(f"[dim]({escape(hint)})[/dim]")
    if details is not None:
        invocation.err.print(
            f"details: {json.dumps(details, default=str, ensure_ascii=False)}", markup=False, style="dim"
        )
    raise typer.Exit(1)


def print_fields(out: Console, fields: list[tuple[str, str]]) -> None:
    """Print `label  value` lines with aligned values; values may hold rich markup."""
    width = max(len(label) for label, _ in fields)
    for label, value in fields:
        out.print(f"[bold]{label.ljust(width)}[/bold]  {value}")


def print_json(value: Any) -> None:
    # Plain print, not rich: scripts need the exact bytes, without wrapping or colour.
    print(json.dumps(jsonable(value), indent=2, ensure_ascii=False))


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def timestamp(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") if moment else ""
