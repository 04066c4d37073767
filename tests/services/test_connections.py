"""Connection deadlines and the connection cap, against a real server over raw sockets on 127.0.0.1."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from segell.services.connections import MAX_HEAD_BYTES, RESERVED_FILE_DESCRIPTORS, connection_cap
from segell.services.settings import Settings
from tests.helpers import PLAIN_HTTP, RunningServer, free_port, make_settings, serve

SHORT = 1.0  # seconds: the head, body and keep-alive timeouts of the server these tests talk to
CAP = 20


@pytest.fixture(scope="module")
def hasty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("segell-hasty"),
        http_head_timeout=SHORT,
        http_body_timeout=SHORT,
        http_keep_alive_timeout=SHORT,
    )
    yield from serve(settings)


@pytest.fixture(scope="module")
def capped_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-capped"), max_connections=CAP))


def connect(server: RunningServer) -> socket.socket:
    return socket.create_connection((server.settings.host, server.settings.port), timeout=10)


def read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how many seconds that took."""
    started, received = time.monotonic(), b""
    while chunk := sock.recv(65536):
        received += chunk
    return received, time.monotonic() - started


def read_response(sock: socket.socket) -> bytes:
    """One response with a Content-Length, leaving the connection open."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.lower().split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head


def health_status(server: RunningServer) -> int:
    return httpx.get(f"{server.url}/health", timeout=10).status_code


def test_request_head_sent_in_part_answers_408_and_closes_after_head_timeout(hasty_server: RunningServer) -> None:
    with connect(hasty_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow")
        received, elapsed = read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b'"code": "request_timeout"' in received
    assert SHORT * 0.9 <= elapsed < SHORT + 2


def test_connection_sending_nothing_is_closed_after_head_timeout(hasty_server: RunningServer) -> None:
    with connect(hasty_server) as sock:
        received, elapsed = read_until_closed(sock)
    assert received == b""
    assert SHORT * 0.9 <= elapsed < SHORT + 2


def test_request_head_over_the_size_limit_answers_431_and_closes(hasty_server: RunningServer) -> None:
    padding = "a" * (MAX_HEAD_BYTES - 1024)
    under = httpx.get(f"{hasty_server.url}/health", headers={"X-Padding": padding}, timeout=10)
    assert under.status_code == 200

    header = b"X-Padding: " + b"a" * 1000 + b"\r\n"
    with connect(hasty_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for _ in range(MAX_HEAD_BYTES // len(header) + 2):
                sock.sendall(header)
        except ConnectionError:
            pass  # closed while sending: what was answered is still there to read
        received, elapsed = read_until_closed(sock)
    assert received.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b'"code": "request_head_too_large"' in received
    assert elapsed < SHORT * 0.9  # refused as it arrived, not at the head timeout


def test_idle_keep_alive_connection_is_closed_after_keep_alive_timeout(hasty_server: RunningServer) -> None:
    with connect(hasty_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = read_response(sock)
        received, elapsed = read_until_closed(sock)
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert received == b""
    assert elapsed < SHORT + 2


def test_kept_alive_connection_sending_only_blank_lines_is_closed_after_head_timeout(
    hasty_server: RunningServer,
) -> None:
    with connect(hasty_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        read_response(sock)
        started = time.monotonic()
        closed_after = None
        sock.settimeout(SHORT / 4)
        while time.monotonic() - started < SHORT + 3:
            try:
                sock.sendall(b"\r\n")  # resets uvicorn's keep-alive timer without starting a request
                if sock.recv(65536) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except ConnectionError:
                closed_after = time.monotonic() - started
                break
    assert closed_after is not None, "the server kept the connection open"
    assert SHORT * 0.9 <= closed_after < SHORT + 2


def test_request_body_times_out_on_silence_not_on_slowness(hasty_server: RunningServer) -> None:
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}'
    head = b"POST /rpc HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(body)
    with connect(hasty_server) as steady:
        steady.sendall(head)
        for start in range(0, len(body), 13):  # pauses shorter than the body timeout, longer than it in all
            time.sleep(SHORT / 2)
            steady.sendall(body[start : start + 13])
        assert read_response(steady).startswith(b"HTTP/1.1 200 OK")

    with connect(hasty_server) as stalled:
        stalled.sendall(head + body[:20])
        received, elapsed = read_until_closed(stalled)
    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"connection: close" in received.lower()
    assert SHORT * 0.9 <= elapsed < SHORT + 2


def test_connections_over_the_cap_answer_503_until_they_close(capped_server: RunningServer) -> None:
    with ExitStack() as held:
        # Idle connections up to the cap, this request's own included: still answered.
        idle = [held.enter_context(connect(capped_server)) for _ in range(CAP - 1)]
        time.sleep(0.2)
        assert health_status(capped_server) == 200

        over = [held.enter_context(connect(capped_server)) for _ in range(5)]
        time.sleep(0.2)
        response = httpx.get(f"{capped_server.url}/health", timeout=10)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "too_many_connections"
        assert response.headers["retry-after"] == "1"
        # Those over the cap are answered at once, before sending anything, and closed.
        refused, _ = read_until_closed(over[-1])
        assert refused.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert len(idle) == CAP - 1

    deadline = time.monotonic() + 5
    while health_status(capped_server) != 200:
        assert time.monotonic() < deadline, "/health still refused once the idle connections closed"
        time.sleep(0.1)


def test_connection_cap_stays_below_the_open_file_limit(tmp_path: Path) -> None:
    allowed = (20_000 - RESERVED_FILE_DESCRIPTORS) // 2
    assert connection_cap(Settings(home=tmp_path), 20_000) == allowed
    assert connection_cap(Settings(home=tmp_path, max_connections=50_000), 20_000) == allowed
    assert connection_cap(Settings(home=tmp_path, max_connections=300), 20_000) == 300


def test_segell_up_closes_a_stalled_request_head_after_the_configured_timeout(tmp_path: Path) -> None:
    port = free_port()
    environment = {"SEGELL_HOME": str(tmp_path / "home"), "SEGELL_HTTP_HEAD_TIMEOUT": str(SHORT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "segell.services.cli", "up", "--chain", "embedded", "--port", str(port)],
        env={**os.environ, **environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None and time.monotonic() < deadline, "segell up did not start serving"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2, verify=PLAIN_HTTP).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.25)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            received, elapsed = read_until_closed(sock)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert SHORT * 0.9 <= elapsed < SHORT + 2
