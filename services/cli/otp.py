"""`segell otp ...`: citizen one-time codes: send one, check one, read the sandbox's SMS outbox."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from segell.services.cli.common import (
    IDENTITY_PANEL,
    JsonOption,
    LanguageChoice,
    administration_credential,
    app,
    current_invocation,
    governance_client,
    open_client,
    print_fields,
    print_json,
    require_value,
    timestamp,
)

otp_app = typer.Typer(
    help="Citizen one-time codes: send, verify, and read the sandbox's SMS outbox.", no_args_is_help=True
)
app.add_typer(otp_app, name="otp", rich_help_panel=IDENTITY_PANEL)

PhoneArgument = Annotated[
    str,
    typer.Argument(help="Mobile number in E.164 form, e.g. +34600123456.", show_default=False, callback=require_value),
]


# -- segell otp -------------------------------------------------------------------------------------


@otp_app.command("outbox")
def otp_outbox(
    ctx: typer.Context,
    administration: Annotated[
        str | None,
        typer.Option("--administration", help="Only this administration's messages (governance).", show_default=False),
    ] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="Only the messages to this number.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The messages the sandbox SMS gateway kept, until their code expires: governance reads all, an administration's
    key its own."""
    invocation = current_invocation(ctx)
    with governance_client(invocation) as client:
        messages = client.auth.otp_outbox(administration=administration, phone=phone, limit=limit)
    if as_json:
        print_json(messages)
        return
    if not messages:
        invocation.out.print(
            "The outbox is empty. Codes land here when an app sends one (as `segell otp send PHONE` does), and leave"
            " when they expire."
        )
        return
    table = Table("sent", "administration", "phone", "message", highlight=False)
    for message in messages:
        table.add_row(
            timestamp(message.created_at),
            escape(message.administration),
            escape(message.phone),
            escape(message.message),
        )
    invocation.out.print(table)


@otp_app.command("send")
def otp_send(
    ctx: typer.Context,
    phone: PhoneArgument,
    lang: Annotated[
        LanguageChoice | None,
        typer.Option("--lang", help="The language of the SMS; by default the administration's.", show_default=False),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Send a one-time code to a number, as an administration's app does (needs its API key)."""
    invocation = current_invocation(ctx)
    credential = administration_credential(invocation, "otp send")
    with open_client(invocation, api_key=credential.key, key_source=credential.source) as client:
        challenge = client.auth.request_otp(phone, lang=lang.value if lang is not None else None)
    if as_json:
        print_json(challenge)
        return
    print_fields(
        invocation.out,
        [
            ("sent to", escape(challenge.phone)),
            ("gateway", escape(challenge.gateway)),
            ("expires", timestamp(challenge.expires_at)),
        ],
    )
    if challenge.gateway == "outbox":
        invocation.out.print("Read it with `segell otp outbox`.")


@otp_app.command("verify")
def otp_verify(
    ctx: typer.Context,
    phone: PhoneArgument,
    code: Annotated[str, typer.Argument(help="The 6-digit code.", show_default=False, callback=require_value)],
    as_json: JsonOption = False,
) -> None:
    """Check a code and print the citizen token it earns (needs the administration's API key)."""
    invocation = current_invocation(ctx)
    credential = administration_credential(invocation, "otp verify")
    with open_client(invocation, api_key=credential.key, key_source=credential.source) as client:
        token = client.auth.verify_otp(phone, code)
    if as_json:
        print_json(token)
        return
    print_fields(
        invocation.out,
        [
            ("citizen", escape(token.citizen_id)),
            ("methods", escape(", ".join(token.amr))),
            ("expires", timestamp(token.expires_at)),
            ("token", escape(token.access_token)),
        ],
    )
