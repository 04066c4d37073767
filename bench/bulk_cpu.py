"""The bulk path's CPU per 10,000 documents, in process: `POST /v1/documents/batch`'s body parsed, then its
documents stored as full batches in one transaction (`service.submit_many_json`, as the route calls it), on a fresh
PostgreSQL schema of its own.

For each request of 10,000 new hashes it reads this process's CPU time and that of the PostgreSQL backend serving
its connection (from /proc, so PostgreSQL must run on this machine), and prints the averages over `--rounds`
requests after two to warm up: the API's part without HTTP, and the database's part alone (no other connection
counted). It also prints the write-ahead log the server wrote meanwhile (`pg_current_wal_lsn` around each request:
the whole server's, so other databases' writes are counted too: the median request's is printed, which on a server
that others write to only now and then is the request's own, and does not depend on the machine's load as CPU time
does). Run it on the code before and after a change, alternating, to
compare them on a shared machine (`PYTHONPATH` names the tree whose `segell` is measured):

    PYTHONPATH=. .venv/bin/python bench/bulk_cpu.py --rounds 10
    PYTHONPATH=/tmp/pbase .venv/bin/python bench/bulk_cpu.py --rounds 10   # an older tree, /tmp/pbase/segell
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from segell.services import db
from segell.services.notary import service
from segell.services.notary.schemas import BatchRequest

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REQUEST = 10_000
WARM_UP = 2
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=os.environ.get("SEGELL_TEST_POSTGRES_URL", POSTGRES_URL))
    parser.add_argument("--rounds", type=int, default=10, help="requests of 10,000 hashes measured")
    args = parser.parse_args()
    admin = create_engine(args.postgres)
    schema = f"segell_bench_bulk_cpu_{secrets.token_hex(4)}"
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        url = make_url(args.postgres).update_query_dict({"options": f"-csearch_path={schema}"})
        engine = db.create_db_engine(url.render_as_string(hide_password=False))
        db.migrate(engine)
        registry_id = "0x" + secrets.token_hex(32)
        with engine.begin() as connection:
            administration_id = connection.execute(
                text(
                    "INSERT INTO administrations (code, registry_id, name, status, admitted_at, language)"
                    " VALUES ('BULK', :registry_id, 'Bulk', 'active', now(), 'ca') RETURNING id"
                ),
                {"registry_id": registry_id},
            ).scalar_one()
        sessions = db.session_factory(engine)
        batching = service.Batching(size=REQUEST, registry_id=registry_id)
        api = parsing = database = 0.0
        wal: list[int] = []
        for round_ in range(WARM_UP + args.rounds):
            body = json.dumps({"hashes": [secrets.token_hex(32) for _ in range(REQUEST)]}).encode()
            with engine.connect() as connection:
                wal_before = connection.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
            with db.transaction(sessions) as session:
                backend = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
                backend_before, before = cpu_seconds(backend), time.process_time()
                request = BatchRequest.model_validate_json(body)
                parsed = time.process_time()
                answer = service.submit_many_json(
                    session, administration_id, request.hashes, kind=None, salted=False, batching=batching
                )
            spent, backend_spent = time.process_time() - before, cpu_seconds(backend) - backend_before
            with engine.connect() as connection:
                written = connection.execute(
                    text("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), :before)"), {"before": wal_before}
                ).scalar_one()
            encoded = answer.encode() if isinstance(answer, str) else answer  # text before the arrays
            if encoded.count(b'{"id":"') != REQUEST:
                raise RuntimeError("an answer without one receipt per hash")
            if round_ >= WARM_UP:
                api, parsing, database = api + spent, parsing + parsed - before, database + backend_spent
                wal.append(int(written))
        per_request = 1000 / args.rounds
        print(
            f"CPU per 10,000 documents: API {api * per_request:.0f} ms (parsing the body {parsing * per_request:.0f}"
            f" ms), PostgreSQL {database * per_request:.0f} ms; WAL {statistics.median(wal) / 2**10:,.0f} KiB"
            f" ({args.rounds} requests, load average {os.getloadavg()[0]:.1f})"
        )
        engine.dispose()
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
