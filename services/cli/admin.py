"""`segell admin ...`: admit and manage member administrations and their API keys (governance)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from segell.chain.durable import replace_atomically
from segell.sdk import (
    Administration,
    ApiKeyInfo,
    IssuedApiKey,
)
from segell.services.cli.common import (
    CONSORTIUM_PANEL,
    GOVERNANCE_KEY_FILE,
    CodeArgument,
    Invocation,
    JsonOption,
    LanguageChoice,
    app,
    current_invocation,
    fail,
    governance_client,
    print_fields,
    print_json,
    require_value,
    timestamp,
)

admin_app = typer.Typer(
    help="Admit, inspect, suspend and reinstate member administrations (needs the governance key).",
    no_args_is_help=True,
)
key_app = typer.Typer(help="Issue, list and revoke an administration's API keys.", no_args_is_help=True)
admin_app.add_typer(key_app, name="key")
governance_keys_app = typer.Typer(
    help="List, rotate and revoke the governance API keys (the operator's own).", no_args_is_help=True
)
admin_app.add_typer(governance_keys_app, name="keys")
app.add_typer(admin_app, name="admin", rich_help_panel=CONSORTIUM_PANEL)


# -- segell admin -----------------------------------------------------------------------------------


@admin_app.command("add")
def admin_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Display name, e.g. 'Ajuntament de Barcelona'.", show_default=False)],
    code: Annotated[str, typer.Option("--code", help="The administration's DIR3 or tax code.", show_default=False)],
    language: Annotated[
        LanguageChoice, typer.Option("--language", help="The language of its citizens' SMS.")
    ] = LanguageChoice.ca,
    as_json: JsonOption = False,
) -> None:
    """Admit an administration on chain and print its first API key (shown only once)."""
    invocation = current_invocation(ctx)
    with governance_client(invocation) as client:
        admitted = client.administrations.admit(code, name, language=language.value)
    if as_json:
        print_json(admitted)
        return
    administration = admitted.administration
    invocation.out.print(f"Admitted [bold]{escape(administration.code)}[/bold]: {escape(administration.name)}")
    _print_administration(invocation, administration)
    _print_issued_key(invocation, administration.code, admitted.api_key)


@admin_app.command("list")
def admin_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List every administration."""
    invocation = current_invocation(ctx)
    with governance_client(invocation) as client:
        administrations = client.administrations.list()
    if as_json:
        print_json(administrations)
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
            timestamp(administration.admitted_at),
        )
    invocation.out.print(table)


@admin_app.command("show")
def admin_show(ctx: typer.Context, code: CodeArgument, as_json: JsonOption = False) -> None:
    """Show one administration: registry id, status, accounts, admission transaction."""
    invocation = current_invocation(ctx)
    with governance_client(invocation) as client:
        administration = client.administrations.get(code)
    if as_json:
        print_json(administration)
        return
    invocation.out.print(f"[bold]{escape(administration.code)}[/bold]: {escape(administration.name)}")
    _print_administration(invocation, administration)


@admin_app.command("set")
def admin_set(
    ctx: typer.Context,
    code: CodeArgument,
    language: Annotated[
        LanguageChoice | None,
        typer.Option("--language", help="The language of its citizens' SMS, unless an app asks for another."),
    ] = None,
    sms_templates: Annotated[
        list[str] | None,
        typer.Option(
            "--sms-template",
            help="LANG=TEXT: its own SMS text in that language, with {code} (required) and {administration}; "
            "repeat for several languages.",
            show_default=False,
        ),
    ] = None,
    default_sms: Annotated[
        list[LanguageChoice] | None,
        typer.Option("--default-sms", help="Use Segell's default SMS text again in this language (repeatable)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change an administration's language and SMS texts (the governance key, or the administration's own with
    --api-key)."""
    invocation = current_invocation(ctx)
    templates: dict[str, str | None] = {choice.value: None for choice in default_sms or []}
    for given in sms_templates or []:
        lang, separator, text = given.partition("=")
        if not separator or lang not in LanguageChoice.__members__:
            raise typer.BadParameter(
                f"{given!r} is not LANG=TEXT with LANG one of ca, es, en, e.g. 'es={{code}} es tu código'",
                param_hint="'--sms-template'",
            )
        templates[lang] = text
    if language is None and not templates:
        fail(invocation, "Nothing to change: give --language, --sms-template LANG=TEXT or --default-sms LANG.")
    with governance_client(invocation) as client:
        administration = client.administrations.update(
            code,
            language=language.value if language is not None else None,
            sms_templates=templates or None,  # type: ignore[arg-type]
        )
    if as_json:
        print_json(administration)
        return
    invocation.out.print(f"[bold]{escape(administration.code)}[/bold]: {escape(administration.name)}")
    _print_administration(invocation, administration)


@admin_app.command("suspend")
def admin_suspend(ctx: typer.Context, code: CodeArgument) -> None:
    """Suspend an administration: it can no longer anchor and its API keys stop working."""
    invocation = current_invocation(ctx)
    with governance_client(invocation) as client:
        administration = client.administrations.suspend(code)
    invocation.out.print(f"{escape(administration.code)} is now {_status_markup(administration)}.")


@admin_app.command("reinstate")
def admin_reinstate(ctx: typer.Context, code: CodeArgument) -> None:
    """Reinstate a suspended administration."""
    invocation = current_invocation(ctx)
    with governance_client(invocation) as client:
        administration = client.administrations.reinstate(code)
    invocation.out.print(f"{escape(administration.code)} is now {_status_markup(administration)}.")


def _print_administration(invocation: Invocation, administration: Administration) -> None:
    print_fields(
        invocation.out,
        [
            ("status", _status_markup(administration)),
            ("registry id", administration.registry_id),
            ("accounts", ", ".join(administration.accounts) or "none"),
            ("admitted", timestamp(administration.admitted_at)),
            ("admission tx", administration.admission_tx or "not sent yet"),
            ("language", administration.language),
            *(
                (f"SMS text {language}", escape(text) if text else "[dim]Segell's default[/dim]")
                for language, text in administration.sms_templates.items()
            ),
        ],
    )


def _status_markup(administration: Administration) -> str:
    colour = "green" if administration.is_active else "yellow"
    return f"[{colour}]{escape(administration.status)}[/{colour}]"


# -- segell admin key -------------------------------------------------------------------------------


@key_app.command("issue")
def key_issue(ctx: typer.Context, code: CodeArgument, as_json: JsonOption = False) -> None:
    """Issue another API key for an administration and print it (shown only once)."""
    invocation = current_invocation(ctx)
    with governance_client(invocation) as client:
        issued = client.administrations.issue_api_key(code)
    if as_json:
        print_json(issued)
        return
    _print_issued_key(invocation, code, issued)


@key_app.command("list")
def key_list(ctx: typer.Context, code: CodeArgument, as_json: JsonOption = False) -> None:
    """List an administration's API keys (never their secrets)."""
    invocation = current_invocation(ctx)
    with governance_client(invocation) as client:
        keys = client.administrations.list_api_keys(code)
    if as_json:
        print_json(keys)
        return
    _print_keys(invocation, keys)


@key_app.command("revoke")
def key_revoke(
    ctx: typer.Context,
    code: CodeArgument,
    key_id: Annotated[
        str, typer.Argument(help="The key id, as shown by `segell admin key list`.", callback=require_value)
    ],
) -> None:
    """Revoke an API key; it stops working at once."""
    invocation = current_invocation(ctx)
    with governance_client(invocation) as client:
        key = client.administrations.revoke_api_key(code, key_id)
    invocation.out.print(f"Revoked key {escape(key.id)} of {escape(code)} ({_revoked(key)}).")


# -- segell admin keys ------------------------------------------------------------------------------


@governance_keys_app.command("list")
def governance_keys_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the governance API keys (never their secrets)."""
    invocation = current_invocation(ctx)
    with governance_client(invocation) as client:
        keys = client.governance_keys.list()
        current = client.me().key_id
    if as_json:
        print_json(keys)
        return
    _print_keys(invocation, keys, current=current)


@governance_keys_app.command("rotate")
def governance_keys_rotate(
    ctx: typer.Context,
    key_id: Annotated[
        str | None,
        typer.Argument(help="The key to replace, as `segell admin keys list` shows it; default: the key in use."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Replace a governance key with a new one (printed once); the old key stops working at once.

    When $SEGELL_HOME/governance.key holds the key replaced, the new key is written there.
    """
    invocation = current_invocation(ctx)
    with governance_client(invocation) as client:
        rotated = key_id or client.me().key_id
        issued = client.governance_keys.rotate(rotated)
    key_file = invocation.home / GOVERNANCE_KEY_FILE
    written = _replace_key_file(invocation, key_file, rotated, issued.key)
    if as_json:
        print_json(issued)
        return
    _print_issued_key(invocation, "governance", issued)
    invocation.out.print(f"Key {escape(rotated)} is revoked.")
    if written:
        invocation.out.print(f"Written to {escape(str(key_file.resolve()))}.")


@governance_keys_app.command("revoke")
def governance_keys_revoke(
    ctx: typer.Context,
    key_id: Annotated[
        str, typer.Argument(help="The key id, as shown by `segell admin keys list`.", callback=require_value)
    ],
) -> None:
    """Revoke a governance key; it stops working at once. The last active one cannot be revoked."""
    invocation = current_invocation(ctx)
    with governance_client(invocation) as client:
        key = client.governance_keys.revoke(key_id)
    invocation.out.print(f"Revoked governance key {escape(key.id)} ({_revoked(key)}).")


def _replace_key_file(invocation: Invocation, path: Path, rotated: str, new_key: str) -> bool:
    """Put `new_key` in the governance key file if that file holds the key `rotated`; say whether it did."""
    try:
        held = path.read_text(encoding="utf-8").strip()
    except OSError:
        return False
    if held.split("_")[1:2] != [rotated]:
        return False
    try:
        replace_atomically(path, new_key.encode() + b"\n")
    except OSError as exc:
        fail(
            invocation,
            f"Key {rotated} is revoked, but its successor could not be written to {path.resolve()}: "
            f"{exc.strerror or exc}. Store this one now: {new_key}",
        )
    return True


def _print_keys(invocation: Invocation, keys: list[ApiKeyInfo], *, current: str | None = None) -> None:
    table = Table("id", "prefix", "created", "revoked", highlight=False)
    for key in keys:
        marker = " [bold](this one)[/bold]" if key.id == current else ""
        table.add_row(escape(key.id) + marker, escape(key.prefix), timestamp(key.created_at), _revoked(key))
    invocation.out.print(table)


def _print_issued_key(invocation: Invocation, code: str, issued: IssuedApiKey) -> None:
    out = invocation.out
    out.print()
    out.print(f"API key for {escape(code)} (id {escape(issued.id)}):")
    out.print(issued.key, markup=False)
    out.print("[bold yellow]Store this key now: it cannot be shown again.[/bold yellow]")


def _revoked(key: ApiKeyInfo) -> str:
    return f"revoked {timestamp(key.revoked_at)}" if key.revoked_at else "[green]active[/green]"
