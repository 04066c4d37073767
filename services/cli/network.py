"""`segell network init`: the files of a consortium network of Hyperledger Besu QBFT validators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from segell.chain.network import NetworkError, NetworkSettings, generate_qbft_network, write_network
from segell.services.cli.common import CONSORTIUM_PANEL, JsonOption, app, current_invocation, fail, print_json

network_app = typer.Typer(
    help="A consortium network: Hyperledger Besu validators agreeing by QBFT (docs/deploy.md).",
    no_args_is_help=True,
)
app.add_typer(network_app, name="network", rich_help_panel=CONSORTIUM_PANEL)


@network_app.command("init")
def network_init(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Folder to write the network to (created if missing).")],
    validators: Annotated[int, typer.Option(help="Number of QBFT validators (at least 4).", min=4, max=100)] = 4,
    chain_id: Annotated[int, typer.Option(help="The network's EIP-155 chain id.", min=1)] = 2026,
    block_period: Annotated[int, typer.Option(help="Seconds between blocks (blockperiodseconds).", min=1)] = 2,
    request_timeout: Annotated[
        int, typer.Option(help="Seconds before a round change (requesttimeoutseconds).", min=1)
    ] = 4,
    epoch_length: Annotated[int, typer.Option(help="Blocks between vote resets (epochlength).", min=1)] = 30_000,
    allow_account: Annotated[
        list[str] | None,
        typer.Option(help="An account that may send transactions (repeat it), e.g. Segell's governance account."),
    ] = None,
    seed: Annotated[
        str | None,
        typer.Option(help="Derive every key from this text (tests and examples only: the seed gives the keys away)."),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace a network already in --out.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Write genesis, node keys, static nodes, allowlists and a compose file for a QBFT network."""
    invocation = current_invocation(ctx)
    settings = NetworkSettings(
        validators=validators,
        chain_id=chain_id,
        block_period_seconds=block_period,
        epoch_length=epoch_length,
        request_timeout_seconds=request_timeout,
        allowed_accounts=tuple(allow_account or ()),
        seed=seed,
    )
    try:
        files = generate_qbft_network(settings)
        written = write_network(files, out, force=force)
    except NetworkError as exc:
        fail(invocation, str(exc))
    validator_addresses = [files[f"nodes/validator-{n}/address"].strip() for n in range(1, validators + 1)]
    if as_json:
        print_json(
            {
                "out": str(out),
                "chain_id": chain_id,
                "validators": validator_addresses,
                "treasury": files["accounts/treasury.address"].strip(),
                "files": [str(path.relative_to(out)) for path in written],
            },
        )
        return
    invocation.out.print(f"A QBFT network of {validators} validators (chain id {chain_id}) in {out}")
    for address in validator_addresses:
        invocation.out.print(f"  validator  {address}")
    invocation.out.print(f"  treasury   {files['accounts/treasury.address'].strip()} (funded in the genesis)")
    invocation.out.print("Next: docker build -t segell . && docker compose up -d, run in that folder (docs/deploy.md)")
