"""`segell documents list` and `segell documents bundles`: an administration's documents and their proof bundles."""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Column, Table

from segell.sdk import PAGE_LIMIT, DocumentStatus, Receipt
from segell.services.cli.common import (
    DOCUMENTS_PANEL,
    Invocation,
    JsonOption,
    administration_credential,
    app,
    current_invocation,
    fail,
    open_client,
    print_json,
    progress_bar,
)

documents_app = typer.Typer(
    help="The administration's notarised documents: list them, export their proof bundles.", no_args_is_help=True
)
app.add_typer(documents_app, name="documents", rich_help_panel=DOCUMENTS_PANEL)

BUNDLE_SUFFIX = ".segell.json"
# A file name's readable part: the document's title (or kind) made plain, at most this long.
_LABEL_LENGTH = 60


class Status(StrEnum):
    pending = "pending"
    anchored = "anchored"
    revoked = "revoked"


KindOption = Annotated[str | None, typer.Option(help="Only documents of this kind.", show_default=False)]
SinceOption = Annotated[
    str | None,
    typer.Option(
        help="Only documents notarised at or after this date (2026-03-01, midnight UTC) or moment "
        "(2026-03-01T09:30:00+01:00).",
        show_default=False,
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option(
        help="Only documents notarised before this moment; a date alone takes that whole day (UTC).", show_default=False
    ),
]


@documents_app.command("list")
def documents_list(
    ctx: typer.Context,
    kind: KindOption = None,
    status: Annotated[Status | None, typer.Option(help="Only documents in this status.", show_default=False)] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[
        int | None,
        typer.Option(
            help=f"Documents per page, at most {PAGE_LIMIT} [default: 100, or {PAGE_LIMIT} with --all].",
            min=1,
            max=PAGE_LIMIT,
            show_default=False,
        ),
    ] = None,
    cursor: Annotated[
        str | None, typer.Option(help="Start at this page: the cursor a previous page printed.", show_default=False)
    ] = None,
    every_page: Annotated[bool, typer.Option("--all", help="Follow the pages to the last one.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List the administration's documents, newest first: one page, or every page with --all."""
    invocation = current_invocation(ctx)
    credential = administration_credential(invocation, "documents list")
    page_size = limit or (PAGE_LIMIT if every_page else 100)
    wanted: DocumentStatus | None = status.value if status is not None else None
    with open_client(invocation, api_key=credential.key, key_source=credential.source) as client:
        page = client.documents.list(kind=kind, status=wanted, since=since, until=until, limit=page_size, cursor=cursor)
        receipts = list(page.items)
        while every_page and page.next_cursor is not None:
            page = client.documents.list(
                kind=kind, status=wanted, since=since, until=until, limit=page_size, cursor=page.next_cursor
            )
            receipts += page.items
    next_cursor = page.next_cursor
    if as_json:
        print_json({"items": receipts, "next_cursor": next_cursor})
        return
    if not receipts:
        invocation.out.print(
            "No documents." if not any((kind, status, since, until, cursor)) else "No documents match."
        )
    else:
        _print_receipts(invocation, receipts)
    if next_cursor is not None:
        invocation.err.print(
            f"More documents (--all lists every page). Next page: --cursor {next_cursor}", markup=False
        )


def _print_receipts(invocation: Invocation, receipts: list[Receipt]) -> None:
    table = Table(
        # Ids and codes are copied from here: never cut short, however narrow the terminal.
        Column("notarised", no_wrap=True),
        Column("id", no_wrap=True, min_width=32),
        Column("code", no_wrap=True, min_width=21),
        Column("status", no_wrap=True, min_width=8),
        "kind",
        "title",
        box=None,
        highlight=False,
    )
    for receipt in receipts:
        table.add_row(
            receipt.created_at.strftime("%Y-%m-%d %H:%M"),
            receipt.id,
            receipt.verification_code,
            receipt.status,
            escape(receipt.kind or ""),
            escape(receipt.title or ""),
        )
    invocation.out.print(table)


@documents_app.command("bundles")
def documents_bundles(
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Option(
            help="Write one bundle file per document into this directory.", file_okay=False, show_default=False
        ),
    ],
    kind: KindOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export the proof bundles of the administration's anchored documents, one file each, in one streamed download.

    Files are named from each document's title (or kind) and verification code, e.g.
    `acta-del-ple--7GQK-2M4B-XW9D-1RTC.segell.json`; a file of that name is replaced. Documents not anchored yet
    are counted, not exported: export again once they are.
    """
    invocation = current_invocation(ctx)
    credential = administration_credential(invocation, "documents bundles")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(invocation, f"Cannot create the bundle directory {out}: {exc.strerror or exc}.")
    written: list[dict[str, Any]] = []
    names: set[str] = set()
    with open_client(invocation, api_key=credential.key, key_source=credential.source) as client:
        with progress_bar(invocation) as progress:
            task = progress.add_task("Exporting bundles", total=None)
            with client.documents.export_bundles(kind=kind, since=since, until=until) as export:
                for bundle in export:
                    path = out / unique_name(bundle_file_name(bundle), names)
                    write_bundle(invocation, path, bundle)
                    receipt = bundle.get("receipt")
                    receipt = receipt if isinstance(receipt, dict) else {}
                    written.append(
                        {
                            "id": receipt.get("id"),
                            "verification_code": receipt.get("verification_code"),
                            "file": str(path),
                        }
                    )
                    progress.advance(task)
            pending = export.pending
    if as_json:
        print_json({"written": written, "pending": pending})
        return
    invocation.out.print(f"Wrote {len(written)} proof bundle{'' if len(written) == 1 else 's'} to {escape(str(out))}.")
    if pending:
        invocation.out.print(
            f"{pending} document{' is' if pending == 1 else 's are'} not anchored yet and not exported: "
            "export again in a few seconds."
        )


def bundle_file_name(bundle: Mapping[str, Any]) -> str:
    """A file name for a proof bundle that is safe whatever the bundle says: its title (or kind) made plain, and its
    verification code, of letters, digits and hyphens only (`acta-del-ple--7GQK-2M4B-XW9D-1RTC.segell.json`).

    Nothing the bundle holds can lead out of the directory, hide the file or name a device: no separator, no dot
    but the suffix's, no control or look-alike character, never empty.
    """
    receipt = bundle.get("receipt")
    receipt = receipt if isinstance(receipt, Mapping) else {}
    label = _plain(receipt.get("title")) or _plain(receipt.get("kind")) or "document"
    symbols = re.sub(r"[^0-9A-Z]", "", str(receipt.get("verification_code") or "").upper())
    if len(symbols) >= 16:
        # The 16 symbols of the code identify the document; the check symbol may be one of * ~ $ =.
        reference = "-".join(symbols[i : i + 4] for i in range(0, 16, 4))
    else:
        reference = re.sub(r"[^0-9a-f]", "", str(receipt.get("id") or "").lower())[:32] or "unnamed"
    return f"{label}--{reference}{BUNDLE_SUFFIX}"


def _plain(text: object) -> str:
    """Lower-case ASCII letters and digits, words joined by hyphens: `Acta del Ple núm. 3/2026` becomes
    `acta-del-ple-num-3-2026`."""
    if not isinstance(text, str):
        return ""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    words = re.findall(r"[a-z0-9]+", folded)
    label = "-".join(words)[:_LABEL_LENGTH]
    return label.strip("-")


def unique_name(name: str, taken: set[str]) -> str:
    """`name`, or `name` with `-2`, `-3`... before its suffix when a bundle of this export already took it."""
    stem, candidate, number = name.removesuffix(BUNDLE_SUFFIX), name, 1
    while candidate in taken:
        number += 1
        candidate = f"{stem}-{number}{BUNDLE_SUFFIX}"
    taken.add(candidate)
    return candidate


def write_bundle(invocation: Invocation, path: Path, bundle: Mapping[str, Any]) -> None:
    """Write a bundle file whole or not at all: through a file beside it, renamed over the old one (a link in its
    place is replaced, never followed)."""
    text = json.dumps(bundle, indent=2) + "\n"
    temporary: Path | None = None
    try:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=".", suffix=".tmp", delete=False
        ) as stream:
            temporary = Path(stream.name)
            # A bundle is for handing out: the permissions any new file gets, not the temporary file's 0600.
            os.fchmod(stream.fileno(), 0o666 & ~_umask())
            stream.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        fail(invocation, f"Cannot write the proof bundle {path}: {exc.strerror or exc}.")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
