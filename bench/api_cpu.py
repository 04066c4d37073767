"""CPU time of one API process per single `POST /v1/documents` and per `GET /v1/verify`, on PostgreSQL.

The figure of merit on a shared machine, where requests per second mostly measure the other work: the API process's
CPU time (user + system, from /proc) over a run, divided by its requests. One `segell up --chain anvil` with
`SEGELL_ANCHORING_WORKER=false` and one `segell worker`, on a fresh schema; 1,000 documents anchored for the
verifications; each route then gets 500 requests to warm up and `--requests` measured, over `--connections`
kept-alive connections from `bench/scale.py`'s load generator. `--profile` runs the API under
`bench/profiled_api.py` and writes `<tag>-<route>.prof` (pstats) to `--out` for each measured run. The CPU time of
the PostgreSQL server processes serving the API's connections (found by the API's socket ports) is shown beside it.

    .venv/bin/python bench/api_cpu.py                      # post and verify, 3,000 requests each
    .venv/bin/python bench/api_cpu.py --rounds 3 --routes verify
    .venv/bin/python bench/api_cpu.py --profile --out /tmp/profiles
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_load import cpu_seconds  # noqa: E402
from scale import (  # noqa: E402
    POSTGRES_URL,
    Deployment,
    admit,
    anchored_hashes,
    free_port,
    http_request,
    load,
    postgres_schema,
    stop,
    wait_for_health,
    wait_for_worker,
)

ROOT = Path(__file__).resolve().parents[1]


def postgres_backends_of(pid: int, postgres_port: int) -> list[int]:
    """The PostgreSQL server processes (on this machine) serving the TCP connections process `pid` holds to
    `postgres_port`: their titles name the client's address and port."""
    inodes = set()
    for link in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(link)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == postgres_port:
                    ports.add(int(local.rsplit(":", 1)[1], 16))
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
                client = title.rsplit("(", 1)[-1].split(")", 1)[0] if title.startswith("postgres:") else ""
                if client.isdigit() and int(client) in ports:
                    found.append(int(entry.name))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=os.environ.get("SEGELL_TEST_POSTGRES_URL", POSTGRES_URL))
    parser.add_argument("--requests", type=int, default=3_000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--routes", default="post,verify", help="comma-separated: post, verify")
    parser.add_argument("--rounds", type=int, default=1, help="measured runs per route")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("."), help="where profiles and logs go")
    parser.add_argument("--tag", default="api")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    with postgres_schema(args.postgres) as database_url, tempfile.TemporaryDirectory(prefix="segell-cpu-") as tmp:
        home = Path(tmp) / "home"
        env = {name: value for name, value in os.environ.items() if not name.startswith("SEGELL_")}
        env.update(
            SEGELL_HOME=str(home),
            SEGELL_MASTER_KEY=secrets.token_hex(32),
            SEGELL_DATABASE_URL=database_url,
            SEGELL_ANCHORING_WORKER="false",
            SEGELL_PROFILE_DIR=tmp,
        )
        postgres_port = make_url(args.postgres).port or 5432
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        entry = [str(ROOT / "bench" / "profiled_api.py")] if args.profile else ["-m", "segell.services.cli"]
        api_log = args.out / f"{args.tag}-api.log"
        children: list[subprocess.Popen[bytes]] = []
        try:
            with api_log.open("wb") as log:
                api = subprocess.Popen(
                    [sys.executable, *entry, "up", "--chain", "anvil", "--port", str(port)],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            children.append(api)
            wait_for_health(api, url, 180, api_log)
            socket = str(home / "chain" / "anvil.ipc")
            worker_log = args.out / f"{args.tag}-worker.log"
            with worker_log.open("wb") as log:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "segell.services.cli", "worker", "--chain", socket],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            children.append(worker)
            wait_for_worker(worker, worker_log, 180)
            key = admit(Deployment([url], [api.pid], worker.pid, home))
            auth = [f"Authorization: Bearer {key}"]
            known = anchored_hashes(url, key, 1_000)

            def requests(route: str, count: int) -> list[bytes]:
                if route == "post":
                    bodies = (json.dumps({"hash": secrets.token_hex(32)}).encode() for _ in range(count))
                    return [http_request("POST", url, "/v1/documents", body=body, headers=auth) for body in bodies]
                return [http_request("GET", url, f"/v1/verify?hash={secrets.choice(known)}") for _ in range(count)]

            for route in args.routes.split(","):
                load([url], requests(route, 500), args.connections, [api.pid])
                for _ in range(args.rounds):
                    measured = requests(route, args.requests)
                    if args.profile:
                        time.sleep(6)  # the group committer's thread ends when idle: started again, it is profiled
                        os.kill(api.pid, signal.SIGUSR1)
                        time.sleep(0.3)
                    backends = postgres_backends_of(api.pid, postgres_port)
                    database_before = sum(cpu_seconds(pid) for pid in backends)
                    run = load([url], measured, args.connections, [api.pid])
                    database_ms = (sum(cpu_seconds(pid) for pid in backends) - database_before) * 1000 / run.requests
                    if args.profile:
                        os.kill(api.pid, signal.SIGUSR2)
                        time.sleep(2)
                        shutil.move(Path(tmp) / f"{api.pid}.prof", args.out / f"{args.tag}-{route}.prof")
                    print(
                        f"{args.tag} {route}: API CPU {run.server_cpu_ms:.3f} ms per request, PostgreSQL "
                        f"{database_ms:.3f} ms ({len(backends)} connections); {run.rps:,.0f} req/s, "
                        f"p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms; client CPU {run.client_cpu_ms:.3f} ms per "
                        f"request; load average {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
        finally:
            for child in reversed(children):
                stop(child)


if __name__ == "__main__":
    main()
