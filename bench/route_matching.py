"""CPU time of finding a request's route, in process: FastAPI's walk over the app against `services.route_table`.

The walk is what FastAPI does before any route runs: every top-level route of the app tried in order, then the
chosen included router's routes again inside it. The table is `RouteTable`'s lookup of the same route. Neither
serves the request; both find the same route (`tests/services/test_route_table.py`).

    .venv/bin/python bench/route_matching.py
    .venv/bin/python bench/route_matching.py --repeat 5000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from starlette.routing import Match  # noqa: E402

from segell.services.main import create_app  # noqa: E402
from segell.services.route_table import RouteTable  # noqa: E402
from segell.services.settings import Settings  # noqa: E402

REQUESTS = (
    ("GET", "/v1/verify"),
    ("POST", "/v1/documents"),
    ("POST", "/v1/participation/processes/0123456789abcdef0123456789abcdef/ballots"),
    ("GET", "/nothing/here"),
)


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=2_000)
    args = parser.parse_args()
    app = create_app(Settings())
    table = RouteTable(app)._current()
    assert table is not None

    def walk(method: str, path: str) -> None:
        scope = _scope(method, path)
        for route in app.router.routes:
            if route.matches(scope)[0] is Match.FULL:
                chosen = getattr(route, "_match", None)
                if chosen is not None:
                    chosen(scope)
                return

    def lookup(method: str, path: str) -> None:
        scope = _scope(method, path)
        for entry in table.candidates(path):
            if entry.matches(scope)[0] is Match.FULL:
                return

    for method, path in REQUESTS:
        figures = []
        for find in (walk, lookup):
            started = time.process_time()
            for _ in range(args.repeat):
                find(method, path)
            figures.append((time.process_time() - started) / args.repeat * 1e6)
        print(f"{method} {path}: walk {figures[0]:.1f} µs, table {figures[1]:.1f} µs", flush=True)


if __name__ == "__main__":
    main()
