"""`package_search`'s CPU time in process (no HTTP) over `bench/opendata.py`'s query mix, on a database that
`bench/opendata.py`'s `load` filled (its `segell.db`, or a PostgreSQL URL), with the administrations' codes.

Each query runs `service.package_search` in a session of its own and encodes its result as an answer holds it
(`service.encoded`), timed with `time.process_time()` (this process's CPU, which a loaded machine inflates far less
than the wall clock) and `time.perf_counter()`, after 100 for warming up, as `bench/opendata.py` does over HTTP.
On PostgreSQL the CPU of the database's server process that answered (`/proc/<pid>/schedstat`, when it runs on
this machine) is added: the CPU the search cost on both sides.

    .venv/bin/python bench/opendata_search_cpu.py sqlite:///HOME/segell.db L01700792,L01700669,...

The last line: ``search_cpu_p99_ms=<N> search_wall_p99_ms=<N>``.
"""

import argparse
import random
import sys
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import opendata  # noqa: E402

from segell.services.db import create_db_engine  # noqa: E402
from segell.services.opendata import service  # noqa: E402


def backend_pid(session: Session) -> int | None:
    """The process id of the PostgreSQL server process serving `session`, when it runs on this machine."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    pid = session.scalar(text("SELECT pg_backend_pid()"))
    return pid if Path(f"/proc/{pid}/schedstat").exists() else None


def server_seconds(pid: int | None) -> float:
    """CPU seconds the process `pid` has run (0 for none)."""
    if pid is None:
        return 0.0
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database_url")
    parser.add_argument("codes", help="the administrations' codes, comma-separated")
    parser.add_argument("--queries", type=int, default=500)
    args = parser.parse_args()
    engine = create_db_engine(args.database_url)
    mix = opendata.query_mix(random.Random(41), args.codes.split(","), args.queries)

    def one(params: dict[str, str]) -> tuple[float, float]:
        with Session(engine) as session:
            context = service.Context(session=session, administration=None, files=Path("."), api_url="http://bench")
            server = backend_pid(session)
            cpu, wall, server_cpu = time.process_time(), time.perf_counter(), server_seconds(server)
            service.encoded(service.package_search(context, params))
            server_spent = server_seconds(server) - server_cpu
            return (time.process_time() - cpu + server_spent) * 1000, (time.perf_counter() - wall) * 1000

    for params in mix[:100]:
        one(params)
    timings = [one(params) for params in mix]
    cpu = opendata.percentiles([timing[0] for timing in timings])
    wall = opendata.percentiles([timing[1] for timing in timings])
    print("CPU  p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, max {max:.1f} ms".format(**cpu))
    print("wall p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms, max {max:.1f} ms".format(**wall))
    # As in `bench/opendata.py`: the searches whose `q` had not been sent before are those the database matched.
    seen = {params["q"] for params in mix[:100] if "q" in params}
    first = []
    for (spent, _), params in zip(timings, mix, strict=True):
        if "q" in params and params["q"] not in seen:
            seen.add(params["q"])
            first.append(spent)
    if first:
        first_cpu = opendata.percentiles(first)
        print(
            "CPU of a q sent for the first time ({count} of them): p50 {p50:.1f} ms, p99 {p99:.1f} ms".format(
                **first_cpu
            )
        )
    for (spent, _), params in sorted(zip(timings, mix, strict=True), key=lambda pair: -pair[0][0])[:5]:
        print(f"  slowest: {spent:.0f} ms CPU {params}")
    engine.dispose()
    print(f"search_cpu_p99_ms={cpu['p99']:.1f} search_wall_p99_ms={wall['p99']:.1f}")


if __name__ == "__main__":
    main()
