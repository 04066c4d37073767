"""`segell notarise --wait` for many files: how soon after anchoring every proof bundle is written, and in how
many HTTP requests, against the one-by-one way it used to work.

Starts `segell up` on a fresh SEGELL_HOME (anvil when installed, else the embedded chain), admits an
administration, writes `--files` small files (1,000 by default) and, for each run:

- **batched** (what `segell notarise FILE... --wait --out DIR` does now): the real command, run in this process;
  its hashes go in one batch request, then it asks for the bundles of the documents still pending
  (`POST /v1/documents/bundles`, a thousand ids a request) until none is, and writes them;
- **one by one** (the baseline, what it did before): the same batch request, then for each document in turn
  `GET /v1/documents/{id}` until it is anchored and `GET /v1/documents/{id}/bundle`, and its file written.

Each way gets files of its own. Measured: seconds from the start to the last bundle written; seconds from the
anchoring of the last of its batches (`batches.anchored_at` in the service database, the moment the worker
recorded it) to the last bundle written; HTTP requests sent, counted at this process's HTTP transport.

The last line is for tracking:
``bundles_after_anchoring_s=<median> requests=<n> baseline_after_anchoring_s=<median> baseline_requests=<n> ...``

    .venv/bin/python bench/notarise_wait.py                      # 1,000 files, 3 runs each way
    .venv/bin/python bench/notarise_wait.py --files 200 --runs 1 --chain embedded
"""

import argparse
import contextlib
import hashlib
import json
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import anvil_installed, segell_up  # noqa: E402  (the launcher bench/startup.py uses)

from segell.sdk import Client  # noqa: E402
from segell.services.cli import app  # noqa: E402

ANCHOR_TIMEOUT_S = 300.0


class RequestCounter:
    """Counts the requests every httpx client of this process sends, by method and path; they are sent as usual."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()

    @contextlib.contextmanager
    def counting(self) -> Iterator[Counter[str]]:
        self.requests = Counter()
        original = httpx.HTTPTransport.handle_request
        counter = self.requests

        def handle_request(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
            path = request.url.path
            # One receipt's routes count as one route each.
            parts = path.split("/")
            if len(parts) > 3 and parts[2] == "documents" and len(parts[3]) == 32:
                parts[3] = "{id}"
            counter[f"{request.method} {'/'.join(parts)}"] += 1
            return original(transport, request)

        httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
        try:
            yield counter
        finally:
            httpx.HTTPTransport.handle_request = original  # type: ignore[method-assign]


@dataclass
class Run:
    way: str
    total_s: float
    after_anchoring_s: float
    requests: int
    by_route: Counter[str]


def write_files(directory: Path, count: int) -> list[Path]:
    directory.mkdir(parents=True)
    paths = []
    for number in range(count):
        path = directory / f"certificat-{number:05d}.txt"
        path.write_text(f"Certificat d'empadronament {number} {secrets.token_hex(16)}\n")
        paths.append(path)
    return paths


def last_anchoring(home: Path, document_ids: list[str]) -> datetime:
    """When the last of the batches holding these documents was recorded as anchored (UTC)."""
    with contextlib.closing(sqlite3.connect(home / "segell.db")) as db:
        db.execute("CREATE TEMP TABLE wanted (id TEXT PRIMARY KEY)")
        db.executemany("INSERT INTO wanted VALUES (?)", [(i,) for i in document_ids])
        (moment,) = db.execute(
            "SELECT max(b.anchored_at) FROM documents d JOIN wanted w ON w.id = d.id "
            "JOIN batches b ON b.id = d.batch_id"
        ).fetchone()
    if moment is None:
        raise RuntimeError("the documents are not anchored")
    return datetime.fromisoformat(moment).replace(tzinfo=UTC)


def batched(url: str, key: str, files: list[Path], out: Path, counter: RequestCounter) -> tuple[float, list[str]]:
    """`segell notarise FILES --wait --out OUT --json`, the command itself; seconds it took, and the receipt ids."""
    arguments = ["--url", url, "--api-key", key, "notarise", *map(str, files), "--wait", "--out", str(out)]
    arguments += ["--timeout", str(ANCHOR_TIMEOUT_S), "--json"]
    with contextlib.redirect_stdout(_Captured()) as captured, counter.counting():
        started = time.perf_counter()
        try:
            app(arguments, prog_name="segell", standalone_mode=False)
        finally:
            elapsed = time.perf_counter() - started
    results = json.loads(captured.text)
    if len(results) != len(files) or any(result["bundle"] is None for result in results):
        raise RuntimeError("segell notarise --wait did not write every bundle")
    return elapsed, [result["id"] for result in results]


class _Captured:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def flush(self) -> None:
        pass

    @property
    def text(self) -> str:
        return "".join(self.parts)


def one_by_one(url: str, key: str, files: list[Path], out: Path, counter: RequestCounter) -> tuple[float, list[str]]:
    """What `segell notarise --wait` did before: each document waited for, and its bundle fetched, in turn."""
    out.mkdir(parents=True, exist_ok=True)
    with counter.counting(), Client(url, key, timeout=60) as client:
        started = time.perf_counter()
        hashes = [hashlib.sha256(path.read_bytes()).hexdigest() for path in files]
        receipts = client.documents.notarise_many(hashes)
        for path, receipt in zip(files, receipts, strict=True):
            client.documents.wait_until_anchored(receipt.id, timeout=ANCHOR_TIMEOUT_S)
            bundle = client.documents.bundle(receipt.id)
            (out / f"{path.name}.segell.json").write_text(json.dumps(bundle, indent=2) + "\n", encoding="utf-8")
        elapsed = time.perf_counter() - started
    return elapsed, [receipt.id for receipt in receipts]


def measure(way: str, url: str, key: str, home: Path, workdir: Path, count: int, counter: RequestCounter) -> Run:
    files = write_files(workdir / f"{way}-{secrets.token_hex(3)}", count)
    out = workdir / f"{way}-bundles-{secrets.token_hex(3)}"
    run = batched if way == "batched" else one_by_one
    elapsed, ids = run(url, key, files, out, counter)
    finished = datetime.now(UTC)
    written = sorted(out.glob("*.segell.json"))
    if len(written) != count:
        raise RuntimeError(f"{way}: {len(written)} bundle files written, {count} expected")
    after = (finished - last_anchoring(home, ids)).total_seconds()
    by_route = Counter(counter.requests)
    return Run(way, elapsed, after, sum(by_route.values()), by_route)


def admit(url: str, home: Path) -> str:
    governance = {"Authorization": f"Bearer {(home / 'governance.key').read_text().strip()}"}
    code = f"BENCH{secrets.token_hex(3).upper()}"
    answer = httpx.post(f"{url}/v1/administrations", json={"code": code, "name": "Benchmark"}, headers=governance)
    answer.raise_for_status()
    return str(answer.json()["api_key"]["key"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000, help="files notarised per run (default 1000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each way, alternating (default 3)")
    parser.add_argument("--chain", choices=["anvil", "embedded"], help="default: anvil when installed, else embedded")
    args = parser.parse_args()
    chain = args.chain or ("anvil" if anvil_installed() else "embedded")
    counter = RequestCounter()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="segell-bench-wait-") as tmp:
        workdir = Path(tmp)
        home = workdir / "home"
        home.mkdir()
        with segell_up(chain, home, secrets.token_hex(32), timeout=120) as server:
            key = admit(server.url, home)
            print(f"segell up --chain {chain}: {args.files} files per run, {args.runs} runs each way")
            for number in range(args.runs):
                for way in ("batched", "one-by-one"):
                    run = measure(way, server.url, key, home, workdir, args.files, counter)
                    runs.append(run)
                    routes = ", ".join(f"{n} {route}" for route, n in run.by_route.most_common())
                    print(
                        f"run {number + 1} {way:<10}  total {run.total_s:6.2f} s  after anchoring "
                        f"{run.after_anchoring_s:6.2f} s  {run.requests:5d} requests ({routes})"
                    )

    def median(way: str, field: str) -> float:
        return statistics.median(getattr(run, field) for run in runs if run.way == way)

    print()
    print(f"| {args.files} files, median of {args.runs} | batched (`--wait` now) | one by one (before) |")
    print("|---|--:|--:|")
    for label, field, unit in (
        ("files to all bundles written", "total_s", "s"),
        ("last anchoring to all bundles written", "after_anchoring_s", "s"),
        ("HTTP requests", "requests", ""),
    ):
        new, old = median("batched", field), median("one-by-one", field)
        digits = 0 if field == "requests" else 2
        print(f"| {label} | {new:.{digits}f}{unit and ' ' + unit} | {old:.{digits}f}{unit and ' ' + unit} |")
    print()
    print(
        f"bundles_after_anchoring_s={median('batched', 'after_anchoring_s'):.2f} "
        f"requests={median('batched', 'requests'):.0f} total_s={median('batched', 'total_s'):.2f} "
        f"baseline_after_anchoring_s={median('one-by-one', 'after_anchoring_s'):.2f} "
        f"baseline_requests={median('one-by-one', 'requests'):.0f} "
        f"baseline_total_s={median('one-by-one', 'total_s'):.2f}"
    )


if __name__ == "__main__":
    main()
