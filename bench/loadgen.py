"""The benchmarks' load generator: an asyncio HTTP/1.1 client on uvloop over kept-alive connections.

Each request is written ahead as bytes (`http_request`) and each answer read by its `Content-Length`: a few tens of
microseconds of CPU per request, a tenth of httpx's, so that on a small machine the client leaves the cores to the
server it measures. `load` also measures the CPU time of the client (this process) and of the server's processes
per request, the figure that tells a quiet machine's ceiling on a shared one.

    run = load([url], [http_request("GET", url, "/health")] * 1000, connections=16, server_pids=[pid])
    print(run.rps, run.p99_ms, run.server_cpu_ms, run.client_cpu_ms)
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
    """One HTTP/1.1 request as bytes, ready to write on a kept-alive connection to `url`."""
    host = urlsplit(url).netloc
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(
    url: str, requests: Sequence[bytes], latencies: list[float], statuses: Counter[int], answers: list[bytes] | None
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
            body = await reader.readexactly(length)
            latencies.append(clock() - started)
            statuses[int(head[9:12])] += 1
            if answers is not None:
                answers.append(body)
    finally:
        writer.close()


@dataclass(frozen=True)
class LoadRun:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    client_cpu_ms: float  # per request
    server_cpu_ms: float  # per request, all server processes together
    statuses: Counter[int] = field(default_factory=Counter)
    answers: list[bytes] = field(default_factory=list)  # the bodies, when asked for (in no particular order)

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
    server_pids: Sequence[int],
    *,
    allow: Sequence[int] | None = None,
    keep_answers: bool = False,
) -> LoadRun:
    """Send `requests` over `connections` kept-alive connections spread round robin over `urls`.

    Answers other than 2xx raise `RuntimeError`, unless their status is in `allow`."""
    import uvloop

    shares = [list(requests[i::connections]) for i in range(connections)]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    answers: list[bytes] | None = [] if keep_answers else None

    async def run_all() -> None:
        await asyncio.gather(
            *(_connection(urls[i % len(urls)], share, latencies, statuses, answers) for i, share in enumerate(shares))
        )

    gc.collect()
    gc.freeze()  # the client's collections would otherwise pause every connection and count as the server's time
    server_before = sum(cpu_seconds(pid) for pid in server_pids)
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    uvloop.run(run_all())
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    server = sum(cpu_seconds(pid) for pid in server_pids) - server_before
    gc.unfreeze()
    refused = {s: n for s, n in statuses.items() if not 200 <= s < 300 and s not in (allow or ())}
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
        statuses,
        answers or [],
    )
