"""Fixtures shared by the whole suite: a real Segell server on 127.0.0.1 over a real chain and database."""

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from segell.chain.anvil import find_anvil
from segell.chain.nodes import AnvilNotFound
from segell.services.connections import server_config
from segell.services.main import create_app
from segell.services.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    home: Path
    governance_key: str
    settings: Settings
    app: object

    def admit(self, code: str | None = None, name: str | None = None) -> str:
        """Admit an administration (a random code unless given) with the governance key; return its API key."""
        code = code or f"L{secrets.randbelow(10**8):08d}"
        with self.client(self.governance_key) as governance:
            response = governance.post("/v1/administrations", json={"code": code, "name": name or f"Ajuntament {code}"})
        assert response.status_code == 201, response.text
        return str(response.json()["api_key"]["key"])

    def client(self, api_key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


class ServerThread:
    """uvicorn serving the real app in a thread of the test process; stop() runs the app's shutdown."""

    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.server = uvicorn.Server(server_config(self.app, settings, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, timeout: float = 60) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the Segell server failed to start; see the log above")
            if time.monotonic() > deadline:
                raise TimeoutError("the Segell server did not start in time")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def make_settings(home: Path, chain: str = "embedded", **overrides: object) -> Settings:
    return Settings(
        home=home,
        chain=chain,
        master_key=secrets.token_hex(32),
        port=free_port(),
        **overrides,  # type: ignore[arg-type]
    )


def serve(settings: Settings) -> Iterator[RunningServer]:
    thread = ServerThread(settings)
    thread.start()
    try:
        yield RunningServer(
            url=settings.api_url,
            home=settings.home_dir,
            governance_key=settings.governance_key_path.read_text().strip(),
            settings=settings,
            app=thread.app,
        )
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def segell_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A Segell server on the embedded chain with a fresh SEGELL_HOME, shared by the tests of one module."""
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-home")))


@pytest.fixture(scope="module")
def anvil_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A Segell server managing its own anvil node, shared by the tests of one module."""
    try:
        find_anvil(None)
    except AnvilNotFound:
        pytest.skip("anvil not installed (make setup installs it from npm)")
    yield from serve(make_settings(tmp_path_factory.mktemp("segell-anvil"), chain="anvil"))


@pytest.fixture
def governance(segell_server: RunningServer) -> Iterator[httpx.Client]:
    with segell_server.client(segell_server.governance_key) as client:
        yield client


def postgres_url() -> str | None:
    return os.environ.get("SEGELL_TEST_POSTGRES_URL")
