"""A participatory budget at Barcelona's scale: 50,000 voters, 237 projects, 103,297 supports (choices on ballots).

Run from the repository root::

    .venv/bin/python bench/participation.py [--voters 50000] [--connections 32] [--postgres [URL]]
    .venv/bin/python bench/participation.py --postgres --chain anvil --workers 2

Starts `segell up` (embedded chain; SQLite, or PostgreSQL with `--postgres`, in a schema of its own) on a fresh
SEGELL_HOME with a master key of its own, opens a budget of 237 projects in 10 districts (Barcelona's rules: at
least 2 projects in each district chosen, at most 2 districts), computes the census ids of the voters' phone numbers
through the API and uploads them, and gives each voter the citizen token their login would: the server's own
signing key and claims (`citizen_auth.tokens.TokenSigner`, the code a login issues its token with), the key opened
once for all of them. Then:

- **casting**: every voter casts one ballot through the API (`POST .../ballots`), from `--connections` kept-alive
  connections of the benchmarks' asyncio client (`bench/http_load.py`): 2 projects of one district each, 3,297 of
  them also a city-wide project: 103,297 supports in all;
- **close**: `POST .../close` (ballots published as open data, root and result notarised) until both receipts are
  anchored on chain;
- **recount**: `client.participation.verify_tally` (downloads ballots.json and result.json, recomputes every
  commitment, the root and the tally, checks both bundles on chain);
- **inclusion**: a voter's proof checked offline (`verify_ballot_inclusion`), averaged over 1,000 receipts.

Baseline, side by side: a `GET` of a proposal that does not exist (routed, one query, a 404 in JSON: the
server's floor for a request) from the same connections, and the
commitments and root computed in this process (the floor of close and recount). Casting and the baseline print the
CPU time per request of the server's processes and of the client: on a shared machine they tell the rate a quiet one
reaches. The last line:
``ballots_per_s=<N> close_s=<N> recount_s=<N> inclusion_ms=<N>``.
"""

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # this checkout's segell, as the server it starts
from http_load import LoadRun, http_request, load, process_tree  # noqa: E402
from scale import POSTGRES_URL, postgres_schema  # noqa: E402
from startup import ROOT, free_port, stop, wait_for_health  # noqa: E402

from segell.sdk import Client, ballot_commitment, ballots_root, verify_ballot_inclusion  # noqa: E402
from segell.services.citizen_auth import tokens  # noqa: E402
from segell.services.citizen_auth.keyring import Keyring  # noqa: E402
from segell.services.db import create_db_engine, session_factory, transaction  # noqa: E402

PROJECTS, DISTRICTS, SUPPORTS = 237, 10, 103_297
PREFIX = "/v1/participation"


def texts(text: str) -> dict[str, str]:
    return {"ca": text, "es": text, "en": text}


def projects() -> list[dict]:
    """227 projects in 10 districts and 10 city-wide ones, 237 in all."""
    made = []
    for number in range(PROJECTS - 10):
        district = f"D{number % DISTRICTS:02d}"
        made.append({"id": f"P{number:03d}", "title": texts(f"Projecte {number}"), "cost": 50_000 + number * 997,
                     "district": district})  # fmt: skip
    made += [{"id": f"C{n:02d}", "title": texts(f"Ciutat {n}"), "cost": 400_000, "district": None} for n in range(10)]
    return made


def ballots(voters: int) -> list[list[str]]:
    """Two projects of one district each; the first SUPPORTS - 2*voters also a city-wide one (103,297 at 50,000)."""
    by_district: dict[str, list[str]] = {}
    for project in projects():
        if project["district"]:
            by_district.setdefault(project["district"], []).append(project["id"])
    districts = sorted(by_district)
    extra = max(0, min(voters, SUPPORTS - 2 * voters)) if voters == 50_000 else voters // 15
    chosen = []
    for n in range(voters):
        ids = by_district[districts[n % DISTRICTS]]
        pair = [ids[n % len(ids)], ids[(n // DISTRICTS + 1) % len(ids)]]
        if pair[0] == pair[1]:
            pair[1] = ids[(n + 1) % len(ids)]
        chosen.append(pair + ([f"C{n % 10:02d}"] if n < extra else []))
    return chosen


def issue_tokens(database_url: str, master_key: str, url: str, code: str, citizen_ids: list[str]) -> list[str]:
    """The token a login of each citizen with the administration gets (`tokens.TokenSigner.issue`, as the login's
    `tokens.issue`), with the server's signing key, opened once for all of them."""
    keyring = Keyring(bytes.fromhex(master_key))
    engine = create_db_engine(database_url)
    now = datetime.now(UTC)
    try:
        with transaction(session_factory(engine)) as session:
            signer = tokens.signer(session, keyring, now)
    finally:
        engine.dispose()
    ttl = timedelta(hours=2)
    return [
        signer.issue(issuer=url, audience=code, citizen_id=citizen, amr=["sms", "otp"], ttl=ttl, now=now).token
        for citizen in citizen_ids
    ]


def wait_anchored(admin: httpx.Client, receipt_id: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while admin.get(f"/v1/documents/{receipt_id}").json()["status"] == "pending":
        if time.monotonic() > deadline:
            raise TimeoutError(f"{receipt_id} not anchored in {timeout} s")
        time.sleep(0.1)


@contextlib.contextmanager
def segell_up(
    home: Path, database_url: str | None, master_key: str, chain: str, workers: int
) -> Iterator[tuple[str, list[int]]]:
    """`segell up` with `master_key` (to issue citizen tokens as its logins do): its URL and its processes' ids."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {name: value for name, value in os.environ.items() if not name.startswith("SEGELL_")}
    env.update(SEGELL_HOME=str(home), SEGELL_MASTER_KEY=master_key)
    if database_url:
        env["SEGELL_DATABASE_URL"] = database_url
    command = [sys.executable, "-m", "segell.services.cli", "up", "--chain", chain, "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    log_path = home.parent / f"segell-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            wait_for_health(process, url, 180, log_path)
            yield url, process_tree(process.pid)
        finally:
            stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voters", type=int, default=50_000)
    parser.add_argument("--connections", type=int, default=32, help="kept-alive connections casting ballots")
    parser.add_argument(
        "--postgres", nargs="?", const=POSTGRES_URL, default=None, help=f"PostgreSQL (default URL {POSTGRES_URL})"
    )
    parser.add_argument("--chain", default="embedded", help="embedded (default) or anvil")
    parser.add_argument("--workers", type=int, default=1, help="API processes (above 1: --postgres, --chain anvil)")
    args = parser.parse_args()
    master_key = secrets.token_hex(32)
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}", flush=True)
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(TemporaryDirectory(prefix="segell-participation-"))
        home = Path(scratch) / "home"
        home.mkdir()
        postgres = stack.enter_context(postgres_schema(args.postgres)) if args.postgres else None
        database_url = postgres or f"sqlite:///{home}/segell.db"
        url, pids = stack.enter_context(segell_up(home, postgres, master_key, args.chain, args.workers))
        print(f"segell up: {args.workers} API process(es), {'PostgreSQL' if postgres else 'SQLite'}, {args.chain}")
        run(url, pids, home, database_url, master_key, args.voters, args.connections)


def report(label: str, run: LoadRun) -> str:
    return (
        f"{label}: {run.requests:,} in {run.seconds:.1f} s, {run.rps:,.0f}/s, p50 {run.p50_ms:.1f} ms, "
        f"p99 {run.p99_ms:.1f} ms; CPU per request: server {run.server_cpu_ms:.2f} ms, "
        f"client {run.client_cpu_ms:.3f} ms"
    )


def run(
    url: str, pids: list[int], home: Path, database_url: str, master_key: str, voters: int, connections: int
) -> None:
    governance = (home / "governance.key").read_text().strip()
    code = "L08019030"
    with httpx.Client(base_url=url, timeout=600, headers={"Authorization": f"Bearer {governance}"}) as gov:
        admitted = gov.post("/v1/administrations", json={"code": code, "name": "Ajuntament de Barcelona"})
        key = admitted.json()["api_key"]["key"]
    admin = httpx.Client(base_url=url, timeout=600, headers={"Authorization": f"Bearer {key}"})
    body = {
        "type": "budget", "title": texts("Pressupost participatiu 2025"), "description": texts("30 milions d'euros."),
        "projects": projects(), "available_budget": 30_000_000,
        "rules": {"min_projects": 2, "max_projects": 5, "min_projects_per_district": 2, "max_districts": 2},
    }  # fmt: skip
    process_id = admin.post(f"{PREFIX}/processes", json=body).json()["id"]
    phones = [f"+3460{n:07d}" for n in range(voters)]
    started = time.perf_counter()
    census: list[str] = []
    for start in range(0, voters, 10_000):
        census += admin.post(f"{PREFIX}/census/citizen-ids", json={"phones": phones[start : start + 10_000]}).json()[
            "citizen_ids"
        ]
    uploaded = admin.post(f"{PREFIX}/processes/{process_id}/census", json={"citizen_ids": census}).json()
    print(f"process {process_id}: {len(body['projects'])} projects, census {uploaded['census_size']} "
          f"in {time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
    started = time.perf_counter()
    citizen_tokens = issue_tokens(database_url, master_key, url, code, census)
    print(f"{voters} citizen tokens issued in {time.perf_counter() - started:.1f} s", flush=True)

    # The floor of a request: routed, one query in a transaction, answered (404) in JSON.
    missing = http_request("GET", url, f"{PREFIX}/proposals/prp_{'0' * 24}")
    floor = load([url], [missing] * min(voters, 10_000), connections, pids, allow=[404])
    print(report("baseline GET of a proposal that does not exist (404)", floor), flush=True)
    choices = ballots(voters)
    path = f"{PREFIX}/processes/{process_id}/ballots"
    requests = [
        http_request(
            "POST", url, path, body=json.dumps({"choices": c}).encode(), headers=[f"Authorization: Bearer {token}"]
        )
        for c, token in zip(choices, citizen_tokens, strict=True)
    ]
    cast = load([url], requests, connections, pids)
    assert cast.statuses == {201: voters}, cast.statuses
    supports = sum(map(len, choices))
    print(report(f"cast {voters:,} ballots ({supports:,} supports)", cast), flush=True)
    ballots_per_s = cast.rps

    started = time.perf_counter()
    closed = admin.post(f"{PREFIX}/processes/{process_id}/close")
    assert closed.status_code == 200, closed.text
    published_s = time.perf_counter() - started
    tally = closed.json()["tally"]
    wait_anchored(admin, tally["ballots_receipt"]["id"])
    wait_anchored(admin, tally["result_receipt"]["id"])
    close_s = time.perf_counter() - started
    print(f"close: published in {published_s:.1f} s, root and result anchored at {close_s:.1f} s", flush=True)

    with Client(url) as anyone:
        trusted = [anyone.deployment().trusted_notary]
        started = time.perf_counter()
        check = anyone.participation.verify_tally(process_id, trusted_notaries=trusted)
        recount_s = time.perf_counter() - started
        assert check.valid, check.reason
        print(f"recount: {check.reason} in {recount_s:.2f} s", flush=True)
        ballots_file = httpx.get(tally["ballots_url"]).content
        published = json.loads(ballots_file)
        assert sum(len(b["choices"]) for b in published) == supports
        started = time.perf_counter()
        for ballot in published:
            assert ballot_commitment(ballot["pseudonym"], ballot["choices"], ballot["nonce"]) == ballot["commitment"]
        floor_root = ballots_root(b["commitment"] for b in published)
        floor_s = time.perf_counter() - started
        assert floor_root == tally["ballots_root"]
        print(f"baseline: commitments and root of {len(published)} ballots in this process: {floor_s:.2f} s")
        sample = published[:: max(1, len(published) // 1000)][:1000]
        proofs = [anyone.participation.inclusion(process_id, b["commitment"]) for b in sample]
    started = time.perf_counter()
    for proof in proofs:
        assert verify_ballot_inclusion(proof.commitment, proof.proof, tally["ballots_root"])
    inclusion_ms = (time.perf_counter() - started) * 1000 / len(proofs)
    print(f"inclusion: {len(proofs)} receipts checked offline, {inclusion_ms:.3f} ms each", flush=True)
    admin.close()
    figures = f"ballots_per_s={ballots_per_s:.0f} close_s={close_s:.1f} recount_s={recount_s:.2f}"
    print(f"{figures} inclusion_ms={inclusion_ms:.3f}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
