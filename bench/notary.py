"""Notary benchmark: Merkle-batched anchoring against the naive one-transaction-per-document baseline.

Starts `segell up` on a fresh SEGELL_HOME (anvil by default), admits an administration, then measures:

- end to end, submitted through `POST /v1/documents/batch` -> anchored with receipts available, at each size;
- gas per document (from the anchoring transactions);
- the naive baseline: one `anchorRoot` transaction per document from the same account, on the same chain;
- offline verification of proof bundles (`sdk.verify_bundle_proof`, no network) and with a node (`sdk.verify_bundle`);
- `GET /v1/verify` latency under concurrent load, and single-document submissions per second.

The last line is for tracking: ``docs_per_s=<N> naive_tx_per_s=<M> ratio=<R> gas_per_doc=<G> verify_ms=<V>`` for the
100k run (or the largest run below it).

    .venv/bin/python bench/notary.py                       # 1k, 10k, 100k and 1M documents, anvil
    .venv/bin/python bench/notary.py --sizes 1000 10000    # a quicker run
    .venv/bin/python bench/notary.py --in-flight 1         # one batch request at a time
"""

import argparse
import gc
import os
import secrets
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from startup import segell_up  # noqa: E402  (the launcher bench/startup.py uses)

from segell.sdk.documents import BATCHES_IN_FLIGHT  # noqa: E402

BATCH_REQUEST = 10_000


def random_hashes(count: int) -> list[str]:
    return [secrets.token_hex(32) for _ in range(count)]


def wait_anchored(client: httpx.Client, receipt_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while client.get(f"/v1/documents/{receipt_id}").json()["status"] != "anchored":
        if time.monotonic() > deadline:
            raise TimeoutError(f"document {receipt_id} not anchored after {timeout} s")
        time.sleep(0.02)


def end_to_end(client: httpx.Client, count: int, in_flight: int = 1) -> tuple[float, list[str]]:
    """Seconds from the first request to the last receipt anchored; ids of the last receipt of each request.

    `in_flight` requests are sent at once (a publisher with several connections); 1 sends them one after another.
    """
    hashes = random_hashes(count)

    def send(start: int) -> str:
        answer = client.post("/v1/documents/batch", json={"hashes": hashes[start : start + BATCH_REQUEST]})
        answer.raise_for_status()
        return str(answer.json()["items"][-1]["id"])

    started = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        last_ids = list(pool.map(send, range(0, count, BATCH_REQUEST)))
    # Batches are anchored oldest first: one after another, the last receipt anchored means every earlier one is;
    # requests sent at once may be stored in any order, so each one's last receipt is waited for.
    for receipt_id in last_ids if in_flight > 1 else last_ids[-1:]:
        wait_anchored(client, receipt_id, timeout=max(60.0, count / 1000))
    return time.perf_counter() - started, last_ids


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far; NaN where /proc is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_figures(home: Path) -> tuple[int, int, int]:
    """Documents anchored, anchoring transactions and their gas, read from the service database."""
    with sqlite3.connect(home / "segell.db") as db:
        # A document is anchored when its batch is (the worker writes one row per batch, not one per document).
        anchored = db.execute(
            "SELECT count(*) FROM documents d JOIN batches b ON b.id = d.batch_id WHERE b.status = 'anchored'"
        ).fetchone()[0]
        batches, gas = db.execute("SELECT count(*), coalesce(sum(gas_used), 0) FROM batches").fetchone()
    return anchored, batches, gas


def naive_baseline(home: Path, master_key: str, node_socket: Path, notary: str, count: int) -> float:
    """Transactions per second anchoring one document per transaction, each sent once the previous is mined."""
    from eth_account import Account
    from web3 import Web3

    from segell.chain.ipc import IpcProvider
    from segell.chain.keys import open_private_key, parse_master_key
    from segell.chain.notary import NotaryClient

    # The administration's own account, the same node and the same contract as the batched run.
    with sqlite3.connect(home / "segell.db") as db:
        address, sealed = db.execute("SELECT address, sealed_key FROM chain_accounts LIMIT 1").fetchone()
    account = Account.from_key(open_private_key(sealed, parse_master_key(master_key), label=address))
    client = NotaryClient(Web3(IpcProvider(node_socket)), notary)
    started = time.perf_counter()
    for _ in range(count):
        client.anchor_root(account, secrets.token_bytes(32), 1)
    return count / (time.perf_counter() - started)


def latency_run(
    call: Callable[[httpx.Client], None], url: str, requests: int, threads: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(share: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            for _ in range(share):
                started = time.perf_counter()
                call(client)
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)

    # What this process holds so far is left out of its garbage collections: a full one would pause every client
    # thread for tens of milliseconds and count as the server's latency.
    gc.collect()
    gc.freeze()
    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(worker, [requests // threads] * threads))
        return time.perf_counter() - started, latencies
    finally:
        gc.unfreeze()


def report_latency(label: str, seconds: float, latencies: list[float], threads: int) -> None:
    p50, p99 = (percentile(latencies, q) * 1000 for q in (0.5, 0.99))
    print(f"{label}: {len(latencies) / seconds:.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms ({threads} clients)")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def admit(url: str, home: Path) -> str:
    governance = {"Authorization": f"Bearer {(home / 'governance.key').read_text().strip()}"}
    code = f"BENCH{secrets.token_hex(3).upper()}"
    answer = httpx.post(f"{url}/v1/administrations", json={"code": code, "name": "Benchmark"}, headers=governance)
    answer.raise_for_status()
    return str(answer.json()["api_key"]["key"])


def verification_figures(client: httpx.Client, rpc_url: str, samples: int) -> tuple[float, float]:
    """Milliseconds per bundle: the proof alone (no network), and the whole check against a node."""
    from segell.sdk import TrustedNotary, verify_bundle, verify_bundle_proof

    deployment = client.get("/.well-known/segell.json").json()
    trusted = [TrustedNotary(deployment["notary"], chain_id=deployment["chain_id"], registry=deployment["registry"])]
    hashes = random_hashes(samples)
    items = client.post("/v1/documents/batch", json={"hashes": hashes}).json()["items"]
    wait_anchored(client, items[-1]["id"], timeout=60)
    bundles = [client.get(f"/v1/documents/{item['id']}/bundle").json() for item in items]
    rounds = 10
    started = time.perf_counter()
    for _ in range(rounds):
        for bundle, document_hash in zip(bundles, hashes, strict=True):
            assert verify_bundle_proof(bundle, document_hash).valid
    proof_ms = (time.perf_counter() - started) * 1000 / (rounds * samples)
    with httpx.Client() as rpc:
        started = time.perf_counter()
        for bundle, document_hash in zip(bundles, hashes, strict=True):
            assert verify_bundle(bundle, document_hash, rpc_url, trusted_notaries=trusted, http=rpc).valid
        full_ms = (time.perf_counter() - started) * 1000 / samples
    return proof_ms, full_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chain", default="anvil", help="anvil (default) or embedded")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--naive", type=int, default=300, help="documents anchored one per transaction (baseline)")
    parser.add_argument("--requests", type=int, default=2_000, help="requests per latency run")
    parser.add_argument("--threads", type=int, default=16, help="concurrent clients in latency runs")
    parser.add_argument(
        "--in-flight",
        type=int,
        default=BATCHES_IN_FLIGHT,
        help=f"batch requests sent at once in the end-to-end runs (default {BATCHES_IN_FLIGHT}, as the SDK sends them)",
    )
    args = parser.parse_args()

    master_key = secrets.token_hex(32)
    with (
        tempfile.TemporaryDirectory(prefix="segell-bench-") as tmp,
        segell_up(args.chain, Path(tmp), master_key, timeout=120) as server,
    ):
        home, url, pid = Path(tmp), server.url, server.pid
        health = httpx.get(f"{url}/health").json()
        # The managed anvil is reached through its socket only; the embedded chain only in the API process.
        node_socket = home / "chain" / "anvil.ipc"
        node_url = str(node_socket) if health["chain"]["backend"] == "anvil" else f"{url}/rpc"
        key = admit(url, home)
        auth = {"Authorization": f"Bearer {key}"}
        print(
            f"chain {health['chain']['backend']} ({node_url}), {os.cpu_count()} cores, "
            f"{args.in_flight} batch request(s) in flight",
            flush=True,
        )
        # The baseline first, on the fresh chain: the batched runs then cannot slow it down.
        naive = (
            naive_baseline(home, master_key, node_socket, health["contracts"]["notary"], args.naive)
            if health["chain"]["backend"] == "anvil"
            else float("nan")
        )
        print(f"naive baseline: {naive:.1f} tx/s, one document per transaction ({args.naive} documents)", flush=True)
        runs = {}
        # Server CPU: what the API process (with its anchoring worker) spent, whatever else the machine runs.
        print(
            f"{'documents':>10} {'seconds':>9} {'docs/s':>10} {'batches':>8} {'gas/doc':>8} {'server cpu ms/10k':>18}",
            flush=True,
        )
        with httpx.Client(base_url=url, headers=auth, timeout=600) as client:
            for size in args.sizes:
                _, batches_before, gas_before = database_figures(home)
                cpu_before = cpu_seconds(pid)
                seconds, _ = end_to_end(client, size, args.in_flight)
                cpu_per_10k = (cpu_seconds(pid) - cpu_before) * 1000 * 10_000 / size
                _, batches_after, gas_after = database_figures(home)
                gas_per_doc = (gas_after - gas_before) / size
                runs[size] = (size / seconds, gas_per_doc)
                print(
                    f"{size:>10} {seconds:>9.2f} {size / seconds:>10.0f} {batches_after - batches_before:>8}"
                    f" {gas_per_doc:>8.1f} {cpu_per_10k:>18.0f}",
                    flush=True,
                )
            anchored, _, _ = database_figures(home)
            print(f"anchored in the database: {anchored} documents", flush=True)

            proof_ms, full_ms = verification_figures(client, f"{url}/rpc", samples=200)  # the node has no URL
            print(f"bundle verification: {proof_ms:.3f} ms offline (proof), {full_ms:.2f} ms with the node", flush=True)

            known = random_hashes(200)
            client.post("/v1/documents/batch", json={"hashes": known}).raise_for_status()

            def verify(c: httpx.Client) -> None:
                c.get("/v1/verify", params={"hash": secrets.choice(known)}).raise_for_status()

            report_latency("GET /v1/verify", *latency_run(verify, url, args.requests, args.threads), args.threads)

            def submit(c: httpx.Client) -> None:
                c.post("/v1/documents", json={"hash": secrets.token_hex(32)}, headers=auth).raise_for_status()

            cpu_before = cpu_seconds(pid)
            report_latency("POST /v1/documents", *latency_run(submit, url, args.requests, args.threads), args.threads)
            print(
                f"  server cpu {(cpu_seconds(pid) - cpu_before) * 1000 / args.requests:.2f} ms per request", flush=True
            )

    tracked = max((size for size in runs if size <= 100_000), default=max(runs))
    docs_per_s, gas_per_doc = runs[tracked]
    print(f"tracked run: {tracked} documents")
    print(
        f"docs_per_s={docs_per_s:.0f} naive_tx_per_s={naive:.1f} ratio={docs_per_s / naive:.0f} "
        f"gas_per_doc={runs.get(10_000, runs[tracked])[1]:.1f} verify_ms={proof_ms:.3f}"
    )


if __name__ == "__main__":
    main()
