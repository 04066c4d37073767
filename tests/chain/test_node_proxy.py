"""NodeProxy: the gateway's reads, raw transactions and allowed node administration on the embedded chain."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from segell.chain.gateway import NodeProxy, ReadOnlyGateway
from segell.chain.nodes import ChainNode, start_node

FUNDS = 10**21


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[ChainNode, LocalAccount]]:
    account: LocalAccount = Account.create()
    chain = start_node("embedded", state_dir=tmp_path, genesis_accounts={account.address: FUNDS})
    try:
        yield chain, account
    finally:
        chain.stop()


def _proxy(node: ChainNode, *, node_admin: bool) -> NodeProxy:
    return NodeProxy(ReadOnlyGateway(node.w3.provider), node.w3.provider, node_admin=node_admin)


def _ask(proxy: NodeProxy, payload: object) -> Any:
    answer = proxy.handle_bytes(json.dumps(payload).encode())
    return json.loads(answer) if answer else None


def test_raw_transaction_is_sent_to_the_node_and_read_back(node: tuple[ChainNode, LocalAccount]) -> None:
    chain, account = node
    proxy = _proxy(chain, node_admin=False)
    signed = account.sign_transaction(
        {"to": account.address, "value": 1, "gas": 21_000, "gasPrice": 10**9, "nonce": 0, "chainId": chain.chain_id}
    )

    sent = _ask(
        proxy,
        {"jsonrpc": "2.0", "id": 7, "method": "eth_sendRawTransaction", "params": [signed.raw_transaction.to_0x_hex()]},
    )
    receipt = _ask(
        proxy, {"jsonrpc": "2.0", "id": 8, "method": "eth_getTransactionReceipt", "params": [sent["result"]]}
    )

    assert (sent["id"], sent["result"]) == (7, signed.hash.to_0x_hex())
    assert (receipt["result"]["status"], receipt["result"]["blockNumber"]) == ("0x1", "0x1")


def test_malformed_raw_transaction_gets_a_json_rpc_error(node: tuple[ChainNode, LocalAccount]) -> None:
    proxy = _proxy(node[0], node_admin=False)

    answer = _ask(proxy, {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": ["0x1234"]})

    assert answer["id"] == 1 and answer["error"]["code"] == -32000
    assert "transaction rejected" in answer["error"]["message"]


def test_node_administration_is_refused_unless_allowed(node: tuple[ChainNode, LocalAccount]) -> None:
    request = {"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance", "params": [node[1].address, "0x1"]}

    refused = _ask(_proxy(node[0], node_admin=False), request)

    assert refused["error"]["code"] == -32601
    assert "node administration methods are off" in refused["error"]["message"]


def test_node_administration_that_reaches_a_url_is_refused_even_when_allowed(
    node: tuple[ChainNode, LocalAccount],
) -> None:
    forking = {"forking": {"jsonRpcUrl": "http://10.0.0.7:8545"}}

    answer = _ask(
        _proxy(node[0], node_admin=True), {"jsonrpc": "2.0", "id": 1, "method": "anvil_reset", "params": [forking]}
    )

    assert answer["error"]["code"] == -32602


def test_writes_other_than_raw_transactions_are_refused(node: tuple[ChainNode, LocalAccount]) -> None:
    answer = _ask(
        _proxy(node[0], node_admin=True), {"jsonrpc": "2.0", "id": 3, "method": "eth_sendTransaction", "params": [{}]}
    )

    assert answer["id"] == 3 and answer["error"]["code"] == -32601
    assert "eth_sendRawTransaction" in answer["error"]["message"]


def test_batches_are_answered_flat_without_notifications(node: tuple[ChainNode, LocalAccount]) -> None:
    proxy = _proxy(node[0], node_admin=False)
    read = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    notification = {"jsonrpc": "2.0", "method": "eth_sendTransaction", "params": [{}]}

    answers = _ask(proxy, [read, [read], notification])

    assert answers[0] == {"jsonrpc": "2.0", "id": 1, "result": "0x0"}
    assert [answer["error"]["code"] for answer in answers[1:]] == [-32600]
    assert _ask(proxy, [notification]) is None
    assert _ask(proxy, [])["error"]["code"] == -32600
    assert _ask(proxy, [read] * 101)["error"]["message"].endswith("limit of 100; split it")
    assert json.loads(proxy.handle_bytes(b"{"))["error"]["code"] == -32700
