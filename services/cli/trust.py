"""`segell trust add|list|remove`: the deployments whose Notary `segell verify --bundle` takes the word of."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.markup import escape

from segell.sdk import (
    Client,
    PinnedDeployment,
    SegellError,
    TrustedNotary,
    TrustStore,
    TrustStoreError,
    default_trust_store_path,
)
from segell.services.cli.common import (
    DOCUMENTS_PANEL,
    Invocation,
    JsonOption,
    app,
    current_invocation,
    fail,
    fail_with,
    print_fields,
    print_json,
    require_value,
    timestamp,
)

TRUSTED_NOTARIES_VARIABLE = "SEGELL_TRUSTED_NOTARIES"

trust_app = typer.Typer(
    help="Trust anchors: the Notary contracts whose proof bundles `segell verify --bundle` accepts.",
    no_args_is_help=True,
)
app.add_typer(trust_app, name="trust", rich_help_panel=DOCUMENTS_PANEL)


def trust_store() -> TrustStore:
    return TrustStore(default_trust_store_path())


def trusted_notaries(invocation: Invocation, notaries: list[str] | None) -> list[TrustedNotary]:
    """The trust anchors of one verification: `--notary`, SEGELL_TRUSTED_NOTARIES and the pinned deployments."""
    anchors = []
    for text in notaries or []:
        try:
            anchors.append(TrustedNotary.parse(text))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="'--notary'") from None
    for text in os.environ.get(TRUSTED_NOTARIES_VARIABLE, "").split(","):
        if text.strip():
            try:
                anchors.append(TrustedNotary.parse(text))
            except ValueError as exc:
                fail(invocation, f"{TRUSTED_NOTARIES_VARIABLE} holds a value that is not a notary. {exc}")
    try:
        anchors += trust_store().trusted_notaries()
    except TrustStoreError as exc:
        fail(invocation, exc.message)
    return anchors


@trust_app.command("add")
def trust_add(
    ctx: typer.Context,
    url: Annotated[
        str,
        typer.Argument(help="The Segell deployment's URL, e.g. https://segell.example.", callback=require_value),
    ],
    as_json: JsonOption = False,
) -> None:
    """Pin a deployment: read its /.well-known/segell.json and trust its Notary on its chain.

    Pin only a deployment you reach at a URL you trust (https): what it publishes there is taken as it is.
    """
    invocation = current_invocation(ctx)
    base_url = url.rstrip("/")
    try:
        client = Client(base_url)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'URL'") from exc
    try:
        with client:
            deployment = client.deployment()
    except SegellError as exc:
        fail_with(invocation, exc, key_source=None)
    store = trust_store()
    pinned = deployment.pinned(base_url)
    try:
        replaced = store.pin(pinned)
    except TrustStoreError as exc:
        fail(invocation, exc.message)
    if as_json:
        print_json(pinned)
        return
    again = " (pinned again: it replaces the earlier pin)" if replaced is not None else ""
    invocation.out.print(f"Pinned {escape(pinned.name)}{again}.")
    _print_pinned(invocation, pinned)
    invocation.out.print(f"Stored in {escape(str(store.path))}.")


@trust_app.command("list")
def trust_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The pinned deployments, and where the trust store is."""
    invocation = current_invocation(ctx)
    store = trust_store()
    try:
        pinned = store.deployments()
    except TrustStoreError as exc:
        fail(invocation, exc.message)
    if as_json:
        print_json(pinned)
        return
    if not pinned:
        invocation.out.print(
            f"No deployment is pinned in {escape(str(store.path))}. Pin one with `segell trust add URL`."
        )
        return
    for entry in pinned:
        invocation.out.print(f"[bold]{escape(entry.name)}[/bold]")
        _print_pinned(invocation, entry)
    invocation.out.print(f"Stored in {escape(str(store.path))}.")


@trust_app.command("remove")
def trust_remove(
    ctx: typer.Context,
    notary: Annotated[
        str,
        typer.Argument(
            help="The Notary's address (every chain's pin), or CHAIN_ID:ADDRESS (one chain's).",
            callback=require_value,
            show_default=False,
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Unpin a deployment: its proof bundles are no longer authentic for `segell verify --bundle`."""
    invocation = current_invocation(ctx)
    try:
        anchor = TrustedNotary.parse(notary)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'NOTARY'") from None
    store = trust_store()
    try:
        removed = store.unpin(anchor)
    except TrustStoreError as exc:
        fail(invocation, exc.message)
    if not removed:
        fail(invocation, f"No pinned deployment has the Notary {anchor}. `segell trust list` shows those pinned.")
    if as_json:
        print_json(removed)
        return
    for entry in removed:
        invocation.out.print(f"Removed {escape(entry.name)}: notary {entry.notary} on chain {entry.chain_id}.")


def _print_pinned(invocation: Invocation, pinned: PinnedDeployment) -> None:
    print_fields(
        invocation.out,
        [
            ("chain", str(pinned.chain_id)),
            ("notary", pinned.notary),
            ("registry", pinned.registry),
            ("deployed", f"block {pinned.deployment_block}"),
            ("from", escape(pinned.url)),
            ("pinned", timestamp(pinned.pinned_at)),
        ],
    )
