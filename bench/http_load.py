"""The benchmarks' HTTP load generator: an asyncio HTTP/1.1 client on uvloop over kept-alive connections, each
request written ahead as bytes and the answer read by its `Content-Length`: a few tens of microseconds of CPU per
request, a tenth of httpx's, so that on a machine of two cores the client takes as little as it can from the
server it measures. `load` reports the client's CPU time per request and the server processes' too.

    requests = [http_request("POST", url, "/v1/documents", body=b'{"hash": "..."}', headers=auth)]
    run = load([url], requests, connections=16, api_pids=[server_pid])
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import resource
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (the API processes `segell up --workers` forks), anvil left out."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                names[int(entry.name)] = stat[stat.index("(") + 1 : stat.rindex(")")]
                children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, waiting = [], [pid]
    while waiting:
        current = waiting.pop()
        if names.get(current, "") != "anvil":
            found.append(current)
        waiting.extend(children.get(current, []))
    return found


def http_request(method: str, url: str, path: str, *, body: bytes = b"", headers: Sequence[str] = ()) -> bytes:
    host = urlsplit(url).netloc
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(
    url: str,
    requests: Sequence[bytes],
    latencies: list[float],
    statuses: Counter[int],
    bodies: list[bytes] | None,
) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, limit=2**20)
    clock = time.perf_counter
    try:
        for request in requests:
            started = clock()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            at = head.lower().find(b"\r\ncontent-length:")
            if at < 0:
                raise RuntimeError(f"an answer without Content-Length: {head[:200]!r}")
            length = int(head[at + 17 : head.index(b"\r\n", at + 2)])
            answer = await reader.readexactly(length)
            latencies.append(clock() - started)
            if bodies is not None:
                bodies.append(answer)
            statuses[int(head[9:12])] += 1
    finally:
        writer.close()


@dataclass(frozen=True)
class LoadRun:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    client_cpu_ms: float  # per request
    server_cpu_ms: float  # per request, all API processes together
    bodies: list[bytes] = field(default_factory=list)  # the answers' bodies, with `keep_bodies`
    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def load(
    urls: Sequence[str],
    requests: Sequence[bytes],
    connections: int,
    api_pids: Sequence[int],
    *,
    keep_bodies: bool = False,
    allow: Sequence[int] = (),
) -> LoadRun:
    """Send `requests` over `connections` kept-alive connections spread round robin over `urls`; every answer
    must be 2xx or have a status in `allow`. `keep_bodies`: keep the answers' bodies (in the order they arrived)."""
    import uvloop

    shares = [list(requests[i::connections]) for i in range(connections)]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    bodies: list[bytes] | None = [] if keep_bodies else None

    async def run_all() -> None:
        await asyncio.gather(
            *(_connection(urls[i % len(urls)], share, latencies, statuses, bodies) for i, share in enumerate(shares))
        )

    gc.collect()
    gc.freeze()  # the client's collections would otherwise pause every connection and count as the server's time
    server_before = sum(cpu_seconds(pid) for pid in api_pids)
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    uvloop.run(run_all())
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    server = sum(cpu_seconds(pid) for pid in api_pids) - server_before
    gc.unfreeze()
    refused = {status: count for status, count in statuses.items() if not 200 <= status < 300 and status not in allow}
    if refused:
        raise RuntimeError(f"answers other than 2xx: {refused}")
    client = usage.ru_utime - usage_before.ru_utime + usage.ru_stime - usage_before.ru_stime
    count = len(latencies)
    return LoadRun(
        count,
        seconds,
        percentile(latencies, 0.5) * 1000,
        percentile(latencies, 0.99) * 1000,
        client * 1000 / count,
        server * 1000 / count,
        bodies or [],
        statuses,
    )
