"""The sandbox compiler's limits through a real server and the real solc: the size of the sources, the time one
compilation may take, a compiler that crashes, administrations taking turns at it, and a `solc` on PATH that is
not the pinned compiler."""

import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from segell.services.runtime import Runtime
from segell.services.sandboxes.compile_queue import CompileQueue, CompilerBusy
from segell.services.sandboxes.contracts_service import compiler
from segell.services.sandboxes.settings import SandboxSettings
from tests.helpers import RunningServer, make_settings, serve

MAX_SOURCE_BYTES = 6_000
CRASH_MESSAGE = "Internal compiler error: out of stack in the optimiser"
# What the pinned compiler says to `--version`: a fake compiler must say it too before it is ever run.
PINNED_VERSION_ANSWER = "solc, the solidity compiler commandline interface\nVersion: 0.8.37+commit.f401782d.Linux.g++"


def counter_source(tag: str) -> str:
    """A contract importing OpenZeppelin, so that each compilation takes the compiler a second or more; ``tag``
    makes the input new, so that no cache answers it."""
    return f"""// SPDX-License-Identifier: MIT
// {tag}
pragma solidity ^0.8.20;

import {{Ownable}} from "@openzeppelin/contracts/access/Ownable.sol";

contract Counter is Ownable {{
    uint256 public count;
    constructor() Ownable(msg.sender) {{}}
    function add(uint256 amount) external onlyOwner {{ count += amount; }}
}}
"""


class Owner:
    """An administration with an embedded sandbox of its own."""

    def __init__(self, server: RunningServer) -> None:
        self.code = f"L{secrets.randbelow(10**8):08d}"
        self.http = server.client(server.admit(code=self.code))
        self.http.timeout = httpx.Timeout(120)
        response = self.http.post("/v1/sandboxes", json={"name": "compiler", "backend": "embedded"})
        assert response.status_code == 201, response.text
        self.sandbox_id = response.json()["id"]

    def deploy(self, source: str) -> httpx.Response:
        return self.http.post(f"/v1/sandboxes/{self.sandbox_id}/contracts", json={"sources": {"Counter.sol": source}})

    def close(self) -> None:
        self.http.delete(f"/v1/sandboxes/{self.sandbox_id}")
        self.http.close()


@contextmanager
def owners(server: RunningServer, count: int) -> Iterator[list[Owner]]:
    made = [Owner(server) for _ in range(count)]
    yield made
    for owner in made:
        owner.close()


def solc_children() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "--standard-json" in child.cmdline():
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


@pytest.fixture(scope="module")
def solc_on_path_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """For the whole module, the first `solc` on PATH is a wrapper like solc-select's, which fails without a
    download; it notes each run in the file yielded."""
    folder = tmp_path_factory.mktemp("path")
    runs = folder / "runs"
    wrapper = folder / "solc"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> "{runs}"\necho "No solc version set; run solc-select" >&2\nexit 1\n')
    wrapper.chmod(0o755)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
        yield runs


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, solc_on_path_runs: Path) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("compiler"), SandboxSettings(compile_max_source_bytes=MAX_SOURCE_BYTES, max_running=50)
    )
    yield from serve(settings)


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve(make_settings(tmp_path_factory.mktemp("compiler-slow"), SandboxSettings(compile_timeout=0.3)))


@pytest.fixture(scope="module")
def crashing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("compiler-crash")
    solc = home / "crashing-solc"
    solc.write_text(
        f"""#!/bin/sh
if [ "$1" = --version ]; then printf '{PINNED_VERSION_ANSWER}\\n'; exit 0; fi
cat > /dev/null
echo '{CRASH_MESSAGE}' >&2
exit 3
"""
    )
    solc.chmod(0o755)
    yield from serve(make_settings(home, SandboxSettings(solc_binary=solc)))


def test_compile_takes_administrations_in_turns_while_one_floods(server: RunningServer) -> None:
    with owners(server, 2) as (flooder, other):
        queue = compiler(server.app.state.runtime).queue  # type: ignore[attr-defined]
        finished: list[tuple[str, int]] = []
        flood_size = 6  # one compiling, four waiting (the most one administration may), one refused

        def deploy(owner: Owner, name: str) -> None:
            response = owner.deploy(counter_source(f"{name} {secrets.token_hex(8)}"))
            finished.append((name, response.status_code))

        flood = [threading.Thread(target=deploy, args=(flooder, "flooder")) for _ in range(flood_size)]
        for thread in flood:
            thread.start()
        deadline = time.monotonic() + 60
        while queue.waiting(flooder.code) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert queue.waiting(flooder.code) == 4
        deploy(other, "other")
        for thread in flood:
            thread.join()
        # The flooder's extra request was refused at once; the other administration came next after the
        # compilation that was running, not after the four the flooder had waiting.
        assert finished[0] == ("flooder", 503)
        assert finished[1:] == [("flooder", 201), ("other", 201)] + [("flooder", 201)] * 4


def test_compile_refuses_oversized_sources_before_compiling(server: RunningServer) -> None:
    cached_before = sorted((server.home / "solc-cache").glob("*.json"))
    with owners(server, 1) as (owner,):
        source = counter_source("x" * MAX_SOURCE_BYTES)
        response = owner.deploy(source)
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error["code"] == "sources_too_large"
        assert error["details"] == {"size_bytes": len(source.encode()), "limit_bytes": MAX_SOURCE_BYTES}
        assert f"at most {MAX_SOURCE_BYTES} bytes" in error["message"]
    assert sorted((server.home / "solc-cache").glob("*.json")) == cached_before


def test_compile_past_the_time_limit_is_stopped(slow_server: RunningServer) -> None:
    with owners(slow_server, 1) as (owner,):
        started = time.monotonic()
        response = owner.deploy(counter_source(secrets.token_hex(8)))
        assert time.monotonic() - started < 10
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "compilation_timeout"
        assert error["details"] == {"limit_seconds": 0.3}
        assert "within 0.3 seconds and was stopped" in error["message"]
        assert solc_children() == []


def test_compile_with_a_crashing_compiler_answers_422_with_its_message(crashing_server: RunningServer) -> None:
    with owners(crashing_server, 1) as (owner,):
        response = owner.deploy(counter_source(secrets.token_hex(8)))
        assert response.status_code == 422, response.text
        error: dict[str, Any] = response.json()["error"]
        assert error["code"] == "compiler_crashed"
        assert error["details"] == {"exit_status": 3, "message": CRASH_MESSAGE}
        assert f"(exit status 3): {CRASH_MESSAGE}" in error["message"]


def test_deploy_uses_the_pinned_compiler_whatever_solc_comes_first_on_path(
    server: RunningServer, solc_on_path_runs: Path
) -> None:
    with owners(server, 1) as (owner,):
        response = owner.deploy(counter_source(secrets.token_hex(8)))
        assert response.status_code == 201, response.text
    assert response.json()["compiler_version"] == "0.8.37"
    assert not solc_on_path_runs.exists(), "the solc on PATH was run"
    used = compiler(server.app.state.runtime).solc_binary  # type: ignore[attr-defined]
    assert used.name in {"solc", "solc-v0.8.37"} and used.parent != solc_on_path_runs.parent


def test_compiler_settings_build_one_compiler_per_process(server: RunningServer) -> None:
    runtime: Runtime = server.app.state.runtime  # type: ignore[attr-defined]
    first, again = compiler(runtime), compiler(runtime)
    assert first is again
    assert (first.max_source_bytes, first.timeout) == (MAX_SOURCE_BYTES, 30.0)
    assert (first.queue.max_waiting_per_owner, first.queue.max_wait) == (4, 60.0)


def test_compile_queue_refuses_a_turn_that_waits_past_its_limit() -> None:
    queue = CompileQueue(max_waiting_per_owner=1, max_wait=0.2)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with queue.turn("first"):
            holding.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(5)
    started = time.monotonic()
    with pytest.raises(CompilerBusy, match="waited 0.2 seconds for its turn") as refused:
        with queue.turn("second"):
            pass
    assert 0.2 <= time.monotonic() - started < 2
    assert refused.value.status_code == 503
    assert queue.waiting("second") == 0
    release.set()
    holder.join()
    with queue.turn("second"):
        assert queue.waiting("second") == 0
