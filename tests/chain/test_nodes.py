"""start_node: one way to get a connected Web3 whether the chain is embedded, anvil or any JSON-RPC URL."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from eth_account import Account

from segell.chain.anvil import AnvilNode, find_anvil
from segell.chain.embedded import EMBEDDED_CHAIN_ID
from segell.chain.nodes import AnvilNotFound, NodeError, NodeUnreachable, RpcNode, start_node
from segell.chain.transactions import send_transaction
from tests.helpers import free_port

try:
    find_anvil()
    HAVE_ANVIL = True
except AnvilNotFound:
    HAVE_ANVIL = False
ANVIL_REASON = "anvil not installed (make setup installs it from npm)"


class _BesuLikeNode(BaseHTTPRequestHandler):
    """Answers like a consortium node on chain 1337: no anvil_ or hardhat_ methods."""

    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if request["method"] == "eth_chainId":
            reply = {"jsonrpc": "2.0", "id": request["id"], "result": hex(1337)}
        else:
            reply = {
                "jsonrpc": "2.0",
                "id": request["id"],
                "error": {"code": -32601, "message": "Method not found"},
            }
        body = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def besu_like_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _BesuLikeNode)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_start_node_embedded(tmp_path: Path) -> None:
    account = Account.create()
    with start_node("embedded", state_dir=tmp_path, genesis_accounts={account.address.lower(): 10**18}) as node:
        assert (node.backend, node.rpc_url, node.chain_id, node.is_local_dev) == (
            "embedded",
            None,
            EMBEDDED_CHAIN_ID,
            True,
        )
        assert node.w3.eth.get_balance(account.address) == 10**18
        assert "embedded" in repr(node)


def test_start_node_rejects_an_unknown_chain(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="use embedded, anvil, auto, an http\\(s\\):// JSON-RPC URL .* IPC socket"):
        start_node("ganache", state_dir=tmp_path)


@pytest.mark.parametrize(
    ("accounts", "message"),
    [({"0x1234": 1}, "is not an address"), ({"0x" + "11" * 20: -1}, "non-negative int of wei")],
)
def test_start_node_rejects_bad_genesis_accounts(tmp_path: Path, accounts: dict[str, int], message: str) -> None:
    with pytest.raises(NodeError, match=message):
        start_node("embedded", state_dir=tmp_path, genesis_accounts=accounts)


def test_rpc_url_with_nothing_behind_it_fails_fast_with_advice(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(NodeUnreachable) as raised:
        start_node(url, state_dir=tmp_path)
    assert time.monotonic() - started < 5
    assert url in str(raised.value)
    assert "--rpc-http-enabled" in str(raised.value)


def test_ipc_socket_with_nothing_behind_it_says_so(tmp_path: Path) -> None:
    with pytest.raises(NodeUnreachable, match="no Ethereum node answers on the IPC socket .*nothing.ipc"):
        start_node(str(tmp_path / "nothing.ipc"), state_dir=tmp_path)


def test_rpc_chain_id_1337_alone_is_not_local_development(besu_like_url: str, tmp_path: Path) -> None:
    with start_node(besu_like_url, state_dir=tmp_path) as node:
        assert isinstance(node, RpcNode)
        assert (node.backend, node.rpc_url, node.chain_id) == ("rpc", besu_like_url, 1337)
        assert node.is_local_dev is False


@pytest.mark.anvil
@pytest.mark.skipif(not HAVE_ANVIL, reason=ANVIL_REASON)
def test_rpc_backend_against_the_socket_of_a_running_anvil(tmp_path: Path) -> None:
    funded, requested = Account.create(), Account.create()
    with AnvilNode(state_dir=tmp_path / "anvil", genesis_accounts={funded.address: 10**21}) as anvil:
        socket = str(anvil.ipc_path)
        with start_node(socket, state_dir=tmp_path / "unused", genesis_accounts={requested.address: 7}) as node:
            assert (node.backend, node.rpc_url, node.ipc_path, node.chain_id) == ("rpc", None, anvil.ipc_path, 31337)
            assert node.is_local_dev is True  # it answers anvil_nodeInfo
            # A development node reached by URL (anvil in docker compose) funds accounts like a managed one.
            assert node.w3.eth.get_balance(requested.address) == 7
            receipt = send_transaction(node.w3, funded, {"to": requested.address, "value": 5})
            assert receipt["status"] == 1
            assert receipt["type"] == 2  # EIP-1559 where the chain has a base fee
        assert anvil.w3.eth.get_balance(requested.address) == 12  # stopping an rpc node leaves the node running
    assert not (tmp_path / "unused").exists()
