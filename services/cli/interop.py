"""`segell interop verify`: check an exchange's evidence file offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography import x509
from rich.markup import escape

from segell.services.cli.common import (
    DOCUMENTS_PANEL,
    JsonOption,
    app,
    current_invocation,
    fail,
    print_fields,
    print_json,
)
from segell.services.cli.trust import trusted_notaries
from segell.services.interop.evidence import verify_evidence

interop_app = typer.Typer(help="Data exchanged between administrations: check evidence files.", no_args_is_help=True)
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
