"""Interoperability benchmark: exchanges between two administrations end to end, and evidence verification.

Starts `segell up` on a fresh SEGELL_HOME (anvil by default), admits a provider and a consumer, issues the
provider's seal certificate, registers a built-in RESIDENCE service with 10,000 uploaded records and authorises the
consumer, then measures:

- the baseline: exchanges sent one after another over one connection;
- end to end: `--exchanges` exchanges (`POST /v1/interop/requests`: the checks, the provider's sealed answer, both
  hashes notarised, the access logged) over `--connections` kept-alive connections, timed until the last answer's
  receipt is anchored on chain (every earlier batch then is);
- a reference: the notary's single `POST /v1/documents` over the same connections, on the same machine at the same
  time (its quiet-machine figure is in docs/benchmarks.md), to read the exchanges' figure against the load.

The requests are sent by `bench/scale.py`'s load generator (`bench/http_load.py`: asyncio, requests written ahead
as bytes), which takes a tenth of the CPU httpx would: on two cores the client must not be what is measured. Each
run prints the server's CPU time per exchange (API and anchoring worker, not anvil) and the client's.
- offline verification of an evidence file (`interop.evidence.verify_evidence`: the seal, the certificate chain to
  the root, the request's hash, both bundles' Merkle proofs), over `--samples` rounds.

The last line is for tracking: ``exchanges_per_s=<N> evidence_verify_ms=<N>``.

    .venv/bin/python bench/interop.py
    .venv/bin/python bench/interop.py --exchanges 5000 --connections 32
"""

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_load import LoadRun, cpu_seconds, http_request, load  # noqa: E402  (bench/scale.py's load generator)
from startup import segell_up  # noqa: E402  (the launcher bench/startup.py uses)

from segell.services.interop.evidence import verify_evidence  # noqa: E402

LAW = "https://www.boe.es/eli/es/l/1985/04/02/7"
RECORDS = 10_000
SCHEMA = {
    "type": "object",
    "properties": {"municipality": {"type": "string"}, "since": {"type": "string"}},
    "required": ["municipality", "since"],
}


def national_id(index: int) -> str:
    return f"{index:08d}B"


def admit(url: str, home: Path, name: str) -> tuple[str, str]:
    governance = {"Authorization": f"Bearer {(home / 'governance.key').read_text().strip()}"}
    code = f"BENCH{secrets.token_hex(3).upper()}"
    answer = httpx.post(f"{url}/v1/administrations", json={"code": code, "name": name}, headers=governance)
    answer.raise_for_status()
    return code, str(answer.json()["api_key"]["key"])


def ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.method} {response.request.url}: {response.status_code} {response.text}")
    result: dict[str, Any] = response.json()
    return result


def set_up(provider: httpx.Client, consumer: httpx.Client, provider_code: str) -> None:
    seal = ok(provider.post("/v1/certificates", json={"profile": "seal"}))["serial"]
    service = ok(
        provider.post(
            "/v1/interop/services",
            json={
                "code": "RESIDENCE",
                "description": "Residence register",
                "response_schema": SCHEMA,
                "legal_bases": [LAW],
                "consent_required": False,
                "seal_certificate": seal,
            },
        )
    )
    for start in range(0, RECORDS, 5_000):
        records = [
            {"national_id": national_id(index), "data": {"municipality": "Salt", "since": "2021-06-15"}}
            for index in range(start, min(RECORDS, start + 5_000))
        ]
        ok(provider.put(f"/v1/interop/services/{service['id']}/records", json={"records": records}))
    asked = ok(
        consumer.post(
            "/v1/interop/authorisations",
            json={"provider": provider_code, "service": "RESIDENCE", "procedure_code": "PADRO", "justification": "x"},
        )
    )
    ok(provider.post(f"/v1/interop/authorisations/{asked['id']}/decision", json={"decision": "grant"}))


def exchange_body(provider_code: str, index: int) -> dict[str, Any]:
    return {
        "provider": provider_code,
        "service": "RESIDENCE",
        "subject": {"national_id": national_id(index % RECORDS)},
        "purpose": {"procedure_code": "PADRO", "case_id": f"B-{index}", "legal_basis": LAW},
        "officer": "Benchmark",
    }


def exchange(consumer: httpx.Client, provider_code: str, index: int) -> dict[str, Any]:
    return ok(consumer.post("/v1/interop/requests", json=exchange_body(provider_code, index)))


def wait_anchored(client: httpx.Client, receipt_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while ok(client.get(f"/v1/documents/{receipt_id}"))["status"] != "anchored":
        if time.monotonic() > deadline:
            raise TimeoutError(f"document {receipt_id} not anchored after {timeout} s")
        time.sleep(0.02)


@dataclass(frozen=True)
class Run:
    rate: float  # exchanges per second, from the first request to the last answer anchored
    server_cpu_ms: float  # per exchange, over the same time (API and anchoring worker, not anvil)
    client_cpu_ms: float  # per exchange, the load generator's
    p50_ms: float
    p99_ms: float


def run(
    url: str, pid: int, consumer_key: str, provider_key: str, provider_code: str, count: int, connections: int
) -> Run:
    """Exchanges over `connections` kept-alive connections, until the last answer's receipt is anchored."""
    auth = [f"Authorization: Bearer {consumer_key}"]
    requests = [
        http_request(
            "POST",
            url,
            "/v1/interop/requests",
            body=json.dumps(exchange_body(provider_code, index)).encode(),
            headers=auth,
        )
        for index in range(count)
    ]
    cpu, started = cpu_seconds(pid), time.perf_counter()
    sent = load([url], requests, connections, [pid], keep_bodies=True)
    # Exchanges answered together may be anchored in either order: the last one answered is waited for.
    last = max((json.loads(body) for body in sent.bodies), key=lambda item: item["answer"]["answered_at"])
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {provider_key}"}, timeout=120) as provider:
        wait_anchored(provider, last["answer_receipt_id"], timeout=max(60.0, count / 50))
    seconds = time.perf_counter() - started
    server_cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / count
    return Run(count / seconds, server_cpu_ms, sent.client_cpu_ms, sent.p50_ms, sent.p99_ms)


def notary_reference(url: str, pid: int, key: str, count: int, connections: int) -> LoadRun:
    """Single `POST /v1/documents` from the same load generator: the notary's figure on this machine now, to read
    the exchanges' against (docs/benchmarks.md has it on a quiet machine)."""
    auth = [f"Authorization: Bearer {key}"]
    requests = [
        http_request(
            "POST", url, "/v1/documents", body=json.dumps({"hash": secrets.token_hex(32)}).encode(), headers=auth
        )
        for _ in range(count)
    ]
    return load([url], requests, connections, [pid])


def evidence_figure(url: str, consumer_key: str, provider_code: str, samples: int) -> float:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {consumer_key}"}, timeout=120) as consumer:
        done = exchange(consumer, provider_code, 7)
        deadline = time.monotonic() + 120
        while (response := consumer.get(f"/v1/interop/requests/{done['id']}/evidence")).status_code == 409:
            if time.monotonic() > deadline:
                raise TimeoutError("the evidence file was not ready after 120 s")
            time.sleep(0.05)
        evidence = ok(response)
        root = x509.load_pem_x509_certificate(consumer.get("/v1/ca/root.pem").content)
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        result = verify_evidence(evidence, trusted_root=root)
        timings.append((time.perf_counter() - started) * 1000)
        assert result.valid, result.problems
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chain", default="anvil", help="anvil (default) or embedded")
    parser.add_argument("--exchanges", type=int, default=3_000, help="exchanges in the end-to-end run")
    parser.add_argument("--connections", type=int, default=16, help="kept-alive connections in the end-to-end run")
    parser.add_argument("--baseline", type=int, default=300, help="exchanges sent one after another (baseline)")
    parser.add_argument("--samples", type=int, default=200, help="evidence verifications timed")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="segell-bench-") as tmp,
        segell_up(args.chain, Path(tmp), secrets.token_hex(32), timeout=120) as server,
    ):
        home, url = Path(tmp), server.url
        provider_code, provider_key = admit(url, home, "Provider")
        _, consumer_key = admit(url, home, "Consumer")
        with (
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {provider_key}"}, timeout=120) as provider,
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {consumer_key}"}, timeout=120) as consumer,
        ):
            set_up(provider, consumer, provider_code)
        print(f"chain {args.chain}, {os.cpu_count()} cores, {RECORDS} records in the built-in register", flush=True)
        baseline = run(url, server.pid, consumer_key, provider_key, provider_code, args.baseline, 1)
        print(
            f"baseline, one connection, one exchange after another: {baseline.rate:.0f} exchanges/s, "
            f"server CPU {baseline.server_cpu_ms:.2f} ms per exchange, p50 {baseline.p50_ms:.1f} ms",
            flush=True,
        )
        done = run(url, server.pid, consumer_key, provider_key, provider_code, args.exchanges, args.connections)
        print(
            f"end to end, {args.connections} connections, {args.exchanges} exchanges: {done.rate:.0f} exchanges/s, "
            f"server CPU {done.server_cpu_ms:.2f} ms per exchange (API and anchoring worker; not anvil), "
            f"client CPU {done.client_cpu_ms:.2f} ms, p50 {done.p50_ms:.1f} ms, p99 {done.p99_ms:.1f} ms",
            flush=True,
        )
        reference = notary_reference(url, server.pid, consumer_key, args.exchanges, args.connections)
        print(
            f"reference, the notary's single POST /v1/documents, {args.connections} connections: "
            f"{reference.rps:.0f} req/s, server CPU {reference.server_cpu_ms:.2f} ms per request",
            flush=True,
        )
        verify_ms = evidence_figure(url, consumer_key, provider_code, args.samples)
        print(f"evidence verification offline (median of {args.samples}): {verify_ms:.2f} ms", flush=True)
    print(f"exchanges_per_s={done.rate:.0f} evidence_verify_ms={verify_ms:.2f}")


if __name__ == "__main__":
    main()
