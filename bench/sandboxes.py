"""How long a sandbox takes from `POST /v1/sandboxes` to a chain that answers, against a bare anvil start.

Run from the repository root::

    .venv/bin/python bench/sandboxes.py [--runs 10]

Starts `segell up --chain embedded` as a child process in a fresh SEGELL_HOME, admits one administration, then
for each run times, with the SDK over real HTTP:

- **create-to-ready** on anvil: from sending `POST /v1/sandboxes` to the first `eth_blockNumber` answered through
  the sandbox's JSON-RPC proxy (the contracts are deployed and the owner admitted before the POST answers);
- the same on the embedded EVM;
- snapshot, revert to it, reset and delete of the anvil sandbox;

and, as the baseline measured in the same run, a **bare anvil start**: `chain.anvil.AnvilNode` launching anvil on a
free port until it answers `eth_chainId`, nothing deployed. Each sandbox is deleted after its run, so the quota of
sandboxes at once never interferes. Prints a table (p50 and max) and one line of `name=value` figures.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from segell.chain.anvil import AnvilNode
from segell.sdk import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import anvil_installed, segell_up  # noqa: E402  (the launcher bench/startup.py uses)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bare_anvil_start(directory: Path) -> float:
    started = time.perf_counter()
    node = AnvilNode(state_dir=directory)
    elapsed = time.perf_counter() - started
    node.stop()
    return elapsed


def create_to_ready(segell: Client, backend: str) -> tuple[float, str]:
    started = time.perf_counter()
    sandbox = segell.sandboxes.create("bench", ttl_seconds=600, backend=backend)  # type: ignore[arg-type]
    segell.sandboxes.rpc(sandbox.id, "eth_blockNumber")
    return time.perf_counter() - started, sandbox.id


def row(name: str, seconds: list[float]) -> str:
    p50, worst = statistics.median(seconds) * 1000, max(seconds) * 1000
    return f"| {name} | {len(seconds)} | {p50:.0f} ms | {worst:.0f} ms |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="sandboxes created per backend (default 10)")
    arguments = parser.parse_args()
    if not anvil_installed():
        sys.exit("anvil is not installed: run `make setup` (it installs anvil from npm) and try again")

    figures: dict[str, list[float]] = {
        name: [] for name in ("bare", "anvil", "embedded", "snapshot", "revert", "reset", "delete")
    }
    with tempfile.TemporaryDirectory(prefix="segell-bench-sandboxes-") as scratch:
        root = Path(scratch)
        home = root / "home"
        home.mkdir()
        for run in range(arguments.runs):
            figures["bare"].append(bare_anvil_start(root / f"bare-{run}"))
        with segell_up("embedded", home, secrets.token_hex(32), timeout=120) as started:
            governance_key = (home / "governance.key").read_text().strip()
            with Client(started.url, api_key=governance_key, timeout=60) as governance:
                key = governance.administrations.admit(f"BENCH-{secrets.token_hex(3).upper()}", "Bench").api_key.key
            with Client(started.url, api_key=key, timeout=60) as segell:
                for _ in range(arguments.runs):
                    seconds, sandbox_id = create_to_ready(segell, "anvil")
                    figures["anvil"].append(seconds)
                    started_at = time.perf_counter()
                    snapshot = segell.sandboxes.snapshot(sandbox_id)
                    figures["snapshot"].append(time.perf_counter() - started_at)
                    figures["revert"].append(timed(lambda: segell.sandboxes.revert(sandbox_id, snapshot.id)))  # noqa: B023
                    figures["reset"].append(timed(lambda: segell.sandboxes.reset(sandbox_id)))  # noqa: B023
                    figures["delete"].append(timed(lambda: segell.sandboxes.delete(sandbox_id)))  # noqa: B023
                for _ in range(arguments.runs):
                    seconds, sandbox_id = create_to_ready(segell, "embedded")
                    figures["embedded"].append(seconds)
                    segell.sandboxes.delete(sandbox_id)

    print("| measurement | n | p50 | max |")
    print("|---|--:|--:|--:|")
    print(row("baseline: bare anvil start (until it answers eth_chainId)", figures["bare"]))
    print(row("anvil sandbox: POST /v1/sandboxes to first JSON-RPC answer", figures["anvil"]))
    print(row("embedded sandbox: POST /v1/sandboxes to first JSON-RPC answer", figures["embedded"]))
    print(row("anvil sandbox: snapshot", figures["snapshot"]))
    print(row("anvil sandbox: revert to the snapshot", figures["revert"]))
    print(row("anvil sandbox: reset", figures["reset"]))
    print(row("anvil sandbox: delete", figures["delete"]))
    ratio = statistics.median(figures["anvil"]) / statistics.median(figures["bare"])
    print(
        f"bare_anvil_p50_ms={statistics.median(figures['bare']) * 1000:.0f} "
        f"create_anvil_p50_ms={statistics.median(figures['anvil']) * 1000:.0f} "
        f"create_anvil_max_ms={max(figures['anvil']) * 1000:.0f} "
        f"create_embedded_p50_ms={statistics.median(figures['embedded']) * 1000:.0f} "
        f"create_over_bare_anvil={ratio:.2f}"
    )


if __name__ == "__main__":
    main()
