"""Loading a large CSV into the open-data datastore: rows per second through the real `resource_create`.

Run from the repository root::

    .venv/bin/python bench/opendata_load.py [--rows 1000000] [--postgres URL]

Writes a realistic CSV (`--rows` rows of 8 columns: integers, text with quotes and commas, dates, decimal
amounts, booleans, UTC date-times; one bad row in 100,000 with a month 13, a non-integer count and a non-boolean),
starts `segell up` (embedded chain) on a fresh SEGELL_HOME, creates a dataset and uploads the file with
`resource_create` as CKAN clients do (multipart). That one request streams the file to disk and hashes it,
checks it, infers its Table Schema, reads it again hashing it while casting every column and inserting the rows
into the resource's table, records the bad rows with their lines, and notarises the dataset's new version, all in
one transaction. Timed from the request sent to the answer received; the server's CPU seconds in that time give
rows per CPU second (the machine is shared, so wall-clock figures are noisy).

SQLite always; PostgreSQL too with `--postgres URL` or SEGELL_TEST_POSTGRES_URL (a schema of its own, dropped
afterwards). The baseline is the least any loader does: the `csv` module parsing the file and `hashlib` hashing
it, in this process.

The last line: ``load_rows_per_s=<N> ...`` (SQLite). `measure_load(database_url, rows)` is for other scripts.
"""

import argparse
import contextlib
import csv
import hashlib
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import ROOT, free_port, stop, wait_for_health  # noqa: E402

TOWNS = ["Girona", "Figueres", "Olot", "Blanes", "Lloret de Mar", "Salt", "Banyoles", "Palafrugell", "Ripoll"]
CHAPTERS = ["Despeses de personal", "Béns corrents", "Transferències", "Inversions reals", 'Obres, fase "A"']
BAD_EVERY = 100_000
HEADER = "id,municipi,data,import,quantitat,actiu,actualitzat,concepte\n"


def write_csv(path: Path, rows: int) -> int:
    """Write `rows` rows; returns how many of them are bad (one in `BAD_EVERY`)."""
    rng = random.Random(2026)
    first_day, first_moment = date(2020, 1, 1), datetime(2024, 1, 1)
    chapters = ['"' + c.replace('"', '""') + '"' if '"' in c or "," in c else c for c in CHAPTERS]
    bad = 0
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write(HEADER)
        lines = []
        for n in range(1, rows + 1):
            if n % BAD_EVERY == 0:
                lines.append(f"{n},Girona,2024-13-45,12.5,molts,potser,2024-01-01T00:00:00Z,Error\n")
                bad += 1
            else:
                day = (first_day + timedelta(days=n % 1500)).isoformat()
                moment = (first_moment + timedelta(seconds=n * 37)).isoformat()
                lines.append(
                    f"{n},{TOWNS[n % 9]},{day},{rng.randint(0, 10**7) / 100},{rng.randint(0, 5000)},"
                    f"{'true' if n % 3 else 'false'},{moment}Z,{chapters[n % 5]}\n"
                )
            if len(lines) == 10_000:
                file.writelines(lines)
                lines.clear()
        file.writelines(lines)
    return bad


def baseline(path: Path) -> float:
    """Seconds to parse the file with `csv` and hash it with SHA-256, in this process: the floor of any loader."""
    started = time.perf_counter()
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        while chunk := raw.read(1 << 20):
            digest.update(chunk)
    with path.open(encoding="utf-8", newline="") as file:
        for _ in csv.reader(file):
            pass
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def schema_url(url: str, name: str) -> str:
    """`url` with its search_path set to the schema `name`."""
    return make_url(url).update_query_dict({"options": f"-csearch_path={name}"}).render_as_string(False)


@contextlib.contextmanager
def postgres_schema(url: str, name: str | None = None, *, keep: bool = False) -> Iterator[str]:
    """A URL whose search_path is a fresh schema of this benchmark's own (`name`, else a random one), dropped
    afterwards unless `keep`."""
    admin = create_engine(url)
    name = name or f"segell_bench_load_{secrets.token_hex(4)}"
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield schema_url(url, name)
    finally:
        if not keep:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


@contextlib.contextmanager
def segell_up(home: Path, database_url: str | None, **settings: str) -> Iterator[tuple[str, int]]:
    """`segell up` on the embedded chain (and `database_url`, else SQLite in `home`) as a process of its own, with
    `settings` as more `SEGELL_*` variables: its URL and process id."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("SEGELL_")}
    env.update(
        SEGELL_HOME=str(home), SEGELL_MASTER_KEY=secrets.token_hex(32), SEGELL_OPENDATA_MAX_RESOURCE_BYTES=str(2**31)
    )
    env.update(settings)
    if database_url:
        env["SEGELL_DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "segell.services.cli", "up", "--chain", "embedded", "--port", str(port)]
    log_path = home.parent / f"segell-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for_health(process, url, 120, log_path)
            yield url, process.pid
        finally:
            stop(process)


@dataclass
class Load:
    rows: int
    seconds: float
    server_cpu_seconds: float
    datastore_seconds: float
    rows_loaded: int
    rows_rejected: int
    first_error: dict

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds

    @property
    def rows_per_cpu_s(self) -> float:
        return self.rows / self.server_cpu_seconds


def load_once(path: Path, rows: int, database_url: str | None, scratch: Path) -> Load:
    home = scratch / f"home-{secrets.token_hex(3)}"
    home.mkdir()
    with segell_up(home, database_url) as (url, pid):
        governance = (home / "governance.key").read_text().strip()
        with httpx.Client(base_url=url, timeout=600) as http:
            code = f"L{secrets.randbelow(10**8):08d}"
            admitted = http.post(
                "/v1/administrations",
                json={"code": code, "name": "Ajuntament de prova"},
                headers={"Authorization": f"Bearer {governance}"},
            )
            admitted.raise_for_status()
            key = {"Authorization": admitted.json()["api_key"]["key"]}
            package = {
                "name": "pressupost-executat",
                "title_translated": {"ca": "Pressupost", "es": "Presupuesto", "en": "Budget"},
                "notes_translated": {"ca": "Execució", "es": "Ejecución", "en": "Execution"},
                "theme": ["ECON"],
                "license_id": "CC-BY-4.0",
            }
            http.post("/api/3/action/package_create", json=package, headers=key).raise_for_status()
            cpu_before = cpu_seconds(pid)
            started = time.perf_counter()
            with path.open("rb") as file:
                answer = http.post(
                    "/api/3/action/resource_create",
                    data={"package_id": "pressupost-executat", "name": "Execució"},
                    files={"upload": ("pressupost.csv", file, "text/csv")},
                    headers=key,
                )
            seconds = time.perf_counter() - started
            cpu = cpu_seconds(pid) - cpu_before
            answer.raise_for_status()
            resource = answer.json()["result"]
    report = resource["datastore_load"]
    return Load(
        rows,
        seconds,
        cpu,
        report["seconds"],
        report["rows_loaded"],
        report["rows_rejected"],
        report["errors"][0] if report["errors"] else {},
    )


def measure_load(database_url: str | None, rows: int) -> float:
    """Rows per second of one `resource_create` of a generated CSV of `rows` rows (SQLite when `database_url` is
    None, else that database: give a URL whose schema may be written to)."""
    with tempfile.TemporaryDirectory(prefix="segell-load-") as scratch:
        path = Path(scratch) / "pressupost.csv"
        write_csv(path, rows)
        return load_once(path, rows, database_url, Path(scratch)).rows_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--postgres", default=os.environ.get("SEGELL_TEST_POSTGRES_URL"))
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="segell-load-") as scratch:
        path = Path(scratch) / "pressupost.csv"
        bad = write_csv(path, options.rows)
        size = path.stat().st_size
        print(f"CSV: {options.rows:,} rows ({bad} bad), {size / 2**20:.1f} MiB")
        floor = baseline(path)
        print(f"baseline (csv parse + sha256, in process): {floor:.2f} s, {options.rows / floor:,.0f} rows/s")
        results: dict[str, Load] = {}
        results["sqlite"] = load_once(path, options.rows, None, Path(scratch))
        if options.postgres:
            with postgres_schema(options.postgres) as url:
                results["postgres"] = load_once(path, options.rows, url, Path(scratch))
        print(
            f"{'database':<10} {'request s':>10} {'rows/s':>10} {'rows/CPU-s':>11} {'load s':>8} "
            f"{'loaded':>9} {'rejected':>8} {'x baseline':>10}"
        )
        for name, load in results.items():
            print(
                f"{name:<10} {load.seconds:>10.2f} {load.rows_per_s:>10,.0f} {load.rows_per_cpu_s:>11,.0f} "
                f"{load.datastore_seconds:>8.2f} {load.rows_loaded:>9,} {load.rows_rejected:>8} "
                f"{load.seconds / floor:>10.1f}"
            )
        print(f"first rejected row: {results['sqlite'].first_error}")
        figures = [f"load_rows_per_s={results['sqlite'].rows_per_s:.0f}"]
        figures.append(f"load_rows_per_cpu_s={results['sqlite'].rows_per_cpu_s:.0f}")
        if "postgres" in results:
            figures.append(f"load_rows_per_s_postgres={results['postgres'].rows_per_s:.0f}")
            figures.append(f"load_rows_per_cpu_s_postgres={results['postgres'].rows_per_cpu_s:.0f}")
        figures.append(f"baseline_rows_per_s={options.rows / floor:.0f}")
        print(" ".join(figures))


if __name__ == "__main__":
    main()
