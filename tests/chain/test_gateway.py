"""The read-only JSON-RPC gateway over HTTP, read by cast and web3.py, on the embedded chain and anvil (over HTTP,
and the anvil Segell manages over its IPC socket)."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from web3 import EthereumTesterProvider, HTTPProvider, Web3

from segell.chain.anvil import AnvilNode
from segell.chain.gateway import ALLOWED_METHODS, ReadOnlyGateway, json_depth
from segell.chain.ipc import IpcTransport
from segell.chain.transactions import send_transaction
from tests.helpers import PLAIN_HTTP, free_port

REPO = Path(__file__).resolve().parents[2]
ANVIL = REPO / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
CAST = REPO / "node_modules/@foundry-rs/cast-linux-amd64/bin/cast"

# contract Counter { error CounterAboveLimit(uint256 value, uint256 limit);
#   event Incremented(address indexed by, uint256 value); uint256 public value = 41;
#   function increment() external; function requireAtMost(uint256 limit) external view returns (uint256); }
# solc 0.8.37, evmVersion cancun, optimizer 200 runs, no metadata.
COUNTER_BYTECODE = (
    "0x608060405260295f553480156012575f5ffd5b50610140806100205f395ff3fe608060405234801561000f575f5ffd5b50"
    "6004361061003f575f3560e01c80633fa4f24514610043578063946d0dcc1461005d578063d09de08a14610070575b5f5f"
    "fd5b61004b5f5481565b60405190815260200160405180910390f35b61004b61006b366004610104565b61007a565b6100"
    "786100b5565b005b5f815f5411156100ae575f54604051635483815160e01b815260048101919091526024810183905260"
    "440160405180910390fd5b50505f5490565b60015f5f8282546100c6919061011b565b90915550505f5460405190815233"
    "907f38ac789ed44572701765277c4d0970f2db1c1a571ed39e84358095ae4eaa54209060200160405180910390a2565b5f"
    "60208284031215610114575f5ffd5b5035919050565b8082018082111561013a57634e487b7160e01b5f52601160045260"
    "245ffd5b9291505056"
)
COUNTER_RUNTIME_PREFIX = "0x608060405234801561000f575f5ffd5b506004361061003f"
VALUE_SELECTOR = "0x3fa4f245"
INCREMENT_SELECTOR = "0xd09de08a"
REQUIRE_AT_MOST_SELECTOR = "0x946d0dcc"
COUNTER_ABOVE_LIMIT_SELECTOR = "0x54838151"
INCREMENTED_TOPIC = "0x38ac789ed44572701765277c4d0970f2db1c1a571ed39e84358095ae4eaa5420"
COUNTER_ABI = [
    {
        "inputs": [],
        "name": "value",
        "outputs": [{"internalType": "uint256", "name": "", "type": "uint256"}],
        "stateMutability": "view",
        "type": "function",
    }
]
# The first eth-tester development key (funded on the embedded chain) and anvil's first well-known key.
EMBEDDED_DEV_KEY = "0x" + "00" * 31 + "01"
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


@dataclass
class Chain:
    backend: str
    gateway_url: str
    node_url: str | None  # the node itself, for anvil
    w3: Web3  # direct access, to deploy and to compare
    contract: str  # checksum address of the deployed Counter
    increment_tx: str
    dev_key: str


def serve_gateway(gateway: ReadOnlyGateway) -> Iterator[str]:
    app = FastAPI()

    @app.post("/rpc")
    async def rpc(request: Request) -> Response:
        body = await run_in_threadpool(gateway.handle_bytes, await request.body())
        if not body:
            return Response(status_code=204)
        return Response(content=body, media_type="application/json")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn failed to start"
        assert time.monotonic() < deadline, "uvicorn did not start in time"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/rpc"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def deploy_counter(w3: Web3) -> tuple[str, str]:
    sender = w3.eth.accounts[0]
    deploy = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": sender, "data": COUNTER_BYTECODE}))
    address = deploy["contractAddress"]
    assert address is not None
    increment = w3.eth.send_transaction({"from": sender, "to": address, "data": INCREMENT_SELECTOR})
    assert w3.eth.wait_for_transaction_receipt(increment)["status"] == 1
    return address, increment.to_0x_hex()


@pytest.fixture(scope="module")
def embedded_chain() -> Iterator[Chain]:
    provider = EthereumTesterProvider()
    lock = threading.Lock()
    w3 = Web3(provider)
    with lock:
        address, increment = deploy_counter(w3)
    with ReadOnlyGateway(provider, lock=lock) as gateway:
        for url in serve_gateway(gateway):
            yield Chain("embedded", url, None, w3, address, increment, EMBEDDED_DEV_KEY)


@pytest.fixture(scope="module")
def anvil_chain() -> Iterator[Chain]:
    if not ANVIL.exists():
        pytest.skip(f"anvil is not installed at {ANVIL}: run `make setup` (npm @foundry-rs/anvil-linux-amd64)")
    port = free_port()
    node_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(ANVIL), "--port", str(port), "--host", "127.0.0.1", "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        w3 = Web3(HTTPProvider(node_url))
        deadline = time.monotonic() + 30
        while not w3.is_connected():
            assert process.poll() is None, "anvil exited during start"
            assert time.monotonic() < deadline, "anvil did not start in time"
            time.sleep(0.05)
        address, increment = deploy_counter(w3)
        with ReadOnlyGateway(HTTPProvider(node_url), timeout=10) as gateway:
            for url in serve_gateway(gateway):
                yield Chain("anvil", url, node_url, w3, address, increment, ANVIL_DEV_KEY)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(params=["embedded", "anvil"])
def chain(request: pytest.FixtureRequest) -> Chain:
    return request.getfixturevalue(f"{request.param}_chain")  # type: ignore[no-any-return]


def cast(*args: str, rpc_url: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    if not CAST.exists():
        pytest.skip(f"cast is not installed at {CAST}: run `make setup` (npm @foundry-rs/cast-linux-amd64)")
    result = subprocess.run(
        [str(CAST), *args, "--rpc-url", rpc_url], capture_output=True, text=True, timeout=60, check=False
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def rpc(url: str, payload: object) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    return httpx.post(url, content=json.dumps(payload), headers=headers, timeout=30, verify=PLAIN_HTTP)


def call(url: str, method: str, *params: Any, request_id: object = 1) -> dict[str, Any]:
    answer = rpc(url, {"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)}).json()
    assert isinstance(answer, dict)
    return answer


# --- stock tools read through the gateway ------------------------------------------------------------------


def test_cast_reads_block_number_and_chain_id(chain: Chain) -> None:
    assert int(cast("block-number", rpc_url=chain.gateway_url).stdout) == chain.w3.eth.block_number
    assert int(cast("chain-id", rpc_url=chain.gateway_url).stdout) == chain.w3.eth.chain_id


def test_cast_block_latest_json_has_wire_fields(chain: Chain) -> None:
    block = json.loads(cast("block", "latest", "--json", rpc_url=chain.gateway_url).stdout)
    latest = chain.w3.eth.get_block("latest")
    assert int(block["number"], 16) == latest["number"] == 2
    assert block["hash"] == latest["hash"].to_0x_hex()
    assert len(block["logsBloom"]) == 2 + 512
    assert block["transactions"] == [chain.increment_tx]
    assert block["miner"].startswith("0x") and len(block["miner"]) == 42


def test_cast_receipt_json_has_status_logs_and_bloom(chain: Chain) -> None:
    receipt = json.loads(cast("receipt", chain.increment_tx, "--json", rpc_url=chain.gateway_url).stdout)
    assert receipt["status"] == "0x1"
    assert receipt["transactionHash"] == chain.increment_tx
    assert receipt["to"] == chain.contract.lower()
    assert receipt["contractAddress"] is None
    [log] = receipt["logs"]
    assert log["address"] == chain.contract.lower()
    assert log["topics"][0] == INCREMENTED_TOPIC
    assert int(log["data"], 16) == 42
    assert log["removed"] is False
    assert receipt["logsBloom"] != "0x" + "00" * 256 and len(receipt["logsBloom"]) == 2 + 512


def test_cast_call_reads_contract_value(chain: Chain) -> None:
    assert cast("call", chain.contract, "value()(uint256)", rpc_url=chain.gateway_url).stdout.strip() == "42"


def test_cast_logs_finds_incremented_event(chain: Chain) -> None:
    out = cast(
        "logs",
        "--from-block",
        "0",
        "--address",
        chain.contract,
        "--json",
        INCREMENTED_TOPIC,
        rpc_url=chain.gateway_url,
    ).stdout
    [log] = json.loads(out)
    assert log["transactionHash"] == chain.increment_tx
    assert int(log["blockNumber"], 16) == 2


def test_cast_code_returns_deployed_runtime(chain: Chain) -> None:
    code = cast("code", chain.contract, rpc_url=chain.gateway_url).stdout.strip()
    assert code.startswith(COUNTER_RUNTIME_PREFIX)
    assert code == chain.w3.eth.get_code(chain.contract).to_0x_hex()


def test_cast_answers_match_anvil_directly(anvil_chain: Chain) -> None:
    assert anvil_chain.node_url is not None
    commands = [
        ("block", "latest", "--json"),
        ("receipt", anvil_chain.increment_tx, "--json"),
        ("tx", anvil_chain.increment_tx, "--json"),
        ("call", anvil_chain.contract, "value()(uint256)"),
        ("logs", "--from-block", "0", "--json", INCREMENTED_TOPIC),
        ("code", anvil_chain.contract),
        ("balance", anvil_chain.w3.eth.accounts[0]),
    ]
    for command in commands:
        through_gateway = cast(*command, rpc_url=anvil_chain.gateway_url).stdout
        direct = cast(*command, rpc_url=anvil_chain.node_url).stdout
        assert through_gateway == direct, command


def test_single_request_to_anvil_comes_back_byte_exact(anvil_chain: Chain) -> None:
    assert anvil_chain.node_url is not None
    request = {"jsonrpc": "2.0", "id": 7, "method": "eth_getBlockByNumber", "params": ["0x1", True]}
    assert rpc(anvil_chain.gateway_url, request).content == rpc(anvil_chain.node_url, request).content


def test_web3_reads_block_receipt_and_contract_through_gateway(chain: Chain) -> None:
    w3 = Web3(HTTPProvider(chain.gateway_url))
    assert w3.eth.chain_id == chain.w3.eth.chain_id
    block = w3.eth.get_block(2, full_transactions=True)
    assert block["transactions"][0]["hash"].to_0x_hex() == chain.increment_tx
    assert block["transactions"][0]["input"].to_0x_hex() == INCREMENT_SELECTOR
    receipt = w3.eth.get_transaction_receipt(chain.increment_tx)
    assert receipt["status"] == 1 and receipt["logs"][0]["topics"][0].to_0x_hex() == INCREMENTED_TOPIC
    counter = w3.eth.contract(address=Web3.to_checksum_address(chain.contract), abi=COUNTER_ABI)
    assert counter.functions.value().call() == 42
    assert w3.eth.get_logs({"fromBlock": 0, "address": chain.contract})[0]["logIndex"] == 0


def test_get_block_receipts_lists_the_block_receipts(chain: Chain) -> None:
    answer = call(chain.gateway_url, "eth_getBlockReceipts", "0x2")
    [receipt] = answer["result"]
    assert receipt["transactionHash"] == chain.increment_tx
    assert receipt["logs"][0]["topics"][0] == INCREMENTED_TOPIC


def test_eth_call_by_block_hash_reads_state_at_that_block(chain: Chain) -> None:
    first_block = chain.w3.eth.get_block(1)["hash"].to_0x_hex()
    answer = call(
        chain.gateway_url,
        "eth_call",
        {"to": chain.contract, "input": VALUE_SELECTOR},
        {"blockHash": first_block},
    )
    assert int(answer["result"], 16) == 41


def test_eth_call_revert_carries_custom_error_data(chain: Chain) -> None:
    data = REQUIRE_AT_MOST_SELECTOR + "00" * 32
    answer = call(chain.gateway_url, "eth_call", {"to": chain.contract, "data": data}, "latest")
    assert answer["error"]["code"] == 3
    assert answer["error"]["data"] == COUNTER_ABOVE_LIMIT_SELECTOR + f"{42:064x}" + "00" * 32


# --- writes and node administration are refused -------------------------------------------------------


def test_cast_send_is_refused_and_head_does_not_move(chain: Chain) -> None:
    head = chain.w3.eth.get_block("latest")["hash"]
    result = cast(
        "send",
        chain.contract,
        "increment()",
        "--private-key",
        chain.dev_key,
        rpc_url=chain.gateway_url,
        check=False,
    )
    assert result.returncode != 0
    assert "eth_sendRawTransaction is refused: /rpc is read-only" in result.stderr
    assert chain.w3.eth.get_block("latest")["hash"] == head


def test_send_raw_transaction_is_refused_with_method_not_found(chain: Chain) -> None:
    answer = call(chain.gateway_url, "eth_sendRawTransaction", "0x02f8")
    assert answer == {
        "jsonrpc": "2.0",
        "id": 1,
        "error": {
            "code": -32601,
            "message": "eth_sendRawTransaction is refused: /rpc is read-only; submit through the Segell API",
        },
    }


@pytest.mark.parametrize(
    ("method", "params", "reason"),
    [
        ("anvil_mine", ["0x1"], "does not administer the node"),
        ("evm_mine", [], "does not administer the node"),
        ("hardhat_setBalance", ["0x" + "11" * 20, "0x1"], "does not administer the node"),
        ("debug_traceTransaction", ["0x" + "11" * 32], "does not administer the node"),
        ("eth_sendTransaction", [{"to": "0x" + "11" * 20}], "submit through the Segell API"),
        ("personal_sign", ["0x00", "0x" + "11" * 20], "submit through the Segell API"),
        ("eth_newFilter", [{}], "use eth_getLogs"),
        ("eth_getFilterChanges", ["0x1"], "use eth_getLogs"),
        ("eth_getProof", ["0x" + "11" * 20, [], "latest"], "answers only the methods listed"),
    ],
)
def test_methods_outside_the_allow_list_are_refused(chain: Chain, method: str, params: list[Any], reason: str) -> None:
    head = chain.w3.eth.block_number
    error = call(chain.gateway_url, method, *params)["error"]
    assert error["code"] == -32601
    assert error["message"].startswith(f"{method} ") and "read-only" in error["message"] and reason in error["message"]
    assert chain.w3.eth.block_number == head


def test_eth_accounts_exposes_no_node_accounts(chain: Chain) -> None:
    assert chain.w3.eth.accounts  # the node has unlocked accounts...
    assert call(chain.gateway_url, "eth_accounts")["result"] == []  # ...the gateway never shows them


@pytest.mark.parametrize("method", ["eth_call", "eth_estimateGas"])
def test_state_overrides_are_refused(chain: Chain, method: str) -> None:
    override = {chain.contract: {"stateDiff": {"0x" + "00" * 32: "0x" + "00" * 31 + "07"}}}
    error = call(chain.gateway_url, method, {"to": chain.contract, "data": VALUE_SELECTOR}, "latest", override)["error"]
    assert error["code"] == -32602
    assert "overrides are refused" in error["message"]


# --- JSON-RPC 2.0 envelope ---------------------------------------------------------------------------------


def test_batch_answers_each_request_in_order(chain: Chain) -> None:
    batch = [
        {"jsonrpc": "2.0", "id": "a", "method": "eth_blockNumber"},
        {"jsonrpc": "2.0", "id": 2, "method": "anvil_mine", "params": []},
        {"jsonrpc": "2.0", "method": "eth_chainId", "params": []},  # notification: no answer
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "eth_call",
            "params": [{"to": chain.contract, "data": VALUE_SELECTOR}],
        },
        {"jsonrpc": "1.0", "id": 4, "method": "eth_chainId"},
        "not a request",
        {"jsonrpc": "2.0", "id": "a", "method": "eth_chainId", "params": []},
    ]
    answers = rpc(chain.gateway_url, batch).json()
    assert [answer["id"] for answer in answers] == ["a", 2, 3, 4, None, "a"]
    assert int(answers[0]["result"], 16) == chain.w3.eth.block_number
    assert answers[1]["error"]["code"] == -32601
    assert int(answers[2]["result"], 16) == 42
    assert answers[3]["error"]["code"] == -32600 and answers[4]["error"]["code"] == -32600
    assert int(answers[5]["result"], 16) == chain.w3.eth.chain_id


def test_batch_over_the_limit_is_refused(chain: Chain) -> None:
    batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_blockNumber"} for i in range(101)]
    answer = rpc(chain.gateway_url, batch).json()
    assert answer["id"] is None and answer["error"]["code"] == -32600
    assert "limit of 100" in answer["error"]["message"] and answer["error"]["data"] == {"limit": 100}


def test_empty_batch_is_an_invalid_request(chain: Chain) -> None:
    answer = rpc(chain.gateway_url, []).json()
    assert answer == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32600, "message": "invalid request: empty batch"},
    }


@pytest.mark.parametrize("body", [b"{", b"", b'{"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": [NaN]}'])
def test_malformed_json_is_a_parse_error(chain: Chain, body: bytes) -> None:
    answer = httpx.post(chain.gateway_url, content=body, headers={"Content-Type": "application/json"}).json()
    assert answer["id"] is None and answer["error"]["code"] == -32700


@pytest.mark.parametrize("depth", [65, 99_000])
def test_deeply_nested_json_is_a_parse_error_not_a_crash(depth: int) -> None:
    # py-evm is imported (it raises the recursion limit): parsing 99,000 levels would overflow the C stack.
    body = b"[" * depth + b"]" * depth
    with ReadOnlyGateway(EthereumTesterProvider()) as gateway:
        answer = json.loads(gateway.handle_bytes(body))
    assert answer["error"]["code"] == -32700
    assert "nested deeper than 64" in answer["error"]["message"]


def test_nesting_inside_strings_does_not_count() -> None:
    assert json_depth(b'{"a": "[[[[[[{{{{"}') == 1
    assert json_depth(b"[" * 64 + b"]" * 64) == 64


def test_notifications_get_no_response(chain: Chain) -> None:
    single = rpc(chain.gateway_url, {"jsonrpc": "2.0", "method": "eth_blockNumber"})
    assert single.status_code == 204 and single.content == b""
    batch = rpc(chain.gateway_url, [{"jsonrpc": "2.0", "method": "eth_sendRawTransaction", "params": ["0x00"]}] * 2)
    assert batch.status_code == 204 and batch.content == b""


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"jsonrpc": "2.0", "id": 1}, -32600),
        ({"id": 1, "method": "eth_chainId"}, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": "x"}, -32600),
        ({"jsonrpc": "2.0", "id": [1], "method": "eth_chainId"}, -32600),
        (42, -32600),
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["nothex", "latest"]}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": []}, -32602),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["tomorrow", False]},
            -32602,
        ),
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [{"topics": ["0x12"]}]}, -32602),
        ({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": {"a": 1}}, -32602),
    ],
)
def test_invalid_requests_and_params_are_rejected(chain: Chain, payload: object, code: int) -> None:
    answer = rpc(chain.gateway_url, payload).json()
    assert answer["error"]["code"] == code


def test_concurrent_reads_through_the_threadpool_all_succeed(embedded_chain: Chain) -> None:
    def read(index: int) -> str:
        payload = {"to": embedded_chain.contract, "data": VALUE_SELECTOR}
        return str(call(embedded_chain.gateway_url, "eth_call", payload, "latest", request_id=index)["result"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(read, range(40)))
    assert {int(result, 16) for result in results} == {42}


def test_allow_list_names_only_reading_methods() -> None:
    assert "eth_sendRawTransaction" not in ALLOWED_METHODS
    assert not any(method.startswith(("anvil_", "evm_", "debug_", "personal_")) for method in ALLOWED_METHODS)
    assert {"eth_call", "eth_getLogs", "eth_getTransactionReceipt", "eth_chainId"} <= ALLOWED_METHODS


# --- the anvil Segell manages, read over its IPC socket ------------------------------------------------

# What anvil answers beyond reading: every one must stay behind the gateway.
NODE_ONLY_METHODS = [
    *(
        f"anvil_{name}"
        for name in (
            "impersonateAccount", "stopImpersonatingAccount", "autoImpersonateAccount", "setBalance", "addBalance",
            "setCode", "setNonce", "setStorageAt", "mine", "reset", "dumpState", "loadState", "setChainId",
            "setCoinbase", "setLoggingEnabled", "setMinGasPrice", "setNextBlockBaseFeePerGas", "dropTransaction",
            "dropAllTransactions", "removePoolTransactions", "setAutomine", "setIntervalMining", "getAutomine",
            "setBlockTimestampInterval", "removeBlockTimestampInterval", "nodeInfo", "metadata", "enableTraces",
            "setRpcUrl", "dealERC20", "setERC20Allowance", "snapshot", "revert", "increaseTime",
            "setNextBlockTimestamp", "setTime", "setBlockGasLimit", "rollback", "reorg", "mine_detailed",
        )
    ),
    *(
        f"evm_{name}"
        for name in ("snapshot", "revert", "mine", "increaseTime", "setNextBlockTimestamp", "setAutomine", "setTime")
    ),
    "hardhat_impersonateAccount", "hardhat_setBalance", "hardhat_setCode", "hardhat_mine", "hardhat_reset",
    "eth_sendTransaction", "eth_sendRawTransaction", "eth_sendRawTransactionSync", "eth_sign",
    "eth_signTransaction", "eth_signTypedData", "eth_signTypedData_v4", "personal_sign", "personal_sendTransaction",
    "personal_unlockAccount", "personal_importRawKey", "personal_listAccounts",
    "eth_newFilter", "eth_newBlockFilter", "eth_newPendingTransactionFilter", "eth_getFilterChanges",
    "eth_getFilterLogs", "eth_uninstallFilter", "eth_subscribe", "eth_unsubscribe",
    "eth_getProof", "eth_createAccessList", "eth_simulateV1", "eth_coinbase", "eth_mining", "eth_hashrate",
    "eth_getWork", "eth_submitWork", "eth_submitHashrate", "eth_fillTransaction", "eth_getRawTransactionByHash",
    "debug_traceTransaction", "debug_traceCall", "debug_getRawTransaction", "trace_transaction", "trace_block",
    "trace_call", "ots_getApiLevel", "ots_traceTransaction", "txpool_content", "txpool_status", "txpool_inspect",
    "admin_nodeInfo", "admin_peers", "miner_start", "miner_stop", "web3_sha3", "rpc_modules", "net_peerCount",
]  # fmt: skip

# The reading methods /rpc answers; a method is added here and in the gateway only once it is known to be read-only.
READING_METHODS = {
    "web3_clientVersion", "net_version", "net_listening", "eth_chainId", "eth_syncing", "eth_gasPrice",
    "eth_maxPriorityFeePerGas", "eth_feeHistory", "eth_blockNumber", "eth_getBalance", "eth_getCode",
    "eth_getStorageAt", "eth_getTransactionCount", "eth_call", "eth_estimateGas", "eth_getBlockByNumber",
    "eth_getBlockByHash", "eth_getBlockTransactionCountByNumber", "eth_getBlockTransactionCountByHash",
    "eth_getBlockReceipts", "eth_getTransactionByHash", "eth_getTransactionByBlockNumberAndIndex",
    "eth_getTransactionByBlockHashAndIndex", "eth_getTransactionReceipt", "eth_getLogs", "eth_accounts",
}  # fmt: skip


@dataclass
class ManagedAnvil:
    node: AnvilNode
    gateway_url: str
    funded: LocalAccount


@pytest.fixture(scope="module")
def managed_anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedAnvil]:
    if not ANVIL.exists():
        pytest.skip(f"anvil is not installed at {ANVIL}: run `make setup` (npm @foundry-rs/anvil-linux-amd64)")
    funded: LocalAccount = Account.create()
    with AnvilNode(
        state_dir=tmp_path_factory.mktemp("managed-anvil"), genesis_accounts={funded.address: 10**21}
    ) as node:
        send_transaction(node.w3, funded, {"to": funded.address, "value": 1})
        with ReadOnlyGateway(node.w3.provider, timeout=10) as gateway:
            for url in serve_gateway(gateway):
                yield ManagedAnvil(node, url, funded)


def test_allow_list_is_exactly_the_reading_methods() -> None:
    assert ALLOWED_METHODS == READING_METHODS
    assert not READING_METHODS & set(NODE_ONLY_METHODS)


def test_no_method_outside_the_allow_list_passes_to_the_managed_anvil(managed_anvil: ManagedAnvil) -> None:
    node, target = managed_anvil.node, Account.create().address
    head = node.w3.eth.get_block("latest")["hash"]
    # Over its socket, the node does what anyone reaching it asks...
    assert node.w3.provider.make_request("anvil_impersonateAccount", [target])["result"] is None  # type: ignore[arg-type]
    node.w3.provider.make_request("anvil_stopImpersonatingAccount", [target])  # type: ignore[arg-type]
    arguments = {
        "anvil_impersonateAccount": [managed_anvil.funded.address],
        "anvil_setBalance": [target, hex(10**21)],
        "anvil_mine": ["0x5"],
        "eth_sendTransaction": [{"from": managed_anvil.funded.address, "to": target, "value": "0x1"}],
    }
    batch = [
        {"jsonrpc": "2.0", "id": index, "method": method, "params": arguments.get(method, [])}
        for index, method in enumerate(NODE_ONLY_METHODS)
    ]
    # ...through the gateway, nothing outside the allow-list reaches it, one by one or in batches.
    with httpx.Client(timeout=30, verify=PLAIN_HTTP) as http:
        for request in batch:
            answer = http.post(managed_anvil.gateway_url, json=request).json()
            assert answer["error"]["code"] == -32601, (request["method"], answer)
        for start in range(0, len(batch), 100):
            answers = http.post(managed_anvil.gateway_url, json=batch[start : start + 100]).json()
            assert [answer["error"]["code"] for answer in answers] == [-32601] * len(batch[start : start + 100])
    assert node.w3.eth.get_block("latest")["hash"] == head
    assert node.w3.eth.get_balance(target) == 0


def test_reads_through_the_managed_anvil_socket_come_back_byte_exact(managed_anvil: ManagedAnvil) -> None:
    request = {"jsonrpc": "2.0", "id": 7, "method": "eth_getBlockByNumber", "params": ["latest", True]}
    through_gateway = httpx.post(managed_anvil.gateway_url, json=request, timeout=30).content
    transport = IpcTransport(managed_anvil.node.ipc_path)  # type: ignore[arg-type]
    try:
        direct = transport.post(json.dumps(request).encode())
    finally:
        transport.close()
    assert through_gateway == direct
    assert json.loads(direct)["result"]["transactions"][0]["from"] == managed_anvil.funded.address.lower()
