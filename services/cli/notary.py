"""`segell notarise`, `segell verify`, `segell download` and `segell revoke`: documents for an administration or
anyone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from segell.sdk import (
    BundleVerification,
    Receipt,
    SegellError,
    verify_bundle,
)
from segell.services.cli.common import (
    DOCUMENTS_PANEL,
    Invocation,
    JsonOption,
    administration_credential,
    app,
    current_invocation,
    fail,
    fail_with,
    hash_file,
    open_client,
    print_fields,
    print_json,
    progress_bar,
    require_value,
    timestamp,
)
from segell.services.cli.documents import BUNDLE_SUFFIX, write_bundle
from segell.services.cli.trust import trusted_notaries
from segell.services.file_names import safe_file_name

# -- segell notarise, verify, revoke ----------------------------------------------------------------

FileArgument = Annotated[
    Path,
    typer.Argument(help="The document.", exists=True, dir_okay=False, readable=True, show_default=False),
]


@app.command(rich_help_panel=DOCUMENTS_PANEL)
def notarise(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(help="Documents to notarise.", exists=True, dir_okay=False, readable=True, show_default=False),
    ],
    kind: Annotated[
        str | None, typer.Option(help="What the documents are, e.g. resolution, certificate.", show_default=False)
    ] = None,
    title: Annotated[
        str | None, typer.Option(help="A title shown by public verification (sends each file).", show_default=False)
    ] = None,
    salted: Annotated[bool, typer.Option("--salted", help="Hide each hash in the tree behind a random salt.")] = False,
    public: Annotated[
        bool,
        typer.Option("--public", help="Show kind and title to anyone who verifies by hash, even for salted documents."),
    ] = False,
    public_copy: Annotated[
        bool,
        typer.Option(
            "--public-copy",
            help="Keep each file on the server, for whoever holds its verification code to download (`segell "
            "download CODE`, the verification page) until it is revoked. Sends each file.",
        ),
    ] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until anchored and save each proof bundle next to its file.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the proof bundles into this directory instead.", file_okay=False, show_default=False),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds --wait waits for the documents to be anchored.", min=0)
    ] = 120.0,
    as_json: JsonOption = False,
) -> None:
    """Notarise documents with the administration's API key; print each receipt's id, code and status.

    One file, --title or --public-copy sends each file (streamed); several files send only their SHA-256 hashes,
    in batches.
    """
    invocation = current_invocation(ctx)
    credential = administration_credential(invocation, "notarise")
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(invocation, f"Cannot create the bundle directory {out}: {exc.strerror or exc}.")
    results: list[dict[str, Any]] = []
    with open_client(invocation, api_key=credential.key, key_source=credential.source) as client:
        with progress_bar(invocation) as progress:
            if len(files) == 1 or title is not None or public_copy:
                task = progress.add_task("Notarising", total=len(files))
                receipts = []
                for path in files:
                    try:
                        receipts.append(
                            client.documents.notarise(
                                path, kind=kind, title=title, salted=salted, public=public, public_copy=public_copy
                            )
                        )
                    except OSError as exc:
                        fail(invocation, f"Cannot read {path}: {exc.strerror or exc}.")
                    progress.advance(task)
            else:
                task = progress.add_task("Hashing", total=len(files))
                hashes = []
                for path in files:
                    hashes.append(hash_file(invocation, path))
                    progress.advance(task)
                progress.update(task, description="Notarising")
                receipts = client.documents.notarise_many(hashes, kind=kind, salted=salted, public=public)
            if wait:
                # A few requests for any number of documents: those anchored together come back together.
                progress.add_task("Waiting for anchoring", total=None)
                bundles = client.documents.wait_for_bundles([receipt.id for receipt in receipts], timeout=timeout)
                task = progress.add_task("Writing proof bundles", total=len(receipts))
                for path, receipt, bundle in zip(files, receipts, bundles, strict=True):
                    bundle_path = (out or path.parent) / safe_file_name(f"{path.name}{BUNDLE_SUFFIX}")
                    write_bundle(invocation, bundle_path, bundle)
                    # Anchored now, unless it was notarised before and has been revoked since.
                    status = receipt.status if receipt.status != "pending" else "anchored"
                    results.append(_notarised(path, receipt, bundle_path, status))
                    progress.advance(task)
            else:
                results = [
                    _notarised(path, receipt, None, receipt.status)
                    for path, receipt in zip(files, receipts, strict=True)
                ]

    if as_json:
        print_json(results)
        return
    for result in results:
        line = f"{escape(result['file'])}  id {result['id']}  code [bold]{result['verification_code']}[/bold]  "
        line += _document_status_markup(result["status"])
        if result["bundle"]:
            line += f"  bundle {escape(result['bundle'])}"
        invocation.out.print(line)


@app.command(rich_help_panel=DOCUMENTS_PANEL)
def verify(
    ctx: typer.Context,
    file: FileArgument,
    bundle: Annotated[
        Path | None,
        typer.Option(
            help="A proof bundle (.segell.json): check it against the chain alone, without asking Segell.",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
        ),
    ] = None,
    rpc: Annotated[
        str | None,
        typer.Option(
            envvar="SEGELL_RPC_URL",
            help="JSON-RPC endpoint of any node of the chain, for --bundle [default: the server's /rpc].",
            show_default=False,
        ),
    ] = None,
    notary: Annotated[
        list[str] | None,
        typer.Option(
            "--notary",
            help="Trust this Notary for --bundle: 0xADDRESS, or CHAIN_ID:0xADDRESS for one chain (repeatable; "
            "also SEGELL_TRUSTED_NOTARIES, comma-separated). Deployments pinned with `segell trust add` are trusted.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a document: against its proof bundle and the chain (--bundle), or with the Segell server.

    A bundle is authentic only if it names a Notary you trust (`segell trust add URL`, or --notary).
    Exit status 0 when the document is authentic, 1 otherwise (the reason is printed).
    """
    invocation = current_invocation(ctx)
    if bundle is None:
        if rpc is not None or notary:
            raise typer.BadParameter("--rpc and --notary need --bundle: without one, the Segell server is asked.")
        _verify_with_server(invocation, file, as_json)
        return

    anchors = trusted_notaries(invocation, notary)
    rpc_url = rpc or f"{invocation.url}/rpc"
    try:
        result = verify_bundle(bundle, file, rpc_url, trusted_notaries=anchors)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--rpc'") from exc
    except SegellError as exc:
        fail_with(invocation, exc, key_source=None)
    except OSError as exc:
        fail(invocation, f"Cannot read {exc.filename or file}: {exc.strerror or exc}.")
    if as_json:
        print_json(result)
    else:
        _print_bundle_verification(invocation, result, rpc_url)
    if not result.valid:
        raise typer.Exit(1)


@app.command(rich_help_panel=DOCUMENTS_PANEL)
def download(
    ctx: typer.Context,
    code: Annotated[
        str,
        typer.Argument(
            help="The verification code printed on the document.", callback=require_value, show_default=False
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Where to write it: a file, or a directory to write it in under the name the server offers "
            "[default: that name, in the current directory].",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Download a document by its verification code, when its issuer kept a public copy. Needs no API key."""
    invocation = current_invocation(ctx)
    with open_client(invocation, api_key=None) as client:
        copy = client.documents.download(code)
    # The server's name is safe already; made safe here too, so that no answer can name a file elsewhere.
    name = safe_file_name(copy.file_name)
    target = output if output is not None and not output.is_dir() else (output or Path.cwd()) / name
    try:
        target.write_bytes(copy.content)
    except OSError as exc:
        fail(invocation, f"Cannot write {target}: {exc.strerror or exc}.")
    if as_json:
        print_json({"file": str(target), "media_type": copy.media_type, "size": len(copy.content)})
        return
    invocation.out.print(f"Saved {escape(str(target))} ({len(copy.content)} bytes, {escape(copy.media_type)}).")
    invocation.out.print(f"Check it: segell verify {escape(str(target))}")


@app.command(rich_help_panel=DOCUMENTS_PANEL)
def revoke(
    ctx: typer.Context,
    document_id: Annotated[str, typer.Argument(help="The receipt id.", callback=require_value, show_default=False)],
    reason: Annotated[
        str, typer.Option(help="Why it is withdrawn; recorded on chain, for everyone.", show_default=False)
    ],
    as_json: JsonOption = False,
) -> None:
    """Revoke a notarised document on chain; verification then answers `revoked` with the reason."""
    invocation = current_invocation(ctx)
    credential = administration_credential(invocation, "revoke")
    with open_client(invocation, api_key=credential.key, key_source=credential.source) as client:
        receipt = client.documents.revoke(document_id, reason)
    if as_json:
        print_json(receipt)
        return
    revocation = receipt.revocation
    invocation.out.print(f"Revoked {escape(receipt.id)} ({escape(receipt.verification_code)}).")
    if revocation is not None:
        print_fields(
            invocation.out,
            [
                ("reason", escape(revocation.reason)),
                ("revoked", timestamp(revocation.revoked_at)),
                ("transaction", revocation.transaction_hash or ""),
                ("block", "" if revocation.block_number is None else str(revocation.block_number)),
            ],
        )


def _notarised(path: Path, receipt: Receipt, bundle_path: Path | None, status: str) -> dict[str, Any]:
    return {
        "file": str(path),
        "id": receipt.id,
        "verification_code": receipt.verification_code,
        "status": status,
        "document_hash": receipt.document_hash,
        "public_copy": receipt.public_copy,
        "bundle": None if bundle_path is None else str(bundle_path),
    }


def _document_status_markup(status: str) -> str:
    colour = {"anchored": "green", "authentic": "green", "pending": "yellow"}.get(status, "bold red")
    return f"[{colour}]{escape(status)}[/{colour}]"


def _verify_with_server(invocation: Invocation, file: Path, as_json: bool) -> None:
    with open_client(invocation, api_key=None) as client:
        try:
            verification = client.documents.verify(path=file)
        except OSError as exc:
            fail(invocation, f"Cannot read {file}: {exc.strerror or exc}.")
    if as_json:
        print_json(verification)
    else:
        out = invocation.out
        out.print(
            f"{escape(str(file))}: {_document_status_markup(verification.status)} (asked {escape(invocation.url)})"
        )
        out.print(f"sha-256  {verification.document_hash or ''}")
        for match in verification.matches:
            when = f", anchored {timestamp(match.anchored_at)}" if match.anchored_at else ""
            block = f" in block {match.block_number}" if match.block_number is not None else ""
            out.print(
                f"- {escape(match.administration.name)} ({escape(match.administration.code)}): "
                f"{_document_status_markup(match.status)}{escape(when)}{block}"
                + (f", kind {escape(match.kind)}" if match.kind else "")
                + (f", title {escape(match.title)}" if match.title else "")
            )
            if match.revocation is not None:
                out.print(f"  revoked {timestamp(match.revocation.revoked_at)}: {escape(match.revocation.reason)}")
            for signer in match.signers:
                organisation = f", {signer.organisation}" if signer.organisation else ""
                out.print(
                    f"  signed by {escape(signer.name + organisation)} {timestamp(signer.signed_at)}, "
                    f"certificate issued by {escape(signer.issuer)}"
                )
        if verification.status == "unknown":
            out.print("No administration has notarised this document.")
    if not verification.is_authentic:
        raise typer.Exit(1)


def _trusted_as(result: BundleVerification) -> str:
    anchor = result.trusted_notary
    if anchor is None:
        return " (not trusted)" if result.status == "untrusted_contract" else ""
    return f" (trusted: {escape(anchor.name)})" if anchor.name else " (trusted: --notary)"


def _print_bundle_verification(invocation: Invocation, result: BundleVerification, rpc_url: str) -> None:
    out = invocation.out
    headline = "[bold green]authentic[/bold green]" if result.valid else f"[bold red]{result.status}[/bold red]"
    out.print(f"{headline}: {escape(result.reason)}")
    issuer = result.issuer
    fields = [("sha-256", result.document_hash or "")]
    if issuer is not None:
        named = " ".join(filter(None, [issuer.name, f"({issuer.code})" if issuer.code else None]))
        said = "" if result.checked_on_chain and issuer.status is not None else "  (as the bundle says, unchecked)"
        status = f", {issuer.status}" if issuer.status == "suspended" else ""
        fields.append(("issuer", escape((named or issuer.administration) + status) + said))
    if result.root is not None:
        fields += [
            ("root", result.root),
            ("leaf", f"index {result.leaf_index} in a tree of {result.tree_size}"),
            ("chain", f"{result.chain_id}, notary {result.contract}" + _trusted_as(result)),
            ("block", f"{result.block_number} {result.block_hash or ''}".strip()),
            ("anchored", timestamp(result.anchored_at)),
        ]
    if result.revocation is not None:
        fields.append(("revoked", f"{timestamp(result.revocation.revoked_at)}: {escape(result.revocation.reason)}"))
    fields.append(("checked", f"against {escape(rpc_url)}" if result.checked_on_chain else "offline only"))
    print_fields(out, fields)
