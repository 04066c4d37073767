"""`segell up` as a real process: kill -9 it, start it again, and everything is still there."""

import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import requests
from web3 import HTTPProvider, Web3

from segell.chain.anvil import find_anvil
from segell.chain.nodes import AnvilNotFound
from tests.conftest import free_port


class SegellProcess:
    def __init__(self, home: Path, chain: str, master_key: str) -> None:
        self.home, self.chain, self.master_key = home, chain, master_key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> dict:
        env = {
            **os.environ,
            "SEGELL_HOME": str(self.home),
            "SEGELL_MASTER_KEY": self.master_key,
        }
        command = [
            sys.executable,
            "-m",
            "segell.services.cli",
            "up",
            "--chain",
            self.chain,
            "--port",
            str(self.port),
        ]
        with open(self.home / f"segell-{self.port}.log", "ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.home / f"segell-{self.port}.log").read_text()
            try:
                response = httpx.get(f"{self.url}/health", timeout=2)
                if response.status_code == 200:
                    return response.json()
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError("segell up did not answer /health in time")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def governance(self) -> httpx.Client:
        key = (self.home / "governance.key").read_text().strip()
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _anvil_available() -> bool:
    try:
        find_anvil(None)
    except AnvilNotFound:
        return False
    return True


@pytest.mark.parametrize(
    "chain",
    [
        "embedded",
        pytest.param(
            "anvil",
            marks=[
                pytest.mark.anvil,
                pytest.mark.skipif(not _anvil_available(), reason="anvil not installed (make setup installs it)"),
            ],
        ),
    ],
)
def test_state_survives_kill_and_restart(tmp_path: Path, chain: str) -> None:
    segell = SegellProcess(tmp_path, chain, secrets.token_hex(32))
    health = segell.start()
    assert health["chain"]["backend"] == chain
    stack = ExitStack()
    try:
        with segell.governance() as governance:
            admitted = governance.post("/v1/administrations", json={"code": "L01080193", "name": "Barcelona"})
            assert admitted.status_code == 201, admitted.text
            key = admitted.json()["api_key"]["key"]
            tx = admitted.json()["administration"]["admission_tx"]
        rpc = Web3(HTTPProvider(f"{segell.url}/rpc", session=stack.enter_context(requests.Session())))
        receipt_before = rpc.eth.get_transaction_receipt(tx)
        head_before = rpc.eth.block_number
        block_before = rpc.eth.get_block(head_before)
        governance_key = (tmp_path / "governance.key").read_text()

        segell.kill()
        health_after = segell.start()

        assert health_after["contracts"] == health["contracts"]
        assert (tmp_path / "governance.key").read_text() == governance_key
        rpc = Web3(HTTPProvider(f"{segell.url}/rpc", session=stack.enter_context(requests.Session())))
        assert rpc.eth.block_number >= head_before
        assert rpc.eth.get_block(head_before)["hash"] == block_before["hash"]
        receipt_after = rpc.eth.get_transaction_receipt(tx)
        assert receipt_after["blockHash"] == receipt_before["blockHash"]
        assert receipt_after["logs"] == receipt_before["logs"]
        with httpx.Client(base_url=segell.url, headers={"Authorization": f"Bearer {key}"}) as client:
            me = client.get("/v1/me")
        assert me.status_code == 200
        assert me.json()["administration"]["code"] == "L01080193"
        with segell.governance() as governance:
            # The chain still knows the administration: admitting again is refused, suspending works.
            assert governance.post("/v1/administrations/L01080193/suspend").json()["status"] == "suspended"
    finally:
        stack.close()
        segell.terminate()
