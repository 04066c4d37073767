"""anvil as a managed process: starts, funds, keeps its state across stops and crashes, never outlives us."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain import anvil as anvil_module
from chain.anvil import ANVIL_CHAIN_ID, AnvilNode, find_anvil
from chain.keys import DEVELOPMENT_KEYS
from chain.nodes import AnvilNotFound, NodeStartFailed, StateDirInUse, start_node
from chain.transactions import send_transaction

FUNDS = 10**21
REPO = Path(__file__).resolve().parents[2]
CANCUN_INIT = "0x6017600a5f3960175ff3602a5f5260205f60205e6020515f5d5f5c5f5260205ff3"

try:
    find_anvil()
    HAVE_ANVIL = True
except AnvilNotFound:
    HAVE_ANVIL = False


def needs_anvil(test: Callable[..., None]) -> Callable[..., None]:
    marked: Callable[..., None] = pytest.mark.anvil(
        pytest.mark.skipif(not HAVE_ANVIL, reason="anvil not installed (make setup installs it from npm)")(test)
    )
    return marked


@pytest.fixture
def account() -> LocalAccount:
    created: LocalAccount = Account.create()
    return created


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has exited
    except FileNotFoundError:
        return True


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.05)
    return False


@needs_anvil
def test_anvil_starts_on_loopback_and_funds_genesis_accounts(tmp_path: Path, account: LocalAccount) -> None:
    with AnvilNode(state_dir=tmp_path, genesis_accounts={account.address: FUNDS}) as node:
        assert node.backend == "anvil"
        assert node.rpc_url is not None and node.rpc_url.startswith("http://127.0.0.1:")
        assert node.chain_id == node.w3.eth.chain_id == ANVIL_CHAIN_ID
        assert node.is_local_dev is True
        assert node.w3.eth.get_balance(account.address) == FUNDS
        assert node.pid is not None and not _gone(node.pid)
        assert "--hardfork" in node.process.args and "cancun" in node.process.args  # type: ignore[union-attr]
        receipt = send_transaction(node.w3, account, {"data": CANCUN_INIT})
        assert receipt["status"] == 1
        assert int.from_bytes(node.w3.eth.call({"to": receipt["contractAddress"]}), "big") == 42


@needs_anvil
def test_anvil_stop_returns_after_exit_and_state_survives(tmp_path: Path, account: LocalAccount) -> None:
    with AnvilNode(state_dir=tmp_path, genesis_accounts={account.address: FUNDS}) as node:
        receipt = send_transaction(node.w3, account, {"data": CANCUN_INIT})
        block = node.w3.eth.get_block(receipt["blockNumber"])
        pid = node.pid
    assert pid is not None and _gone(pid)
    assert (tmp_path / "anvil-state.json").stat().st_size > 0

    with AnvilNode(state_dir=tmp_path, genesis_accounts={account.address: FUNDS}) as again:
        assert again.w3.eth.get_block(receipt["blockNumber"])["hash"] == block["hash"]
        assert again.w3.eth.get_transaction_receipt(receipt["transactionHash"])["blockHash"] == block["hash"]
        assert int.from_bytes(again.w3.eth.call({"to": receipt["contractAddress"]}), "big") == 42


@needs_anvil
def test_anvil_state_survives_kill_9_of_anvil(tmp_path: Path, account: LocalAccount) -> None:
    node = AnvilNode(state_dir=tmp_path, genesis_accounts={account.address: FUNDS})
    receipt = send_transaction(node.w3, account, {"to": account.address, "value": 1})
    time.sleep(1.5)  # --state-interval 1
    node.kill()

    with AnvilNode(state_dir=tmp_path, genesis_accounts={account.address: FUNDS}) as again:
        found = again.w3.eth.get_transaction_receipt(receipt["transactionHash"])
        assert found["blockHash"] == receipt["blockHash"]
        assert found["status"] == 1


@needs_anvil
def test_anvil_dies_when_the_python_process_is_killed(tmp_path: Path) -> None:
    starter = f"""
import sys, threading, time
sys.path.insert(0, {str(REPO)!r})
from pathlib import Path
from chain.anvil import AnvilNode
holder = {{}}
# Started from a short-lived thread on purpose: anvil must outlive that thread, but not the process.
thread = threading.Thread(target=lambda: holder.update(node=AnvilNode(state_dir=Path({str(tmp_path)!r}))))
thread.start(); thread.join()
print(holder["node"].pid, flush=True)
time.sleep(600)
"""
    process = subprocess.Popen([sys.executable, "-c", starter], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    anvil_pid = int(process.stdout.readline())
    time.sleep(0.5)
    assert not _gone(anvil_pid), "anvil died with the thread that started it"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    assert _wait_gone(anvil_pid, 5), f"anvil (pid {anvil_pid}) outlived its parent"


def test_anvil_start_failure_shows_the_log(tmp_path: Path) -> None:
    impostor = tmp_path / "anvil"
    impostor.write_text("#!/bin/sh\necho 'error: the state file is not valid JSON' >&2\nexit 3\n")
    impostor.chmod(0o755)
    with pytest.raises(NodeStartFailed, match="(?s)exit code 3.*not valid JSON"):
        AnvilNode(state_dir=tmp_path / "state", binary=impostor, startup_timeout=5)


@needs_anvil
def test_a_second_anvil_on_the_same_state_dir_is_refused(tmp_path: Path) -> None:
    with AnvilNode(state_dir=tmp_path):
        with pytest.raises(StateDirInUse):
            AnvilNode(state_dir=tmp_path)


@needs_anvil
def test_anvil_funds_with_set_balance_not_development_keys(tmp_path: Path, account: LocalAccount) -> None:
    with AnvilNode(state_dir=tmp_path, genesis_accounts={account.address: FUNDS}) as node:
        developer = Account.from_key(DEVELOPMENT_KEYS[0])
        assert node.w3.eth.get_transaction_count(developer.address) == 0
        assert node.w3.eth.block_number == 0
        assert "anvil_setBalance" in node.log_file.read_text()


@needs_anvil
def test_anvil_prints_the_development_keys_segell_refuses(tmp_path: Path) -> None:
    with AnvilNode(state_dir=tmp_path) as node:
        log = node.log_file.read_text()
    for key in DEVELOPMENT_KEYS:
        assert "0x" + key.hex() in log


@needs_anvil
@pytest.mark.parametrize("spec", ["anvil", "auto"])
def test_start_node_picks_anvil(tmp_path: Path, spec: str) -> None:
    with start_node(spec, state_dir=tmp_path) as node:
        assert node.backend == "anvil"
        assert node.chain_id == ANVIL_CHAIN_ID


# -- without anvil: these run everywhere ---------------------------------------------------------------------


@pytest.fixture
def no_anvil_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr(anvil_module, "_REPO_ROOT", tmp_path / "no-repo")


@pytest.mark.usefixtures("no_anvil_anywhere")
def test_missing_anvil_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(AnvilNotFound) as raised:
        start_node("anvil", state_dir=tmp_path)
    message = str(raised.value)
    assert "make setup" in message
    assert "@foundry-rs/anvil-linux-amd64" in message
    assert "--chain embedded" in message


@pytest.mark.usefixtures("no_anvil_anywhere")
def test_auto_falls_back_to_embedded_without_anvil(tmp_path: Path) -> None:
    with start_node("auto", state_dir=tmp_path) as node:
        assert node.backend == "embedded"


def test_explicit_anvil_path_that_is_wrong_is_reported(tmp_path: Path) -> None:
    with pytest.raises(AnvilNotFound, match=f"anvil not found at {tmp_path / 'nope'}"):
        find_anvil(tmp_path / "nope")
