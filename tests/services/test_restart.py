"""`segell up` as a real process: kill -9 it, start it again, and everything is still there."""

import secrets
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import requests
from web3 import HTTPProvider, Web3

from segell.chain.anvil import find_anvil
from segell.chain.nodes import AnvilNotFound
from tests.helpers import SegellProcess

# Each test starts `segell up` as a process, kills it and starts it again.
pytestmark = pytest.mark.slow


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
