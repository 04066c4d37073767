"""What compiling, deploying, calling and transacting a contract of one's own costs, and what the cache saves.

Run from the repository root::

    .venv/bin/python bench/sandbox_contracts.py [--backend embedded|anvil] [--runs 5]

Times, on a fresh chain with a funded account:

- a **cold compile** of a two-file contract importing OpenZeppelin (empty caches; the baseline);
- the same sources again, answered from the **memory cache**, and from the **disk cache** of a new compiler;
- **deploy**, a **transaction** by function name with JSON arguments (decoded event included) and a **call**.

Prints a table (p50 and max, milliseconds) and the ratio of a cold compile to a cached one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account  # noqa: E402

from segell.chain.nodes import start_node  # noqa: E402
from segell.services.sandboxes import contracts  # noqa: E402

PERMITS = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Kinds} from "./Kinds.sol";
contract Permits is Ownable {
    event PermitIssued(uint256 indexed id, address holder, bytes32 kind);
    mapping(uint256 => address) public holderOf;
    constructor(address owner_) Ownable(owner_) {}
    function issue(uint256 id, address holder) external onlyOwner {
        holderOf[id] = holder;
        emit PermitIssued(id, holder, Kinds.WORKS);
    }
}
"""
KINDS = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
library Kinds { bytes32 internal constant WORKS = keccak256("works"); }
"""


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


@contextmanager
def measured(into: list[float]) -> Iterator[None]:
    start = time.perf_counter()
    yield
    into.append((time.perf_counter() - start) * 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["embedded", "anvil"], default="anvil")
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()

    figures: dict[str, list[float]] = {"cold compile": [], "memory cache": [], "disk cache": []}
    for run in range(arguments.runs):
        # A comment that changes each run makes every cold compile a new input.
        sources = {"Permits.sol": PERMITS + f"// run {run} {time.time_ns()}\n", "Kinds.sol": KINDS}
        cache_dir = Path(tempfile.mkdtemp(prefix="segell-bench-solc-"))
        compiler = contracts.SolidityCompiler(cache_dir=cache_dir)
        figures["cold compile"].append(timed(lambda: compiler.compile(sources)))  # noqa: B023
        figures["memory cache"].append(timed(lambda: compiler.compile(sources)))  # noqa: B023
        contracts._MEMORY.clear()
        fresh = contracts.SolidityCompiler(cache_dir=cache_dir)
        figures["disk cache"].append(timed(lambda: fresh.compile(sources)))  # noqa: B023

    account = Account.create()
    node = start_node(arguments.backend, state_dir=Path(tempfile.mkdtemp()), genesis_accounts={account.address: 10**24})
    try:
        compiled = contracts.SolidityCompiler().compile({"Permits.sol": PERMITS, "Kinds.sol": KINDS})
        permits = compiled.select("Permits", ["Permits.sol"])
        figures.update({"deploy": [], "transact": [], "call": []})
        for run in range(arguments.runs):
            with measured(figures["deploy"]):
                address = str(contracts.deploy(node.w3, account, permits, [account.address]).contract_address)
            with measured(figures["transact"]):
                contracts.transact(node.w3, account, address, permits.abi, "issue", [run, account.address])
            with measured(figures["call"]):
                contracts.call(node.w3, address, permits.abi, "holderOf", [run])
    finally:
        node.stop()

    print(f"backend {arguments.backend}, {arguments.runs} runs, compiler {compiler.solc_binary}")
    print(f"{'operation':<14} {'p50 ms':>10} {'max ms':>10}")
    for name, values in figures.items():
        print(f"{name:<14} {statistics.median(values):>10.1f} {max(values):>10.1f}")
    cold, cached = statistics.median(figures["cold compile"]), statistics.median(figures["memory cache"])
    print(f"cold_compile_ms={cold:.0f} cached_compile_ms={cached:.2f} ratio_cold_to_cached={cold / cached:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
