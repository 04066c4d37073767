"""How long `segell up` takes to answer /health, and how long an admission takes.

Run from the repository root::

    .venv/bin/python bench/startup.py [--runs 3] [--admissions 20]

Each run starts `segell up` as a child process in a fresh SEGELL_HOME and times, from the launch to the first
`/health` that answers 200:

- the first start (creates the keys and the database, deploys the contracts);
- a restart of the same home after the admissions below (replays the chain, deploys nothing);

on the embedded chain and, when anvil is installed, on anvil. On each first start it admits `--admissions`
administrations through the API, one after another, and times each request. Prints a table, then one line of
`name=value` figures (medians) for scripts.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from segell.chain.anvil import find_anvil
from segell.chain.nodes import AnvilNotFound
from segell.sdk import Client

ROOT = Path(__file__).resolve().parents[1]
POLL_INTERVAL_S = 0.02
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def anvil_installed() -> bool:
    # find_anvil looks in ./node_modules, where `make setup` puts it.
    with contextlib.chdir(ROOT):
        try:
            find_anvil()
        except AnvilNotFound:
            return False
    return True


@dataclass
class Started:
    url: str
    seconds: float
    head_block: int
    pid: int


@contextlib.contextmanager
def segell_up(chain: str, home: Path, master_key: str, timeout: float) -> Iterator[Started]:
    """Launch `segell up`, wait for /health 200, yield, then stop it (SIGTERM, SIGKILL if it hangs)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("SEGELL_")}
    env.update(SEGELL_HOME=str(home), SEGELL_MASTER_KEY=master_key)
    command = [sys.executable, "-m", "segell.services.cli", "up", "--chain", chain, "--port", str(port)]
    log_path = home.parent / f"{home.name}-{chain}-{port}.log"
    with log_path.open("wb") as log:
        launched = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            health = wait_for_health(process, url, timeout, log_path)
            yield Started(url, time.perf_counter() - launched, int(health["chain"]["head_block"]), process.pid)
        finally:
            stop(process)


def wait_for_health(process: subprocess.Popen[bytes], url: str, timeout: float, log_path: Path) -> dict:
    deadline = time.perf_counter() + timeout
    with httpx.Client(base_url=url, timeout=5) as http:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"segell up exited with status {process.returncode}:\n{tail(log_path)}")
            with contextlib.suppress(httpx.TransportError):
                response = http.get("/health")
                if response.status_code == 200:
                    return response.json()
            if time.perf_counter() > deadline:
                raise TimeoutError(f"segell up did not answer /health 200 within {timeout:g} s:\n{tail(log_path)}")
            time.sleep(POLL_INTERVAL_S)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
            return
        except subprocess.TimeoutExpired:
            pass
    # Its own process group: this reaches the server and any anvil it started, nothing else.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def admit(url: str, governance_key: str, count: int) -> list[float]:
    """Admit `count` administrations one after another; the milliseconds each request took."""
    timings = []
    with Client(url, api_key=governance_key, timeout=60) as segell:
        for number in range(count):
            code = f"BENCH-{secrets.token_hex(3).upper()}-{number}"
            started = time.perf_counter()
            segell.administrations.admit(code, f"Administració de prova {number}")
            timings.append((time.perf_counter() - started) * 1000)
    return timings


@dataclass
class Figures:
    first_start_s: list[float] = field(default_factory=list)
    restart_s: list[float] = field(default_factory=list)
    admit_ms: list[float] = field(default_factory=list)
    blocks_at_restart: list[int] = field(default_factory=list)


def measure(chain: str, runs: int, admissions: int, timeout: float, workdir: Path) -> Figures:
    figures = Figures()
    for run in range(runs):
        home = workdir / f"{chain}-{run}"
        master_key = secrets.token_hex(32)
        with segell_up(chain, home, master_key, timeout) as first:
            figures.first_start_s.append(first.seconds)
            governance_key = (home / "governance.key").read_text().strip()
            figures.admit_ms += admit(first.url, governance_key, admissions)
        with segell_up(chain, home, master_key, timeout) as again:
            figures.restart_s.append(again.seconds)
            figures.blocks_at_restart.append(again.head_block)
        print(
            f"  {chain} run {run + 1}/{runs}: first start {first.seconds:.2f} s, "
            f"restart {again.seconds:.2f} s ({again.head_block} blocks)",
            file=sys.stderr,
        )
    return figures


def import_floor(runs: int) -> list[float]:
    """Seconds to start Python and import the application: the part of a start that no chain can save."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import segell.services.main"], cwd=ROOT, check=True)
        timings.append(time.perf_counter() - started)
    return timings


LABEL_WIDTH = 46


def row(label: str, values: list[float], unit: str, digits: int) -> str:
    median, low, high = statistics.median(values), min(values), max(values)
    figures = " | ".join(f"{value:>8.{digits}f}" for value in (median, low, high))
    return f"| {label:<{LABEL_WIDTH}} | {len(values):>4} | {figures} | {unit:<4} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh homes per chain (default 3)")
    parser.add_argument("--admissions", type=int, default=20, help="admissions per run (default 20)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for /health (default 120)")
    args = parser.parse_args()

    chains = ["embedded"] + (["anvil"] if anvil_installed() else [])
    floor = import_floor(args.runs)
    results: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory(prefix="segell-bench-") as workdir:
        for chain in chains:
            results[chain] = measure(chain, args.runs, args.admissions, args.timeout, Path(workdir))

    print(f"segell up, {args.runs} runs per chain, {args.admissions} admissions per run, {os.cpu_count()} CPUs")
    print()
    print(f"| {'measurement':<{LABEL_WIDTH}} | {'n':>4} | {'median':>8} | {'min':>8} | {'max':>8} | unit |")
    print(f"|{'-' * (LABEL_WIDTH + 2)}|{'-' * 5}:|{'-' * 9}:|{'-' * 9}:|{'-' * 9}:|------|")
    print(row("python + import segell.services.main (floor)", floor, "s", 2))
    for chain, figures in results.items():
        blocks = statistics.median(figures.blocks_at_restart)
        print(row(f"{chain}: first start to /health 200", figures.first_start_s, "s", 2))
        print(row(f"{chain}: restart ({blocks:.0f} blocks) to /health 200", figures.restart_s, "s", 2))
        print(row(f"{chain}: admit an administration", figures.admit_ms, "ms", 0))
    if "anvil" not in results:
        print()
        print("anvil is not installed (`make setup` installs it from npm): its figures are n/a")

    def median(chain: str, attribute: str, digits: int) -> str:
        if chain not in results:
            return "n/a"
        return f"{statistics.median(getattr(results[chain], attribute)):.{digits}f}"

    print()
    print(
        f"startup_embedded_s={median('embedded', 'first_start_s', 2)} "
        f"restart_embedded_s={median('embedded', 'restart_s', 2)} "
        f"startup_anvil_s={median('anvil', 'first_start_s', 2)} "
        f"admit_ms={median('embedded', 'admit_ms', 0)}"
    )


if __name__ == "__main__":
    main()
