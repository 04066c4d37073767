"""Single `POST /v1/documents` with 1 and 2 API processes on PostgreSQL: where the CPU time of a request goes.

For each number of API processes, `bench/scale.py`'s deployment (`segell up --workers N` with
`SEGELL_ANCHORING_WORKER=false`, one `segell worker`, a fresh schema) takes `--requests` / 4 submissions to warm up,
then `--rounds` runs of `--requests` submissions of new hashes over `--connections` kept-alive connections. Each run
prints req/s, p50 and p99, and the CPU time (user + system, from /proc) per request of each API process, of the
anchoring worker, of the PostgreSQL server processes serving the database (count it alone: give the benchmark a
database nobody else uses) and of the load generator; and how many requests each committed transaction of that
database held (the anchoring worker's transactions included).

    .venv/bin/python bench/post_processes.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/segell_post
    .venv/bin/python bench/post_processes.py --processes 2 --rounds 3 --requests 4000
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_load import cpu_seconds, http_request, load  # noqa: E402
from scale import POSTGRES_URL, admit, deployment, has_workers_option, postgres_backends, postgres_schema  # noqa: E402


def posts(url: str, auth: list[str], count: int) -> list[bytes]:
    bodies = (json.dumps({"hash": secrets.token_hex(32)}).encode() for _ in range(count))
    return [http_request("POST", url, "/v1/documents", body=body, headers=auth) for body in bodies]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=os.environ.get("SEGELL_TEST_POSTGRES_URL", POSTGRES_URL))
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="API processes of each deployment")
    parser.add_argument("--requests", type=int, default=4_000, help="submissions per measured run")
    parser.add_argument("--rounds", type=int, default=2, help="measured runs per deployment")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    database = make_url(args.postgres).database or ""
    statistics = create_engine(args.postgres)

    def commits() -> int:
        with statistics.connect() as connection:
            query = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
            return int(connection.execute(text(query)).scalar_one())

    use_workers_option = has_workers_option()
    for processes in args.processes:
        with postgres_schema(args.postgres) as url, deployment(processes, url, use_workers_option) as up:
            auth = [f"Authorization: Bearer {admit(up)}"]
            load(up.urls, posts(up.urls[0], auth, args.requests // 4), args.connections, up.api_pids)
            for _ in range(args.rounds):
                spenders = {f"api {pid}": [pid] for pid in up.api_pids} | {
                    "worker": [up.worker_pid],
                    "PostgreSQL": postgres_backends(database),
                }
                requests = posts(up.urls[0], auth, args.requests)
                committed = commits()
                before = {who: sum(cpu_seconds(pid) for pid in pids) for who, pids in spenders.items()}
                run = load(up.urls, requests, args.connections, up.api_pids)
                spenders["PostgreSQL"] = sorted(set(spenders["PostgreSQL"]) | set(postgres_backends(database)))
                spent = {
                    who: (sum(cpu_seconds(pid) for pid in pids) - before[who]) * 1000 / run.requests
                    for who, pids in spenders.items()
                }
                # API processes that served nothing (uvicorn's supervisor, its resource tracker) are left out.
                spent = {who: ms for who, ms in spent.items() if not who.startswith("api") or ms >= 0.02}
                spent["client"] = run.client_cpu_ms
                time.sleep(0.5)  # the statistics collector's delay
                per_commit = run.requests / max(1, commits() - committed)
                shown = ", ".join(f"{who} {ms:.3f}" for who, ms in spent.items())
                print(
                    f"{processes} process(es): {run.rps:,.0f} req/s, p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms; "
                    f"CPU ms per request: {shown}, total {sum(spent.values()):.3f}; {per_commit:.1f} requests per "
                    f"commit; load average {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    statistics.dispose()


if __name__ == "__main__":
    main()
