"""The chain, read-only, at /rpc of the real API: stock Ethereum tools read Segell's contracts through it."""

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from web3 import HTTPProvider, Web3

from tests.helpers import RunningServer

CAST = Path(__file__).resolve().parents[2] / "node_modules/@foundry-rs/cast-linux-amd64/bin/cast"


def cast(*args: str) -> str:
    binary = str(CAST) if CAST.exists() else shutil.which("cast")
    if binary is None:
        pytest.skip("cast not installed (make setup installs it from npm)")
    return subprocess.run([binary, *args], check=True, capture_output=True, text=True, timeout=60).stdout.strip()


def test_cast_reads_the_registry_through_rpc(segell_server: RunningServer, governance: httpx.Client) -> None:
    admitted = governance.post("/v1/administrations", json={"code": "L03014001", "name": "Alacant"}).json()
    account = admitted["administration"]["accounts"][0]
    registry = governance.get("/health").json()["contracts"]["registry"]
    rpc = f"{segell_server.url}/rpc"

    assert cast("call", registry, "isActiveMember(address)(bool)", account, "--rpc-url", rpc) == "true"
    member_of = cast("call", registry, "administrationOf(address)(bytes32)", account, "--rpc-url", rpc)
    assert member_of == admitted["administration"]["registry_id"]
    receipt = json.loads(cast("receipt", admitted["administration"]["admission_tx"], "--json", "--rpc-url", rpc))
    assert receipt["status"] == "0x1"
    assert receipt["to"].lower() == registry.lower()


def test_web3_reads_admission_events_through_rpc(segell_server: RunningServer, governance: httpx.Client) -> None:
    admitted = governance.post("/v1/administrations", json={"code": "L03014002", "name": "Elx"}).json()
    w3 = Web3(HTTPProvider(f"{segell_server.url}/rpc"))
    registry_address = governance.get("/health").json()["contracts"]["registry"]
    topic = Web3.keccak(text="AdministrationAdmitted(bytes32,string)")
    logs = w3.eth.get_logs({"address": registry_address, "fromBlock": 0, "topics": [topic]})
    assert admitted["administration"]["registry_id"] in [log["topics"][1].to_0x_hex() for log in logs]


def test_rpc_refuses_writes_and_node_administration(segell_server: RunningServer) -> None:
    w3 = Web3(HTTPProvider(f"{segell_server.url}/rpc"))
    head = w3.eth.block_number
    for method, params in [
        ("eth_sendRawTransaction", ["0x02"]),
        ("eth_sendTransaction", [{"from": "0x" + "00" * 20}]),
        ("anvil_setBalance", ["0x" + "00" * 20, "0x1"]),
        ("evm_mine", []),
        ("debug_traceTransaction", ["0x" + "00" * 32]),
    ]:
        answer = httpx.post(
            f"{segell_server.url}/rpc", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        )
        assert answer.status_code == 200
        assert answer.json()["error"]["code"] == -32601, method
        assert method in answer.json()["error"]["message"]
    assert w3.eth.block_number == head


def test_rpc_answers_batches_and_notifications(segell_server: RunningServer) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_blockNumber", "params": []},
    ]
    answers = httpx.post(f"{segell_server.url}/rpc", json=batch).json()
    assert [a["id"] for a in answers] == [1, 2]
    assert int(answers[0]["result"], 16) == segell_server.app.state.runtime.node.chain_id  # type: ignore[attr-defined]
    notification = {"jsonrpc": "2.0", "method": "eth_blockNumber", "params": []}
    assert httpx.post(f"{segell_server.url}/rpc", json=notification).status_code == 204
    malformed = httpx.post(f"{segell_server.url}/rpc", content=b"{not json")
    assert malformed.json()["error"]["code"] == -32700
