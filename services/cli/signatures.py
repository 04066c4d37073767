"""`segell sign` and `segell validate`: sign documents for an administration, validate anyone's signatures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape

from segell.sdk import SignatureValidation
from segell.services.cli.common import (
    DOCUMENTS_PANEL,
    Invocation,
    JsonOption,
    administration_credential,
    app,
    current_invocation,
    fail,
    jsonable,
    open_client,
    print_fields,
    print_json,
    timestamp,
)
from segell.services.file_names import safe_file_name

# -- segell sign, validate ---------------------------------------------------------------------------------

_INDICATION_STYLE = {"TOTAL_PASSED": "green", "TOTAL_FAILED": "red", "INDETERMINATE": "yellow"}


def _read(invocation: Invocation, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(invocation, f"Cannot read {path}: {exc.strerror or exc}.")


@app.command(rich_help_panel=DOCUMENTS_PANEL)
def sign(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="The document to sign.", exists=True, dir_okay=False, show_default=False)
    ],
    sign_as: Annotated[
        Literal["employee", "seal"],
        typer.Option("--as", help="Sign as an employee, or with the administration's seal.", show_default=False),
    ],
    certificate: Annotated[
        str | None,
        typer.Option(
            help="Serial of the certificate to sign with (by default the seal, or the only employee's certificate).",
            show_default=False,
        ),
    ] = None,
    cades: Annotated[bool, typer.Option("--cades", help="A detached CAdES signature (.p7s) even of a PDF.")] = False,
    placement: Annotated[
        str,
        typer.Option(
            help="Where a PDF's stamp goes: auto (where the last page has room, else on an added page), new-page, "
            "or PAGE:CORNER such as last:bottom-right or 1:top-left (PAGE first, last or a number).",
        ),
    ] = "auto",
    lang: Annotated[
        Literal["ca", "es", "en"] | None,
        typer.Option(
            "--lang", help="The stamp's language: ca, es or en (by default the administration's).", show_default=False
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write the signed PDF or the .p7s (by default next to FILE).",
            show_default=False,
        ),
    ] = None,
    public_copy: Annotated[
        bool,
        typer.Option(
            "--public-copy",
            help="Keep the signed output on the server, for whoever holds its verification code to download "
            "(`segell download CODE`, the verification page) until it is revoked.",
        ),
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the signed output is anchored.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits.", min=0)] = 120.0,
    as_json: JsonOption = False,
) -> None:
    """Sign FILE with one of the administration's certificates; the signed output is notarised.

    A PDF is signed as PAdES, with the verification code, the verification page's URL and a QR code stamped where
    its last page has room, or on a page added for it (written as NAME-signed.pdf); any other file gets a detached
    CAdES signature (NAME.p7s).
    """
    invocation = current_invocation(ctx)
    credential = administration_credential(invocation, "sign")
    data = _read(invocation, file)
    with open_client(invocation, api_key=credential.key, key_source=credential.source) as client:
        signed = client.signatures.sign(
            data,
            sign_as=sign_as,
            certificate=certificate,
            format="cades" if cades else "auto",
            filename=file.name,
            placement=placement,
            lang=lang,
            public_copy=public_copy,
        )
        # The server's name, made safe: no answer can name a file outside FILE's folder.
        target = output or file.parent / safe_file_name(signed.filename, fallback=f"{file.name}.signed")
        try:
            signed.save(target)
        except OSError as exc:
            fail(invocation, f"Cannot write {target}: {exc.strerror or exc}.")
        receipt = client.documents.wait_until_anchored(signed.receipt.id, timeout=timeout) if wait else signed.receipt
    if as_json:
        summary = {
            "file": str(target),
            "format": signed.format,
            "verification_code": signed.verification_code,
            "verification_url": signed.verification_url,
            "signer": signed.signer,
            "signing_time": signed.signing_time,
            "receipt": receipt,
        }
        print_json({name: jsonable(value) for name, value in summary.items()})
        return
    organisation = f", {signed.signer.organisation}" if signed.signer.organisation else ""
    print_fields(
        invocation.out,
        [
            ("signed", f"{escape(str(target))} ({signed.format})"),
            ("signer", escape(f"{signed.signer.name}{organisation} ({signed.signer.kind})")),
            ("certificate", signed.signer.certificate_serial),
            ("time", timestamp(signed.signing_time)),
            ("code", f"[bold]{signed.verification_code}[/bold]"),
            ("verify at", escape(signed.verification_url)),
            ("receipt", f"{receipt.id}  {receipt.status}"),
        ],
    )


@app.command(rich_help_panel=DOCUMENTS_PANEL)
def validate(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="A signed PDF, or the file a signature is of.", exists=True, dir_okay=False, show_default=False
        ),
    ],
    signature: Annotated[
        Path | None,
        typer.Option(
            help="A detached CMS (CAdES) signature of FILE, DER or PEM.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Validate the signatures of FILE (ETSI EN 319 102-1 indications). Needs no API key.

    Exit status 0 when FILE is signed and every signature passed, 1 otherwise (the reasons are printed).
    """
    invocation = current_invocation(ctx)
    data = _read(invocation, file)
    signature_data = _read(invocation, signature) if signature is not None else None
    with open_client(invocation, api_key=None) as client:
        report = client.signatures.validate(data, signature_data)
    if as_json:
        print_json(report)
    else:
        _print_report(invocation, file, report)
    if not report.passed:
        raise typer.Exit(1)


def _print_report(invocation: Invocation, file: Path, report: SignatureValidation) -> None:
    out = invocation.out
    if not report.signed:
        out.print(f"{escape(str(file))}: [yellow]not signed[/yellow] (SHA-256 {report.document_hash})")
        return
    style = _INDICATION_STYLE.get(report.indication or "", "")
    sub = f" / {report.sub_indication}" if report.sub_indication else ""
    out.print(f"{escape(str(file))}: [bold {style}]{report.indication}{sub}[/bold {style}]")
    for number, result in enumerate(report.signatures, start=1):
        style = _INDICATION_STYLE.get(result.indication, "")
        sub = f" / {result.sub_indication}" if result.sub_indication else ""
        fields = [("signature", f"{number} ({result.format}): [{style}]{result.indication}{sub}[/{style}]")]
        fields.append(("message", escape(result.message)))
        if result.signer is not None:
            organisation = f", {result.signer.organisation}" if result.signer.organisation else ""
            fields.append(("signer", escape(f"{result.signer.name}{organisation}")))
            fields.append(("certificate", f"{result.signer.certificate_serial} ({escape(result.signer.issuer)})"))
            authority = result.signer.registration_authority
            if authority is not None:
                fields.append(("registered by", escape(f"{authority.name} ({authority.code})")))
        if result.signing_time is not None:
            fields.append(("signed at", f"{timestamp(result.signing_time)} (as the signer says)"))
        proof = result.proof_of_existence
        if proof is not None:
            fields.append(
                (
                    "existed by",
                    f"{timestamp(proof.anchored_at)}, block {proof.block_number}, code {proof.verification_code}",
                )
            )
        print_fields(out, fields)
