"""`segell tally verify PROCESS`: recount a closed participation process from its published ballots, and check on
chain that the ballots' root and the result are the notarised ones. Needs no API key."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from segell.sdk import SegellError
from segell.services.cli.common import (
    DOCUMENTS_PANEL,
    JsonOption,
    app,
    current_invocation,
    fail,
    fail_with,
    open_client,
    print_fields,
    print_json,
)
from segell.services.cli.trust import trusted_notaries

tally_app = typer.Typer(help="Participation tallies: recount one from its published ballots.", no_args_is_help=True)
app.add_typer(tally_app, name="tally", rich_help_panel=DOCUMENTS_PANEL)


@tally_app.command("verify")
def verify(
    ctx: typer.Context,
    process: Annotated[str, typer.Argument(help="The process's id (prc_...).", show_default=False)],
    rpc: Annotated[
        str | None,
        typer.Option(
            envvar="SEGELL_RPC_URL",
            help="JSON-RPC endpoint of any node of the chain [default: the server's /rpc].",
            show_default=False,
        ),
    ] = None,
    notary: Annotated[
        list[str] | None,
        typer.Option(
            "--notary",
            help="Trust this Notary: 0xADDRESS, or CHAIN_ID:0xADDRESS (repeatable; also SEGELL_TRUSTED_NOTARIES). "
            "Deployments pinned with `segell trust add` are trusted.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Recount a closed process: every ballot's commitment, their Merkle root and the tally recomputed from the
    published ballots, the root and the result checked on chain. Exit status 0 when all agree, 1 otherwise."""
    invocation = current_invocation(ctx)
    anchors = trusted_notaries(invocation, notary)
    if not anchors:
        fail(
            invocation,
            "No Notary is trusted: the root and the result cannot be checked on chain.",
            hint="pin the deployment with `segell trust add URL`, or pass --notary CHAIN_ID:0xADDRESS",
        )
    with open_client(invocation, api_key=None) as client:
        try:
            check = client.participation.verify_tally(process, rpc_url=rpc, trusted_notaries=anchors)
        except SegellError as exc:
            fail_with(invocation, exc, key_source=None)
    if as_json:
        print_json(check)
    else:
        recount = check.recount
        print_fields(
            invocation.out,
            [
                ("process", escape(process)),
                ("result", "[green]recounted[/green]" if check.valid else "[red]does not check out[/red]"),
                ("reason", escape(check.reason)),
                ("ballots", str(recount.ballots_count)),
                ("root", recount.ballots_root or "-"),
                ("root on chain", check.root.status if check.root else "-"),
                ("result on chain", check.result.status if check.result else "-"),
            ],
        )
        for entry in recount.tally[:20]:
            funded = "" if entry["funded"] is None else (" funded" if entry["funded"] else "")
            invocation.out.print(f"  {escape(entry['option'])}: {entry['votes']}{funded}", markup=False)
    if not check.valid:
        raise typer.Exit(1)
