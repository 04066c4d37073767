"""`segell publish` and `segell transparency`: submit mandatory publications once (an administration's key), list
them, and load the sample municipalities (the governance key)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from segell.sdk import PublicationBlock, SegellError, Submission, ValidationError
from segell.services.cli.common import (
    DOCUMENTS_PANEL,
    Invocation,
    JsonOption,
    administration_credential,
    app,
    current_invocation,
    fail,
    fail_with,
    governance_credential,
    open_client,
    print_fields,
    print_json,
    timestamp,
)

BLOCKS: tuple[PublicationBlock, ...] = (
    "budget",
    "salaries",
    "personnel",
    "contracts",
    "agreements",
    "subsidies",
    "debt",
)

publish_app = typer.Typer(
    help="Submit a mandatory publication (Llei 19/2014) once: checked, notarised and published.",
    no_args_is_help=True,
)
app.add_typer(publish_app, name="publish", rich_help_panel=DOCUMENTS_PANEL)
transparency_app = typer.Typer(help="Mandatory publications: the sample municipalities.", no_args_is_help=True)
app.add_typer(transparency_app, name="transparency", rich_help_panel=DOCUMENTS_PANEL)


def _print_submission(invocation: Invocation, submission: Submission) -> None:
    print_fields(
        invocation.out,
        [
            ("submission", submission.id),
            ("block", f"{submission.block} {submission.period} (version {submission.version}, {submission.status})"),
            ("rows", str(submission.row_count)),
            ("sha256", submission.sha256),
            ("dataset", f"{escape(submission.dataset.name)} v{submission.dataset.version}"),
            ("code", submission.verification_code),
            ("notarisation", submission.notarisation_status),
        ],
    )


def _submit(
    ctx: typer.Context, block: PublicationBlock, file: Path, year: int, inhabitants: int | None, as_json: bool
) -> None:
    invocation = current_invocation(ctx)
    credential = administration_credential(invocation, f"publish {block}")
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(invocation, f"Cannot read {file}: {exc.strerror or exc}.")
    with open_client(invocation, api_key=credential.key, key_source=credential.source) as client:
        try:
            submission = client.transparency.submit(block, data, year=year, inhabitants=inhabitants, filename=file.name)
        except ValidationError as exc:
            problems = exc.details if isinstance(exc.details, list) else []
            for problem in problems:
                where = f"line {problem.get('line')}" if problem.get("line") is not None else "file"
                invocation.err.print(f"{file.name}: {where}: {escape(str(problem.get('reason')))}", markup=False)
            fail(invocation, exc.message, hint=f"HTTP {exc.status_code}, {exc.code}")
    if as_json:
        print_json(submission)
    else:
        _print_submission(invocation, submission)


def _block_command(block: PublicationBlock) -> None:
    def command(
        ctx: typer.Context,
        file: Annotated[
            Path, typer.Argument(help="The CSV, XLSX or JSON file.", exists=True, dir_okay=False, show_default=False)
        ],
        year: Annotated[
            int, typer.Option("--year", help="The year it covers.", min=2000, max=2100, show_default=False)
        ],
        inhabitants: Annotated[
            int | None, typer.Option(help="Inhabitants that year, for figures per inhabitant.", min=1)
        ] = None,
        as_json: JsonOption = False,
    ) -> None:
        _submit(ctx, block, file, year, inhabitants, as_json)

    command.__doc__ = (
        f"Submit the {block} block for --year: a correction if one was submitted. Every bad row is listed."
    )
    publish_app.command(name=block)(command)


for _block in BLOCKS:
    _block_command(_block)


@publish_app.command(name="list")
def list_publications(
    ctx: typer.Context,
    administration: Annotated[
        str | None, typer.Option(help="Only this administration's (its code); by default the key's own.")
    ] = None,
    block: Annotated[str | None, typer.Option(help=f"Only this block: {', '.join(BLOCKS)}.")] = None,
    year: Annotated[int | None, typer.Option(help="Only this year.")] = None,
    all_administrations: Annotated[bool, typer.Option("--all", help="Every administration's.")] = False,
    as_json: JsonOption = False,
) -> None:
    """The submissions, newest first: the key's administration's by default."""
    invocation = current_invocation(ctx)
    if block is not None and block not in BLOCKS:
        raise typer.BadParameter(f"use one of {', '.join(BLOCKS)}", param_hint="--block")
    with open_client(invocation, api_key=invocation.api_key, key_source="--api-key / SEGELL_API_KEY") as client:
        if administration is None and not all_administrations and invocation.api_key:
            me = client.me()
            administration = me.administration.code if me.administration is not None else None
        submissions = client.transparency.list(
            administration=administration,
            block=block,
            year=year,
        )
    if as_json:
        print_json(submissions)
        return
    if not submissions:
        invocation.out.print("No submissions.")
        return
    for submission in submissions:
        invocation.out.print(
            f"{submission.id}  {submission.administration_code}  {submission.block} {submission.period}  "
            f"v{submission.version} {submission.status}  {submission.row_count} rows  "
            f"{submission.verification_code}  {timestamp(submission.submitted_at)}",
            markup=False,
        )


@transparency_app.command(name="sample")
def load_sample_command(
    ctx: typer.Context,
    codes: Annotated[
        list[str] | None, typer.Argument(help="Only these sample municipalities (codes); by default all five.")
    ] = None,
) -> None:
    """Admit the sample municipalities and submit their sample publications (with the governance key)."""
    from segell.services.opendata.sample import load_sample

    invocation = current_invocation(ctx)
    credential = governance_credential(invocation)
    try:
        loaded = load_sample(invocation.url, credential.key, codes or None)
    except ValueError as exc:
        fail(invocation, str(exc))
    except SegellError as exc:
        fail_with(invocation, exc, key_source=credential.source)
    invocation.out.print(
        f"Loaded {len(loaded.submitted)} submissions of {len(loaded.api_keys)} municipalities "
        f"({loaded.unchanged} already current)."
    )
