"""The `segell` command line: run a sandbox and manage its member administrations.

    segell up                          start the API (and a chain) on 127.0.0.1:8000
    segell status                      what the running server reports about itself
    segell worker --chain URL          anchor documents in a process of its own
    segell admin add NAME --code CODE  admit an administration and print its first API key
    segell admin key issue CODE        another API key for it
    segell notarise FILE... --wait     notarise documents, save each proof bundle next to its file
    segell verify FILE --bundle B      check a document against its bundle and any node of the chain
    segell trust add URL               pin a deployment's Notary, so that its bundles can be authentic
    segell revoke ID --reason R        revoke a notarised document on chain
    segell documents list [--all]      the administration's documents, newest first, by kind, status and date
    segell documents bundles --out DIR export the proof bundles of its anchored documents, one file each
    segell cert issue --profile P ...  a certificate of the sandbox CA; writes its PKCS#12 file
    segell cert show|revoke SERIAL     show (public status without a key) or revoke a certificate
    segell sign FILE --as employee|seal  sign (PDF: PAdES with a stamped code; else CAdES .p7s), notarised
    segell validate FILE [--signature SIG]  validate signatures (ETSI EN 319 102-1); no key needed
    segell sandbox create NAME         a chain of your own with the Segell contracts; list, show, delete
    segell sandbox snapshot|revert|reset ID ...  save, restore or reset a sandbox's chain
    segell contract deploy F.sol --sandbox ID   compile and deploy a contract of your own in a sandbox
    segell contract call|send ADDR FN ARGS...   call (eth_call) or send a transaction; events, list, show
    segell publish budget FILE --year 2026   submit a mandatory publication once (budget, salaries, ...)
    segell publish list                list the administration's submissions (--all: everyone's)
    segell transparency sample         admit five sample municipalities and submit their publications
    segell tally verify PROCESS        recount a closed participation process from its published ballots and the chain
    segell otp outbox                  the sandbox SMS outbox (governance: all; a key: its own); otp send|verify

`notarise` and `revoke` act for an administration with its key in --api-key / SEGELL_API_KEY; `verify` needs no
key. Admin commands authenticate with --api-key / SEGELL_API_KEY, else with the operator's governance key that the
server writes to $SEGELL_HOME/governance.key at first start. Errors go to stderr with exit status 1 (2 for
usage errors); `--json` prints machine-readable output for scripts.
"""

# Each module registers its commands on the app.
from segell.services.cli import (  # noqa: F401
    admin,
    certificates,
    contracts,
    documents,
    notary,
    otp,
    sandboxes,
    server,
    signatures,
    tally,
    transparency,
    trust,
)
from segell.services.cli.common import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the `segell` console script."""
    app()
