"""The `segell` command line: run a sandbox and manage its member administrations.

    segell up                          start the API (and a chain) on 127.0.0.1:8000
    segell status                      what the running server reports about itself
    segell worker --chain URL          anchor documents in a process of its own
    segell admin add NAME --code CODE  admit an administration and print its first API key
    segell admin key issue CODE        another API key for it
    segell notarise FILE... --wait     notarise documents, save each proof bundle next to its file
    segell verify FILE --bundle B      check a document against its bundle and any node of the chain
    segell revoke ID --reason R        revoke a notarised document on chain

`notarise` and `revoke` act for an administration with its key in --api-key / SEGELL_API_KEY; `verify` needs no
key. Admin commands authenticate with --api-key / SEGELL_API_KEY, else with the operator's governance key that the
server writes to $SEGELL_HOME/governance.key at first start. Errors go to stderr with exit status 1 (2 for
usage errors); `--json` prints machine-readable output for scripts.
"""

from __future__ import annotations

import dataclasses
import hashlib
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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sdk import (
    DEFAULT_BASE_URL,
    Administration,
    APIError,
    ApiKeyInfo,
    AuthenticationError,
    BundleVerification,
    Client,
    Health,
    IssuedApiKey,
    Receipt,
    SegellError,
    verify_bundle,
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


# -- segell worker ---------------------------------------------------------------------------------


@app.command()
def worker(
    chain: Annotated[
        str,
        typer.Option(
            envvar="SEGELL_CHAIN",
            help="JSON-RPC URL of the node the API uses (segell up prints it; `segell status` shows it).",
            show_default=False,
        ),
    ] = "",
    reconcile_every: Annotated[
        float, typer.Option(help="Seconds between two checks that the node still holds every anchored root.", min=1)
    ] = 300.0,
) -> None:
    """Run the anchoring worker as its own process (the API then runs with SEGELL_ANCHORING_WORKER=false)."""
    if not chain.startswith(("http://", "https://")):
        raise typer.BadParameter(
            "the worker needs a node that several processes reach: the JSON-RPC URL of the API's node, e.g. "
            "http://127.0.0.1:8545 (for the anvil `segell up` manages, the `node` URL it prints). An embedded "
            "chain lives inside the API process, so its worker runs there.",
            param_hint="--chain / SEGELL_CHAIN",
        )
    os.environ["SEGELL_CHAIN"] = chain

    from services.notary.anchoring import serve_worker  # only the worker needs the chain stack
    from services.runtime import Runtime
    from services.settings import Settings

    serve_worker(lambda: Runtime.start(Settings()), reconcile_every=reconcile_every)


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


# -- segell notarise, verify, revoke ----------------------------------------------------------------

BUNDLE_SUFFIX = ".segell.json"

FileArgument = Annotated[
    Path,
    typer.Argument(help="The document.", exists=True, dir_okay=False, readable=True, show_default=False),
]


@app.command()
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
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until anchored and save each proof bundle next to its file.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the proof bundles into this directory instead.", file_okay=False, show_default=False),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits for each document.", min=0)] = 120.0,
    as_json: JsonOption = False,
) -> None:
    """Notarise documents with the administration's API key; print each receipt's id, code and status.

    One file, or --title, sends each file (streamed); several files send only their SHA-256 hashes, in batches.
    """
    invocation = _invocation(ctx)
    credential = _administration_credential(invocation, "notarise")
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _fail(invocation, f"Cannot create the bundle directory {out}: {exc.strerror or exc}.")
    results: list[dict[str, Any]] = []
    with _client(invocation, api_key=credential.key, key_source=credential.source) as client:
        with _progress(invocation) as progress:
            if len(files) == 1 or title is not None:
                task = progress.add_task("Notarising", total=len(files))
                receipts = []
                for path in files:
                    try:
                        receipts.append(client.notarise(path, kind=kind, title=title, salted=salted))
                    except OSError as exc:
                        _fail(invocation, f"Cannot read {path}: {exc.strerror or exc}.")
                    progress.advance(task)
            else:
                task = progress.add_task("Hashing", total=len(files))
                hashes = []
                for path in files:
                    hashes.append(_hash_file(invocation, path))
                    progress.advance(task)
                progress.update(task, description="Notarising")
                receipts = client.notarise_many(hashes, kind=kind, salted=salted)
            if wait:
                task = progress.add_task("Waiting for anchoring", total=len(receipts))
                for path, receipt in zip(files, receipts, strict=True):
                    receipt = client.wait_until_anchored(receipt.id, timeout=timeout)
                    bundle_path = (out or path.parent) / f"{path.name}{BUNDLE_SUFFIX}"
                    _write_bundle(invocation, bundle_path, client.bundle(receipt.id))
                    results.append(_notarised(path, receipt, bundle_path))
                    progress.advance(task)
            else:
                results = [_notarised(path, receipt, None) for path, receipt in zip(files, receipts, strict=True)]

    if as_json:
        _print_json(results)
        return
    for result in results:
        line = f"{escape(result['file'])}  id {result['id']}  code [bold]{result['verification_code']}[/bold]  "
        line += _document_status_markup(result["status"])
        if result["bundle"]:
            line += f"  bundle {escape(result['bundle'])}"
        invocation.out.print(line)


@app.command()
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
    as_json: JsonOption = False,
) -> None:
    """Check a document: against its proof bundle and the chain (--bundle), or with the Segell server.

    Exit status 0 when the document is authentic, 1 otherwise (the reason is printed).
    """
    invocation = _invocation(ctx)
    if bundle is None:
        if rpc is not None:
            raise typer.BadParameter("--rpc needs --bundle: without one, the Segell server is asked.")
        _verify_with_server(invocation, file, as_json)
        return

    rpc_url = rpc or f"{invocation.url}/rpc"
    try:
        result = verify_bundle(bundle, file, rpc_url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--rpc'") from exc
    except SegellError as exc:
        _fail_with(invocation, exc, key_source=None)
    except OSError as exc:
        _fail(invocation, f"Cannot read {exc.filename or file}: {exc.strerror or exc}.")
    if as_json:
        _print_json(result)
    else:
        _print_bundle_verification(invocation, result, rpc_url)
    if not result.valid:
        raise typer.Exit(1)


@app.command()
def revoke(
    ctx: typer.Context,
    document_id: Annotated[str, typer.Argument(help="The receipt id.", callback=_require_value, show_default=False)],
    reason: Annotated[
        str, typer.Option(help="Why it is withdrawn; recorded on chain, for everyone.", show_default=False)
    ],
    as_json: JsonOption = False,
) -> None:
    """Revoke a notarised document on chain; verification then answers `revoked` with the reason."""
    invocation = _invocation(ctx)
    credential = _administration_credential(invocation, "revoke")
    with _client(invocation, api_key=credential.key, key_source=credential.source) as client:
        receipt = client.revoke(document_id, reason)
    if as_json:
        _print_json(receipt)
        return
    revocation = receipt.revocation
    invocation.out.print(f"Revoked {escape(receipt.id)} ({escape(receipt.verification_code)}).")
    if revocation is not None:
        _print_fields(
            invocation.out,
            [
                ("reason", escape(revocation.reason)),
                ("revoked", _timestamp(revocation.revoked_at)),
                ("transaction", revocation.transaction_hash or ""),
                ("block", "" if revocation.block_number is None else str(revocation.block_number)),
            ],
        )


def _administration_credential(invocation: Invocation, command: str) -> _Credential:
    if not invocation.api_key:
        _fail(
            invocation,
            f"`segell {command}` acts for an administration: pass its API key with --api-key or set "
            "SEGELL_API_KEY (governance issues one with `segell admin key issue CODE`).",
        )
    return _Credential(invocation.api_key, "--api-key / SEGELL_API_KEY")


@contextmanager
def _progress(invocation: Invocation) -> Iterator[Progress]:
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


def _hash_file(invocation: Invocation, path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        _fail(invocation, f"Cannot read {path}: {exc.strerror or exc}.")
    return digest.hexdigest()


def _write_bundle(invocation: Invocation, path: Path, bundle: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(bundle, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        _fail(invocation, f"Cannot write the proof bundle {path}: {exc.strerror or exc}.")


def _notarised(path: Path, receipt: Receipt, bundle_path: Path | None) -> dict[str, Any]:
    return {
        "file": str(path),
        "id": receipt.id,
        "verification_code": receipt.verification_code,
        "status": receipt.status,
        "document_hash": receipt.document_hash,
        "bundle": None if bundle_path is None else str(bundle_path),
    }


def _document_status_markup(status: str) -> str:
    colour = {"anchored": "green", "authentic": "green", "pending": "yellow"}.get(status, "bold red")
    return f"[{colour}]{escape(status)}[/{colour}]"


def _verify_with_server(invocation: Invocation, file: Path, as_json: bool) -> None:
    with _client(invocation, api_key=None) as client:
        try:
            verification = client.verify(path=file)
        except OSError as exc:
            _fail(invocation, f"Cannot read {file}: {exc.strerror or exc}.")
    if as_json:
        _print_json(verification)
    else:
        out = invocation.out
        out.print(
            f"{escape(str(file))}: {_document_status_markup(verification.status)} (asked {escape(invocation.url)})"
        )
        out.print(f"sha-256  {verification.document_hash or ''}")
        for match in verification.matches:
            when = f", anchored {_timestamp(match.anchored_at)}" if match.anchored_at else ""
            block = f" in block {match.block_number}" if match.block_number is not None else ""
            out.print(
                f"- {escape(match.administration.name)} ({escape(match.administration.code)}): "
                f"{_document_status_markup(match.status)}{escape(when)}{block}"
                + (f", kind {escape(match.kind)}" if match.kind else "")
                + (f", title {escape(match.title)}" if match.title else "")
            )
            if match.revocation is not None:
                out.print(f"  revoked {_timestamp(match.revocation.revoked_at)}: {escape(match.revocation.reason)}")
        if verification.status == "unknown":
            out.print("No administration has notarised this document.")
    if not verification.is_authentic:
        raise typer.Exit(1)


def _print_bundle_verification(invocation: Invocation, result: BundleVerification, rpc_url: str) -> None:
    out = invocation.out
    headline = "[bold green]authentic[/bold green]" if result.valid else f"[bold red]{result.status}[/bold red]"
    out.print(f"{headline}: {escape(result.reason)}")
    issuer = result.issuer
    fields = [("sha-256", result.document_hash or "")]
    if issuer is not None:
        named = " ".join(filter(None, [issuer.name, f"({issuer.code})" if issuer.code else None]))
        fields.append(("issuer", escape(named or issuer.administration)))
    if result.root is not None:
        fields += [
            ("root", result.root),
            ("leaf", f"index {result.leaf_index} in a tree of {result.tree_size}"),
            ("chain", f"{result.chain_id}, notary {result.contract}"),
            ("block", f"{result.block_number} {result.block_hash or ''}".strip()),
            ("anchored", _timestamp(result.anchored_at)),
        ]
    if result.revocation is not None:
        fields.append(("revoked", f"{_timestamp(result.revocation.revoked_at)}: {escape(result.revocation.reason)}"))
    fields.append(("checked", f"against {escape(rpc_url)}" if result.checked_on_chain else "offline only"))
    _print_fields(out, fields)


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
