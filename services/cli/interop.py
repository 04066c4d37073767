"""`segell interop ...`: check an exchange's evidence file offline (`verify`); and a citizen's side, with the token
of their login: who accessed their data (`accesses`), its export (`export`), and the check that an access is in
its day's notarised log (`anchor`)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography import x509
from rich.markup import escape
from rich.table import Table

from segell.sdk import AccessAnchor, AccessAnchorCheck, verify_access_anchor
from segell.services.cli.common import (
    DOCUMENTS_PANEL,
    JsonOption,
    app,
    current_invocation,
    fail,
    open_client,
    print_fields,
    print_json,
    require_value,
    timestamp,
)
from segell.services.cli.trust import trusted_notaries
from segell.services.interop.evidence import verify_evidence

interop_app = typer.Typer(
    help="Data exchanged between administrations: check evidence files; a citizen's accesses, export and anchors.",
    no_args_is_help=True,
)

TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="SEGELL_CITIZEN_TOKEN",
        help="The citizen's token: the access_token of their login with an administration (`segell otp verify`), "
        "once it bound the login to their national id.",
        show_default=False,
        callback=require_value,
    ),
]
RpcOption = Annotated[
    str | None,
    typer.Option(
        envvar="SEGELL_RPC_URL",
        help="JSON-RPC endpoint of any node of the chain: check the proof bundle on chain too.",
        show_default=False,
    ),
]
NotaryOption = Annotated[
    list[str] | None,
    typer.Option(
        "--notary",
        help="Trust this Notary for --rpc: 0xADDRESS or CHAIN_ID:0xADDRESS (repeatable); deployments pinned "
        "with `segell trust add` are trusted.",
        show_default=False,
    ),
]
app.add_typer(interop_app, name="interop", rich_help_panel=DOCUMENTS_PANEL)


@interop_app.command("verify")
def verify(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(help="The evidence file (.evidence.json).", exists=True, dir_okay=False, show_default=False),
    ],
    root: Annotated[
        Path,
        typer.Option(
            help="The CA root certificate you trust (PEM; the deployment serves it at /v1/ca/root.pem).",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    rpc: Annotated[
        str | None,
        typer.Option(
            envvar="SEGELL_RPC_URL",
            help="JSON-RPC endpoint of any node of the chain: check both proof bundles on chain too.",
            show_default=False,
        ),
    ] = None,
    notary: Annotated[
        list[str] | None,
        typer.Option(
            "--notary",
            help="Trust this Notary for --rpc: 0xADDRESS or CHAIN_ID:0xADDRESS (repeatable); deployments pinned "
            "with `segell trust add` are trusted.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check an exchange's evidence file without Segell: the provider's seal and its chain to --root, the answer
    naming the request's hash, and both proof bundles (their Merkle proofs; on chain too with --rpc).

    Exit status 0 when every check passes, 1 otherwise (each failed check is printed).
    """
    invocation = current_invocation(ctx)
    try:
        evidence: Any = json.loads(file.read_bytes())
        trusted_root = x509.load_pem_x509_certificate(root.read_bytes())
    except OSError as exc:
        fail(invocation, f"Cannot read {exc.filename or file}: {exc.strerror or exc}.")
    except ValueError as exc:
        fail(invocation, f"{file} is not JSON, or {root} not a PEM certificate: {exc}.")
    if not isinstance(evidence, dict):
        fail(invocation, f"{file} is not an evidence file: a JSON object is expected.")
    anchors = trusted_notaries(invocation, notary) if rpc is not None else None
    result = verify_evidence(evidence, trusted_root=trusted_root, rpc_url=rpc, trusted_notaries=anchors)
    if as_json:
        print_json(
            {
                "valid": result.valid,
                "problems": result.problems,
                "request_hash": result.request_hash,
                "answer_hash": result.answer_hash,
                "signer": result.signer,
                "root_fingerprint": result.root_fingerprint,
                "bundles": {
                    name: {"status": check.status, "reason": check.reason} for name, check in result.bundles.items()
                },
                "checked_on_chain": rpc is not None,
            }
        )
    else:
        verdict = "[green]valid[/green]" if result.valid else "[red]NOT valid[/red]"
        print_fields(
            invocation.out,
            [
                ("evidence", verdict),
                ("sealed by", escape(result.signer or "-")),
                ("request hash", result.request_hash or "-"),
                ("answer hash", result.answer_hash or "-"),
                (
                    "bundles",
                    "checked on chain" if rpc is not None else "proofs checked offline (give --rpc to ask the chain)",
                ),
            ],
        )
        for problem in result.problems:
            invocation.out.print(f"[red]✗[/red] {escape(problem)}")
    if not result.valid:
        raise typer.Exit(1)


@interop_app.command("accesses")
def accesses(ctx: typer.Context, token: TokenOption, as_json: JsonOption = False) -> None:
    """Who accessed the citizen's data, when, for what procedure and under what norm; newest first."""
    invocation = current_invocation(ctx)
    with open_client(invocation, api_key=None) as client:
        log = client.access.log(token)
    if as_json:
        print_json(log)
        return
    if not log.accesses:
        invocation.out.print("No administration has accessed your data through Segell.")
        return
    table = Table("id", "when", "who asked", "whose data", "data", "procedure", "case", "legal basis", highlight=False)
    for access in log.accesses:
        table.add_row(
            access.id,
            timestamp(access.at),
            escape(f"{access.consumer.name} ({access.consumer.code}), {access.officer}"),
            escape(access.provider.name),
            escape(access.data),
            escape(access.procedure_code),
            escape(access.case_id),
            escape(access.legal_basis),
        )
    invocation.out.print(table)


class ExportChoice(StrEnum):
    csv = "csv"
    json = "json"


@interop_app.command("export")
def export(
    ctx: typer.Context,
    token: TokenOption,
    format: Annotated[
        ExportChoice, typer.Option("--format", help="csv (for spreadsheets) or json.")
    ] = ExportChoice.csv,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write it here instead of to standard output.", dir_okay=False),
    ] = None,
) -> None:
    """The citizen's accesses as a file to keep: CSV or JSON."""
    invocation = current_invocation(ctx)
    with open_client(invocation, api_key=None) as client:
        content = client.access.export(token, format.value)
    if out is None:
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return
    try:
        out.write_bytes(content)
    except OSError as exc:
        fail(invocation, f"Cannot write {out}: {exc.strerror or exc}.")
    invocation.err.print(f"Wrote {escape(str(out))}.")


@interop_app.command("anchor")
def anchor(
    ctx: typer.Context,
    access_id: Annotated[
        str | None,
        typer.Argument(help="The access's id (`segell interop accesses`): fetched with --token.", show_default=False),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="SEGELL_CITIZEN_TOKEN",
            help="The citizen's token, to fetch the anchor of ACCESS_ID.",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Check an anchor kept before (--save) instead of fetching one: no server needed.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    save: Annotated[
        Path | None,
        typer.Option("--save", help="Keep the anchor fetched in this file, to check again later.", dir_okay=False),
    ] = None,
    rpc: RpcOption = None,
    notary: NotaryOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check that an access is in its day's access log as the administration notarised it: the entry's hash among
    the day's, their digest and count as notarised, the proof bundle of the day (on chain too with --rpc).

    Exit status 0 when every check passes, 1 otherwise (each failed check is printed).
    """
    invocation = current_invocation(ctx)
    if (access_id is None) == (file is None):
        raise typer.BadParameter("give either ACCESS_ID (with --token) or --file", param_hint="ACCESS_ID / --file")
    shown = None
    if file is not None:
        try:
            kept = AccessAnchor.from_json(json.loads(file.read_bytes()))
        except OSError as exc:
            fail(invocation, f"Cannot read {file}: {exc.strerror or exc}.")
        except (ValueError, KeyError, TypeError) as exc:
            fail(invocation, f"{file} is not an access anchor (`segell interop anchor ID --save FILE`): {exc}.")
    else:
        assert access_id is not None
        if not token:
            raise typer.BadParameter("the citizen's token is needed to fetch an anchor", param_hint="'--token'")
        with open_client(invocation, api_key=None) as client:
            kept = client.access.anchor(token, access_id)
            shown = next((access for access in client.access.log(token).accesses if access.id == access_id), None)
        if save is not None:
            try:
                save.write_text(json.dumps(kept.to_json(), ensure_ascii=False, indent=1))
            except OSError as exc:
                fail(invocation, f"Cannot write {save}: {exc.strerror or exc}.")
    anchors = trusted_notaries(invocation, notary) if rpc is not None else None
    check = verify_access_anchor(kept, shown, rpc_url=rpc, trusted_notaries=anchors)
    _print_anchor_check(invocation.out, kept, check, on_chain=rpc is not None, as_json=as_json)
    if not check.valid:
        raise typer.Exit(1)


def _print_anchor_check(
    out: Any, kept: AccessAnchor, check: AccessAnchorCheck, *, on_chain: bool, as_json: bool
) -> None:
    bundle = check.bundle
    if as_json:
        print_json(
            {
                "valid": check.valid,
                "problems": list(check.problems),
                "access_id": kept.access_id,
                "day": check.day,
                "entry_count": check.entry_count,
                "bundle": {"status": bundle.status, "reason": bundle.reason} if bundle is not None else None,
                "checked_on_chain": on_chain,
            }
        )
        return
    verdict = "[green]in the notarised log[/green]" if check.valid else "[red]NOT as notarised[/red]"
    print_fields(
        out,
        [
            ("access", escape(kept.access_id)),
            ("verdict", verdict),
            ("day", f"{check.day or '-'} ({check.entry_count} accesses by {escape(str(kept.day.get('consumer')))})"),
            (
                "bundle",
                f"{bundle.status if bundle else '-'}"
                + ("" if on_chain else " (proof checked offline; give --rpc to ask the chain)"),
            ),
        ],
    )
    for problem in check.problems:
        out.print(f"[red]✗[/red] {escape(problem)}")
