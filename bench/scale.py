"""Several API processes on PostgreSQL: 1 and 2 processes side by side, with the ratio of 2 to 1.

For each number of API processes (1, then 2) the script starts, on a fresh SEGELL_HOME and a fresh PostgreSQL schema:

- the API processes (`segell up`, with `SEGELL_ANCHORING_WORKER=false`): the first manages anvil, the others reach
  it through its socket; with `segell up --workers N`, where that option exists, one command starts them all;
- one anchoring worker (`segell worker`) of its own, whatever the number of API processes;

then measures, in this order:

- **bulk**: 100,000 documents through `POST /v1/documents/batch` (10,000 hashes a request, two requests in flight
  as `sdk.Client.documents.notarise_many` sends them, spread over the processes), timed until the last receipt is
  anchored;
- **single `POST /v1/documents`** and **`GET /v1/verify`** (of anchored hashes): req/s, p50, p99;
- **1M**: 1,000,000 more documents in bulk, on the database of the 100k run.

The load generator is this process (`bench/http_load.py`, which `bench/interop.py` uses too): an asyncio HTTP/1.1
client on uvloop over kept-alive connections (16 by default, shared round robin by the processes), each request
written ahead as bytes and the answer read by its `Content-Length`; a few tens of microseconds of CPU per request, a
tenth of httpx's. On two cores it still competes with the server: every run prints the client's CPU time per request
and its share of the machine, and the CPU time of the API processes per request, so that a quiet machine's ceiling
can be told from the figures.

The last line, for tracking (the `_2` figures with 2 API processes; bulk and 1M with 2 as well):
``post_rps_1=<N> post_rps_2=<N> post_p99_ms_2=<N> verify_rps_2=<N> verify_p99_ms_2=<N> bulk_docs_per_s=<N>
docs_per_s_1m=<N>``.

    .venv/bin/python bench/scale.py                  # PostgreSQL at $SEGELL_TEST_POSTGRES_URL or 127.0.0.1/test
    .venv/bin/python bench/scale.py --quick          # fewer requests, no 1M run (docs_per_s_1m=n/a)
    .venv/bin/python bench/scale.py --processes 2 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_load import LoadRun, cpu_seconds, http_request, load, process_tree  # noqa: E402
from startup import free_port, stop, wait_for_health  # noqa: E402

from segell.sdk.documents import BATCHES_IN_FLIGHT  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BATCH_REQUEST = 10_000
TARGETS = {"post_rps": 1_000, "post_p99_ms": 50, "verify_rps": 1_500, "verify_p99_ms": 30, "bulk": 60_000, "1m": 40_000}


# -- processes ------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema of this benchmark's own, dropped afterwards."""
    admin = create_engine(url)
    name = f"segell_bench_scale_{secrets.token_hex(4)}"
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield make_url(url).update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


def has_workers_option() -> bool:
    """Whether `segell up` starts several API processes itself (`--workers N`)."""
    command = [sys.executable, "-m", "segell.services.cli", "up", "--help"]
    shown = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False).stdout
    return "--workers" in shown


@dataclass
class Deployment:
    urls: list[str]  # one per listening port: the load is spread over them
    api_pids: list[int]
    worker_pid: int
    home: Path


class Processes:
    """Child processes in process groups of their own, stopped in reverse order."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env, self.children = home, env, list[subprocess.Popen[bytes]]()

    def start(self, name: str, arguments: list[str], **env: str) -> tuple[subprocess.Popen[bytes], Path]:
        log_path = self.home.parent / f"{self.home.name}-{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "segell.services.cli", *arguments],
                cwd=ROOT,
                env={**self.env, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.children.append(process)
        return process, log_path

    def api(self, name: str, chain: str, port: int, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
        process, log_path = self.start(name, ["up", "--chain", chain, "--port", str(port), *extra])
        url = f"http://127.0.0.1:{port}"
        wait_for_health(process, url, 180, log_path)
        return process, url

    def stop_all(self) -> None:
        for process in reversed(self.children):
            stop(process)


@contextlib.contextmanager
def deployment(processes: int, database_url: str, use_workers_option: bool) -> Iterator[Deployment]:
    with tempfile.TemporaryDirectory(prefix="segell-scale-") as tmp:
        home = Path(tmp) / "home"
        env = {name: value for name, value in os.environ.items() if not name.startswith("SEGELL_")}
        env.update(
            SEGELL_HOME=str(home),
            SEGELL_MASTER_KEY=secrets.token_hex(32),
            SEGELL_DATABASE_URL=database_url,
            SEGELL_ANCHORING_WORKER="false",
        )
        children = Processes(home, env)
        try:
            port = free_port()
            if use_workers_option:
                first, url = children.api("api", "anvil", port, "--workers", str(processes))
                urls, api_pids = [url], process_tree(first.pid)
            else:
                # The first manages anvil; the others reach it through its socket, as the worker does.
                first, url = children.api("api-1", "anvil", port)
                urls, api_pids = [url], [first.pid]
                socket = str(home / "chain" / "anvil.ipc")
                for number in range(2, processes + 1):
                    other, other_url = children.api(f"api-{number}", socket, free_port())
                    urls.append(other_url)
                    api_pids.append(other.pid)
            worker, worker_log = children.start("worker", ["worker", "--chain", str(home / "chain" / "anvil.ipc")])
            wait_for_worker(worker, worker_log, 180)
            yield Deployment(urls, api_pids, worker.pid, home)
        finally:
            children.stop_all()


def wait_for_worker(process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    """Until the worker says it is up: the first batch must not wait for its start."""
    deadline = time.monotonic() + timeout
    while "anchoring worker is up" not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the anchoring worker did not start:\n{log_path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)


def admit(deployed: Deployment) -> str:
    governance = {"Authorization": f"Bearer {(deployed.home / 'governance.key').read_text().strip()}"}
    code = f"SCALE{secrets.token_hex(3).upper()}"
    answer = httpx.post(
        f"{deployed.urls[0]}/v1/administrations", json={"code": code, "name": "Benchmark"}, headers=governance
    )
    answer.raise_for_status()
    return str(answer.json()["api_key"]["key"])


# -- bulk -----------------------------------------------------------------------------------------------------------


def postgres_backends(database: str) -> list[int]:
    """The PostgreSQL server processes serving connections to `database` (on this machine), by their title."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                # "postgres: [cluster:] user database host(port) state"
                title = (entry / "cmdline").read_bytes().split(b"\0")[0].split()
                if title[:1] == [b"postgres:"] and any(
                    title[i] == database.encode() and title[i + 1].endswith((b")", b"[local]"))
                    for i in range(2, len(title) - 1)
                ):
                    found.append(int(entry.name))
    return found


@dataclass(frozen=True)
class BulkRun:
    documents: int
    seconds: float
    answered: float  # seconds until the last batch request was answered; the rest waits for its anchoring
    cpu_ms: dict[str, float]  # per 10,000 documents, by who spent it

    @property
    def rate(self) -> float:
        return self.documents / self.seconds

    def describe(self) -> str:
        spent = ", ".join(f"{who} {ms:.0f} ms" for who, ms in self.cpu_ms.items())
        total = sum(self.cpu_ms.values())
        return (
            f"{self.rate:,.0f} docs/s ({self.seconds:.2f} s, the last answered at {self.answered:.2f} s); "
            f"CPU per 10,000 documents: {spent}; "
            f"{10_000 / total * 1000:,.0f} docs per CPU-second of these"
        )


def bulk(deployed: Deployment, key: str, count: int, database: str) -> BulkRun:
    """Documents per second from the first batch request to the last receipt anchored, and the CPU time spent per
    10,000 documents by the API processes, the worker, the PostgreSQL server processes serving `database` (others'
    connections to the same database included) and this client."""
    urls = deployed.urls
    auth = {"Authorization": f"Bearer {key}"}
    hashes = [secrets.token_hex(32) for _ in range(count)]
    clients = [httpx.Client(base_url=url, headers=auth, timeout=600) for url in urls]
    backends = postgres_backends(database)
    spenders = {"API": deployed.api_pids, "worker": [deployed.worker_pid], "PostgreSQL": backends}

    def send(start: int) -> str:
        client = clients[(start // BATCH_REQUEST) % len(clients)]
        sent = hashes[start : start + BATCH_REQUEST]
        answer = client.post("/v1/documents/batch", json={"hashes": sent})
        answer.raise_for_status()
        return last_receipt_id(answer.content, len(sent))

    try:
        before = {who: sum(cpu_seconds(pid) for pid in pids) for who, pids in spenders.items()}
        usage = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        with ThreadPoolExecutor(BATCHES_IN_FLIGHT) as pool:
            last_ids = list(pool.map(send, range(0, count, BATCH_REQUEST)))
        answered = time.perf_counter() - started
        # Requests in flight together may be stored in either order: each one's last receipt is waited for.
        deadline = time.monotonic() + max(120.0, count / 1000)
        for receipt_id in last_ids:
            while clients[0].get(f"/v1/documents/{receipt_id}").json()["status"] != "anchored":
                if time.monotonic() > deadline:
                    raise TimeoutError(f"document {receipt_id} not anchored in time")
                time.sleep(0.02)
        seconds = time.perf_counter() - started
        ended = resource.getrusage(resource.RUSAGE_SELF)
        # Connections opened during the run (the pools grow) are counted from zero.
        spenders["PostgreSQL"] = sorted(set(backends) | set(postgres_backends(database)))
        spent = {who: sum(cpu_seconds(pid) for pid in pids) - before[who] for who, pids in spenders.items()}
        spent["client"] = ended.ru_utime - usage.ru_utime + ended.ru_stime - usage.ru_stime
        cpu_ms = {who: value * 1000 * 10_000 / count for who, value in spent.items()}
        return BulkRun(count, seconds, answered, cpu_ms)
    finally:
        for client in clients:
            client.close()


def last_receipt_id(content: bytes, count: int) -> str:
    """The id of the last of the `count` receipts of a batch answer, read without decoding the 5 MB of JSON of
    10,000 receipts: on two cores, the client's decoding would take CPU from the server it measures."""
    if content.count(b'{"id":"') != count:
        raise RuntimeError(f"a batch answer without {count} receipts: {content[:200]!r}")
    at = content.rindex(b'{"id":"') + 7
    return content[at : content.index(b'"', at)].decode()


def anchored_hashes(url: str, key: str, count: int) -> list[str]:
    hashes = [secrets.token_hex(32) for _ in range(count)]
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
        items = client.post("/v1/documents/batch", json={"hashes": hashes}).raise_for_status().json()["items"]
        deadline = time.monotonic() + 120
        while client.get(f"/v1/documents/{items[-1]['id']}").json()["status"] != "anchored":
            if time.monotonic() > deadline:
                raise TimeoutError("the verification set was not anchored in time")
            time.sleep(0.02)
    return hashes


# -- one configuration ----------------------------------------------------------------------------------------------


@dataclass
class Figures:
    processes: int
    bulk: float
    post: LoadRun
    verify: LoadRun
    million: float | None


def measure(processes: int, postgres_url: str, args: argparse.Namespace, use_workers_option: bool) -> Figures:
    with postgres_schema(postgres_url) as database_url, deployment(processes, database_url, use_workers_option) as up:
        key = admit(up)
        print(f"\n{processes} API process(es) at {', '.join(up.urls)}, one anchoring worker, PostgreSQL", flush=True)
        database = make_url(postgres_url).database or ""
        bulk_run = bulk(up, key, args.bulk, database)
        print(f"  bulk {args.bulk:,} documents: {bulk_run.describe()}", flush=True)

        auth = [f"Authorization: Bearer {key}"]
        warm = args.requests // 10

        def posts(count: int) -> list[bytes]:
            bodies = (json.dumps({"hash": secrets.token_hex(32)}).encode() for _ in range(count))
            return [http_request("POST", up.urls[0], "/v1/documents", body=body, headers=auth) for body in bodies]

        load(up.urls, posts(warm), args.connections, up.api_pids)
        post = load(up.urls, posts(args.requests), args.connections, up.api_pids)
        report("POST /v1/documents", post, args.connections)

        known = anchored_hashes(up.urls[0], key, 1_000)

        def verifies(count: int) -> list[bytes]:
            return [http_request("GET", up.urls[0], f"/v1/verify?hash={secrets.choice(known)}") for _ in range(count)]

        load(up.urls, verifies(warm), args.connections, up.api_pids)
        verify = load(up.urls, verifies(args.requests), args.connections, up.api_pids)
        report("GET /v1/verify", verify, args.connections)

        million = None
        if args.million:
            million_run = bulk(up, key, args.million, database)
            million = million_run.rate
            print(f"  1M: {args.million:,} more documents: {million_run.describe()}", flush=True)
        return Figures(processes, bulk_run.rate, post, verify, million)


def report(label: str, run: LoadRun, connections: int) -> None:
    cores = os.cpu_count() or 1
    client_share = run.client_cpu_ms * run.rps / 1000 / cores
    print(
        f"  {label}: {run.rps:,.0f} req/s, p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms ({run.requests:,} "
        f"requests, {connections} connections); CPU per request: API {run.server_cpu_ms:.2f} ms, client "
        f"{run.client_cpu_ms:.3f} ms ({client_share:.0%} of the {cores} cores)",
        flush=True,
    )


def ratio(two: float | None, one: float | None) -> str:
    return f"{two / one:.2f}" if two and one else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=os.environ.get("SEGELL_TEST_POSTGRES_URL", POSTGRES_URL))
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="API processes of each run")
    parser.add_argument("--requests", type=int, default=10_000, help="requests per latency run (after a tenth more)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections in latency runs")
    parser.add_argument("--bulk", type=int, default=100_000, help="documents of the bulk run")
    parser.add_argument("--million", type=int, default=1_000_000, help="documents of the large run; 0: none")
    parser.add_argument("--quick", action="store_true", help="2,000 requests per run and no 1M run")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.million = 2_000, 0
    use_workers_option = has_workers_option()
    print(
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}; API processes started by "
        + ("`segell up --workers N`" if use_workers_option else "one `segell up` each (the first manages anvil)"),
        flush=True,
    )
    figures = {n: measure(n, args.postgres, args, use_workers_option) for n in args.processes}

    print(f"\n{'':34}" + "".join(f"{f'{n} process(es)':>16}" for n in figures) + f"{'2 / 1':>8}{'target':>10}")
    one, two = figures.get(1), figures.get(2)

    def row(label: str, pick: object, target: object) -> None:
        values = [pick(f) for f in figures.values()]  # type: ignore[operator]
        shown = "".join(f"{v:>16,.1f}" if v is not None else f"{'n/a':>16}" for v in values)
        both = pick(two) if two else None, pick(one) if one else None  # type: ignore[operator]
        print(f"{label:34}{shown}{ratio(*both):>8}{target:>10}")

    row("POST /v1/documents req/s", lambda f: f.post.rps, f">={TARGETS['post_rps']:,}")
    row("POST /v1/documents p99 ms", lambda f: f.post.p99_ms, f"<={TARGETS['post_p99_ms']}")
    row("GET /v1/verify req/s", lambda f: f.verify.rps, f">={TARGETS['verify_rps']:,}")
    row("GET /v1/verify p99 ms", lambda f: f.verify.p99_ms, f"<={TARGETS['verify_p99_ms']}")
    row(f"bulk docs/s at {args.bulk:,}", lambda f: f.bulk, f">={TARGETS['bulk']:,}")
    large = f"docs/s over {args.million:,} more" if args.million else "1M docs/s (not run)"
    row(large, lambda f: f.million, f">={TARGETS['1m']:,}")
    row("API CPU ms per POST", lambda f: f.post.server_cpu_ms, "")
    row("API CPU ms per verify", lambda f: f.verify.server_cpu_ms, "")
    row("client CPU ms per POST", lambda f: f.post.client_cpu_ms, "")
    row("client CPU ms per verify", lambda f: f.verify.client_cpu_ms, "")

    last = two or one
    assert last is not None

    def number(value: float | None) -> str:
        return f"{value:.0f}" if value is not None else "n/a"

    print(
        f"post_rps_1={number(one.post.rps if one else None)} post_rps_2={number(two.post.rps if two else None)} "
        f"post_p99_ms_2={last.post.p99_ms:.1f} verify_rps_2={last.verify.rps:.0f} "
        f"verify_p99_ms_2={last.verify.p99_ms:.1f} bulk_docs_per_s={last.bulk:.0f} "
        f"docs_per_s_1m={number(last.million)}"
    )


if __name__ == "__main__":
    main()
