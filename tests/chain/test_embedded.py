"""The embedded chain: Cancun opcodes, and a chain that survives stop, restart, kill -9 and a torn journal."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError

from segell.chain.embedded import EMBEDDED_CHAIN_ID, JOURNAL_NAME, EmbeddedNode
from segell.chain.nodes import JournalError, StateDirInUse
from segell.chain.transactions import send_transaction

FUNDS = 10**21
REPO = Path(__file__).resolve().parents[2]


def _deployable(runtime: str) -> str:
    """Init code that returns ``runtime`` (hex, without 0x) as the contract's code."""
    size = len(runtime) // 2
    return f"0x60{size:02x}600a5f3960{size:02x}5ff3{runtime}"


# Uses PUSH0, MCOPY and TSTORE/TLOAD (Cancun); returns 42 whichever path the value took.
CANCUN_RUNTIME = "602a5f5260205f60205e6020515f5d5f5c5f5260205ff3"
# Stores calldata word 0 in slot 0 and logs it.
STORE_AND_LOG_RUNTIME = "5f355f555f355f5260205fa000"
# Reverts with the 4 bytes 0xdeadbeef (like a custom error without arguments).
REVERT_RUNTIME = "63deadbeef5f526004601cfd"


@pytest.fixture
def account() -> LocalAccount:
    created: LocalAccount = Account.create()
    return created


def _start(state_dir: Path, account: LocalAccount) -> EmbeddedNode:
    return EmbeddedNode(state_dir=state_dir, genesis_accounts={account.address: FUNDS})


def _deploy(node: EmbeddedNode, account: LocalAccount, runtime: str) -> str:
    receipt = send_transaction(node.w3, account, {"data": _deployable(runtime)})
    assert receipt["status"] == 1
    return str(receipt["contractAddress"])


def _journal_lines(state_dir: Path) -> list[bytes]:
    return (state_dir / JOURNAL_NAME).read_bytes().splitlines(keepends=True)


def test_genesis_funds_accounts_and_uses_the_embedded_chain_id(tmp_path: Path, account: LocalAccount) -> None:
    with _start(tmp_path, account) as node:
        assert node.backend == "embedded"
        assert node.rpc_url is None
        assert node.is_local_dev is True
        assert node.chain_id == node.w3.eth.chain_id == EMBEDDED_CHAIN_ID
        assert node.w3.eth.block_number == 0
        assert node.w3.eth.get_balance(account.address) == FUNDS
        assert node.w3.eth.accounts == []


def test_cancun_opcodes_run_in_calls_and_transactions(tmp_path: Path, account: LocalAccount) -> None:
    with _start(tmp_path, account) as node:
        address = _deploy(node, account, CANCUN_RUNTIME)
        assert node.w3.eth.get_code(address).hex() == CANCUN_RUNTIME
        assert int.from_bytes(node.w3.eth.call({"to": address}), "big") == 42
        receipt = send_transaction(node.w3, account, {"to": address})
        assert receipt["status"] == 1


def test_restart_keeps_blocks_hashes_receipts_and_state(tmp_path: Path, account: LocalAccount) -> None:
    with _start(tmp_path, account) as node:
        address = _deploy(node, account, STORE_AND_LOG_RUNTIME)
        receipts = [
            send_transaction(node.w3, account, {"to": address, "data": "0x" + f"{value:064x}"}) for value in (7, 8, 9)
        ]
        blocks = [node.w3.eth.get_block(n) for n in range(node.w3.eth.block_number + 1)]
        balance = node.w3.eth.get_balance(account.address)

    with EmbeddedNode(state_dir=tmp_path) as again:
        assert again.chain.replayed_blocks == len(blocks) - 1
        assert [again.w3.eth.get_block(n) for n in range(again.w3.eth.block_number + 1)] == blocks
        for receipt in receipts:
            assert again.w3.eth.get_transaction_receipt(receipt["transactionHash"]) == receipt
        assert int.from_bytes(again.w3.eth.get_storage_at(address, 0), "big") == 9
        assert again.w3.eth.get_balance(account.address) == balance
        logs = again.w3.eth.get_logs({"fromBlock": 0, "address": address})
        assert [int.from_bytes(log["data"], "big") for log in logs] == [7, 8, 9]


def test_block_timestamps_increase_and_are_replayed(tmp_path: Path, account: LocalAccount) -> None:
    with _start(tmp_path, account) as node:
        for _ in range(3):
            send_transaction(node.w3, account, {"to": account.address, "value": 1})
        stamps = [node.w3.eth.get_block(n)["timestamp"] for n in range(4)]
    assert stamps == sorted(set(stamps))
    with EmbeddedNode(state_dir=tmp_path) as again:
        assert [again.w3.eth.get_block(n)["timestamp"] for n in range(4)] == stamps


def test_accounts_asked_for_later_are_topped_up_in_a_journaled_block(tmp_path: Path, account: LocalAccount) -> None:
    newcomer = Account.create()
    with _start(tmp_path, account) as node:
        assert node.w3.eth.block_number == 0
    with EmbeddedNode(state_dir=tmp_path, genesis_accounts={account.address: FUNDS, newcomer.address: 5}) as node:
        assert node.w3.eth.block_number == 1
        assert node.w3.eth.get_balance(newcomer.address) == 5
        top_up_hash = node.w3.eth.get_block(1)["hash"]
    with EmbeddedNode(state_dir=tmp_path, genesis_accounts={newcomer.address: 5}) as node:
        assert node.w3.eth.block_number == 1
        assert node.w3.eth.get_block(1)["hash"] == top_up_hash
        assert node.w3.eth.get_balance(newcomer.address) == 5


def test_acknowledged_transactions_survive_kill_9(tmp_path: Path, account: LocalAccount) -> None:
    writer = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from pathlib import Path
from eth_account import Account
from segell.chain.embedded import EmbeddedNode
from segell.chain.transactions import send_transaction
account = Account.from_key(bytes.fromhex({account.key.hex()!r}))
node = EmbeddedNode(state_dir=Path({str(tmp_path)!r}), genesis_accounts={{account.address: {FUNDS}}})
while True:
    receipt = send_transaction(node.w3, account, {{"to": account.address, "value": 1}})
    print(receipt["transactionHash"].to_0x_hex(), receipt["blockHash"].to_0x_hex(), flush=True)
"""
    process = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    acknowledged: list[tuple[str, str]] = []
    assert process.stdout is not None
    while len(acknowledged) < 15:
        line = process.stdout.readline()
        assert line, "the writer process died"
        tx_hash, block_hash = line.split()
        acknowledged.append((tx_hash, block_hash))
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()

    with EmbeddedNode(state_dir=tmp_path) as node:
        assert node.w3.eth.block_number >= len(acknowledged)
        for tx_hash, block_hash in acknowledged:
            receipt = node.w3.eth.get_transaction_receipt(tx_hash)
            assert receipt["status"] == 1
            assert receipt["blockHash"].to_0x_hex() == block_hash


def test_torn_last_record_is_dropped_and_the_chain_goes_on(tmp_path: Path, account: LocalAccount) -> None:
    with _start(tmp_path, account) as node:
        for _ in range(3):
            send_transaction(node.w3, account, {"to": account.address, "value": 1})
        head = node.w3.eth.get_block("latest")
    journal = tmp_path / JOURNAL_NAME
    complete = journal.read_bytes()
    last_line = complete.splitlines(keepends=True)[-1]
    journal.write_bytes(complete + last_line[: len(last_line) // 2])  # a write cut short by kill -9

    with EmbeddedNode(state_dir=tmp_path) as node:
        assert node.chain.dropped_torn_bytes == len(last_line) // 2
        assert node.w3.eth.get_block("latest") == head
        receipt = send_transaction(node.w3, account, {"to": account.address, "value": 1})
        assert receipt["blockNumber"] == head["number"] + 1
    with EmbeddedNode(state_dir=tmp_path) as node:
        assert node.chain.dropped_torn_bytes == 0
        assert node.w3.eth.get_transaction_receipt(receipt["transactionHash"]) == receipt


def test_damage_before_the_last_record_stops_the_start(tmp_path: Path, account: LocalAccount) -> None:
    with _start(tmp_path, account) as node:
        for _ in range(3):
            send_transaction(node.w3, account, {"to": account.address, "value": 1})
    lines = _journal_lines(tmp_path)
    lines[2] = lines[2].replace(b'"number":2', b'"number":3')  # the checksum no longer matches
    (tmp_path / JOURNAL_NAME).write_bytes(b"".join(lines))
    with pytest.raises(JournalError, match="damaged at byte .* move the state directory aside"):
        EmbeddedNode(state_dir=tmp_path)


def test_a_journal_that_replays_to_other_blocks_stops_the_start(tmp_path: Path, account: LocalAccount) -> None:
    import zlib

    with _start(tmp_path, account) as node:
        for _ in range(2):
            send_transaction(node.w3, account, {"to": account.address, "value": 1})
    lines = _journal_lines(tmp_path)
    record = json.loads(lines[1][9:])
    record["timestamp"] += 1000  # same transactions at another time: another block hash
    body = json.dumps(record, separators=(",", ":"), sort_keys=True).encode()
    lines[1] = b"%08x " % zlib.crc32(body) + body + b"\n"
    (tmp_path / JOURNAL_NAME).write_bytes(b"".join(lines))
    with pytest.raises(JournalError, match="block 1 replays to 0x[0-9a-f]{64}, not the recorded"):
        EmbeddedNode(state_dir=tmp_path)


def test_rejected_transaction_mines_and_journals_nothing(tmp_path: Path, account: LocalAccount) -> None:
    with _start(tmp_path, account) as node:
        signed = account.sign_transaction(
            {"chainId": node.chain_id, "nonce": 5, "gas": 21000, "maxFeePerGas": 10**10,
             "maxPriorityFeePerGas": 1, "to": account.address, "value": 1}
        )  # fmt: skip
        lines_before = len(_journal_lines(tmp_path))
        with pytest.raises(Web3RPCError, match="transaction rejected: .*nonce"):
            node.w3.eth.send_raw_transaction(signed.raw_transaction)
        assert node.w3.eth.block_number == 0
        assert len(_journal_lines(tmp_path)) == lines_before


def test_unlocked_account_sending_is_refused_with_the_alternative(tmp_path: Path, account: LocalAccount) -> None:
    with _start(tmp_path, account) as node:
        with pytest.raises(Web3RPCError, match="eth_sendRawTransaction"):
            node.w3.eth.send_transaction({"from": account.address, "to": account.address, "value": 1})
        response = node.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        assert "evm_mine is not supported on the embedded chain" in response["error"]["message"]
        assert node.w3.eth.block_number == 0


def test_revert_data_reaches_web3_like_from_a_node(tmp_path: Path, account: LocalAccount) -> None:
    with _start(tmp_path, account) as node:
        address = _deploy(node, account, REVERT_RUNTIME)
        with pytest.raises(ContractCustomError) as called:
            node.w3.eth.call({"to": address})
        assert called.value.data == "0xdeadbeef"
        with pytest.raises(ContractCustomError) as estimated:
            node.w3.eth.estimate_gas({"to": address, "from": account.address})
        assert estimated.value.data == "0xdeadbeef"


# Loops for ever: JUMPDEST, PUSH1 0, JUMP.
ENDLESS_LOOP_RUNTIME = "5b600056"
# Reads memory at 2**32 - 1: expanding memory that far costs more gas than a block holds, so it runs out of gas at
# once whatever its limit. An estimate tries the block's 30M gas, which the endless loop would burn (30 s of CPU).
MEMORY_BEYOND_ANY_GAS_RUNTIME = "63ffffffff5100"


@pytest.mark.parametrize(
    ("method", "transaction_of"),
    [
        ("estimate_gas", lambda runtime, poor: {"to": runtime, "from": poor}),
        ("call", lambda runtime, poor: {"to": runtime, "from": poor, "gas": 10**6}),
        ("estimate_gas", lambda runtime, poor: {"to": poor, "from": poor, "value": FUNDS}),
        ("call", lambda runtime, poor: {"to": poor, "from": poor, "value": FUNDS}),
    ],
    ids=["estimate-out-of-gas", "call-out-of-gas", "estimate-beyond-balance", "call-beyond-balance"],
)
def test_failing_calls_answer_json_rpc_errors_like_a_node(
    tmp_path: Path, account: LocalAccount, method: str, transaction_of: Any
) -> None:
    with _start(tmp_path, account) as node:
        runtime = ENDLESS_LOOP_RUNTIME if method == "call" else MEMORY_BEYOND_ANY_GAS_RUNTIME
        address = _deploy(node, account, runtime)
        poor = Account.create().address
        with pytest.raises((Web3RPCError, ContractLogicError)):
            getattr(node.w3.eth, method)(transaction_of(address, poor))


def test_threads_share_one_node(tmp_path: Path) -> None:
    senders = [Account.create() for _ in range(4)]
    errors: list[BaseException] = []
    with EmbeddedNode(state_dir=tmp_path, genesis_accounts={s.address: FUNDS for s in senders}) as node:

        def send_five(sender: LocalAccount) -> None:
            try:
                for _ in range(5):
                    assert send_transaction(node.w3, sender, {"to": sender.address, "value": 1})["status"] == 1
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=send_five, args=(s,)) for s in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert node.w3.eth.block_number == 20
        head = node.w3.eth.get_block("latest")["hash"]
    with EmbeddedNode(state_dir=tmp_path) as again:
        assert again.w3.eth.get_block("latest")["hash"] == head


def test_one_account_from_many_threads_never_reuses_a_nonce(tmp_path: Path, account: LocalAccount) -> None:
    with _start(tmp_path, account) as node:
        receipts = []
        threads = [
            threading.Thread(
                target=lambda: receipts.append(send_transaction(node.w3, account, {"to": account.address}))
            )
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(node.w3.eth.get_transaction(r["transactionHash"])["nonce"] for r in receipts) == list(range(8))


def test_a_second_node_on_the_same_state_dir_is_refused(tmp_path: Path, account: LocalAccount) -> None:
    with _start(tmp_path, account):
        with pytest.raises(StateDirInUse, match=f"in use by another running node \\(pid {os.getpid()}\\)"):
            EmbeddedNode(state_dir=tmp_path)
    with EmbeddedNode(state_dir=tmp_path) as again:  # released on stop
        assert again.w3.eth.get_balance(account.address) == FUNDS


def test_replay_rebuilds_a_few_hundred_blocks_exactly(tmp_path: Path, account: LocalAccount) -> None:
    blocks = 300
    with _start(tmp_path, account) as node:
        for nonce in range(blocks):
            signed = account.sign_transaction(
                {"chainId": node.chain_id, "nonce": nonce, "gas": 21000, "maxFeePerGas": 10**10,
                 "maxPriorityFeePerGas": 1, "to": account.address, "value": 1}
            )  # fmt: skip
            node.chain.send_raw_transaction(Web3.to_hex(signed.raw_transaction))
        head = node.w3.eth.get_block("latest")
    started = time.perf_counter()
    with EmbeddedNode(state_dir=tmp_path) as again:
        elapsed = time.perf_counter() - started
        assert again.chain.replayed_blocks == blocks
        assert again.w3.eth.get_block("latest") == head
    assert elapsed < 30, f"replaying {blocks} blocks took {elapsed:.1f} s"
