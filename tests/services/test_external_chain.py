"""`--chain URL` against a node Segell does not manage: an anvil started on its own with `--block-time 2`.

Blocks come every 2 seconds, as on a QBFT network, and a receipt counts as final only after the configured
confirmations. The proof-of-authority case runs through a relay in front of the same anvil that gives its blocks
a QBFT extraData, as Besu serves them: no Besu can run on this machine (docs/deploy.md).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3
from web3.exceptions import ExtraDataLengthError

from segell.chain.anvil import find_anvil
from segell.chain.nodes import AnvilNotFound, start_node
from segell.chain.transactions import ReceiptNotFinal, send_transaction, wait_for_confirmations
from segell.sdk import Client, TrustedNotary, verify_bundle
from segell.sdk.blocks import QbftExtraData, encode_qbft_extra_data
from tests.helpers import PLAIN_HTTP, RunningServer, free_port, make_settings, runtime_of, serve

BLOCK_TIME_S = 2
# anvil's first development key (mnemonic "test test ... junk"): public, funded by anvil itself.
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
QBFT_EXTRA = encode_qbft_extra_data(QbftExtraData(bytes(32), tuple(bytes([n]) * 20 for n in range(1, 5))))


@pytest.fixture(scope="module")
def block_time_anvil() -> Iterator[str]:
    """An anvil started on its own, as an operator would, mining a block every 2 seconds; its URL."""
    try:
        binary = find_anvil(None)
    except AnvilNotFound:
        pytest.skip("anvil not installed (make setup installs it from npm)")
    port = free_port()
    command = [str(binary), "--block-time", str(BLOCK_TIME_S), "--port", str(port), "--host", "127.0.0.1"]
    process = subprocess.Popen([*command, "--hardfork", "cancun"], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                chain_id = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
                httpx.post(url, json=chain_id, timeout=1, verify=PLAIN_HTTP)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def server(block_time_anvil: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = make_settings(tmp_path_factory.mktemp("external"), chain=block_time_anvil, chain_confirmations=1)
    yield from serve(settings)


def test_rpc_node_takes_its_confirmations_and_no_poa_middleware(block_time_anvil: str, tmp_path: Path) -> None:
    with start_node(block_time_anvil, state_dir=tmp_path, confirmations=2) as node:
        assert (node.backend, node.confirmations, node.proof_of_authority) == ("rpc", 2, False)


def test_wait_for_confirmations_returns_after_following_blocks(block_time_anvil: str, tmp_path: Path) -> None:
    with start_node(block_time_anvil, state_dir=tmp_path) as node:
        account = Account.from_key(DEV_KEY)
        receipt = send_transaction(node.w3, account, {"to": Account.create().address, "value": 1})

        final = wait_for_confirmations(node.w3, receipt["transactionHash"], 1, poll_seconds=0.1)

        assert final["transactionHash"] == receipt["transactionHash"]
        assert node.w3.eth.block_number >= final["blockNumber"] + 1


def test_wait_for_confirmations_gives_up_with_a_clear_error(block_time_anvil: str, tmp_path: Path) -> None:
    with start_node(block_time_anvil, state_dir=tmp_path) as node:
        with pytest.raises(ReceiptNotFinal, match="has not had 1 confirmations"):
            wait_for_confirmations(node.w3, secrets.token_bytes(32), 1, timeout=0.3, poll_seconds=0.1)


def test_document_is_anchored_with_confirmations_and_verifies_on_the_node(
    server: RunningServer, block_time_anvil: str, tmp_path: Path
) -> None:
    assert runtime_of(server).node.confirmations == 1
    document = tmp_path / "acta.txt"
    document.write_text(f"Acta {secrets.token_hex(8)}\n")
    with Client(server.url, server.admit(), timeout=30) as client:
        receipt = client.documents.notarise(document, kind="minutes")
        anchored = client.documents.wait_until_anchored(receipt.id, timeout=60)
        bundle = client.documents.bundle(anchored.id)
    with Client(server.url) as anonymous:
        trusted: list[TrustedNotary] = [anonymous.deployment().trusted_notary]

    result = verify_bundle(bundle, document, block_time_anvil, trusted_notaries=trusted)

    assert result.status == "authentic", result.reason


class _QbftRelay(BaseHTTPRequestHandler):
    """Relays JSON-RPC to anvil and gives every block a QBFT extraData, as a Besu validator's blocks have."""

    upstream = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        answer = httpx.post(self.upstream, content=body, headers={"Content-Type": "application/json"}).json()
        for entry in answer if isinstance(answer, list) else [answer]:
            result = entry.get("result")
            if isinstance(result, dict) and "extraData" in result:
                result["extraData"] = "0x" + QBFT_EXTRA.hex()
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def qbft_relay(block_time_anvil: str) -> Iterator[str]:
    handler = type("Relay", (_QbftRelay,), {"upstream": block_time_anvil})
    relay = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=relay.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{relay.server_address[1]}"
    finally:
        relay.shutdown()
        relay.server_close()


def test_rpc_node_reads_qbft_blocks_through_the_poa_middleware(qbft_relay: str, tmp_path: Path) -> None:
    with pytest.raises(ExtraDataLengthError):
        Web3(HTTPProvider(qbft_relay)).eth.get_block("latest")  # what web3 does unconfigured

    with start_node(qbft_relay, state_dir=tmp_path) as node:
        block = node.w3.eth.get_block("latest")

    assert node.proof_of_authority is True
    assert bytes(block["proofOfAuthorityData"]) == QBFT_EXTRA
