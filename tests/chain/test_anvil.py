"""anvil as a managed process: reachable by us alone, funds, keeps its state across stops and crashes, restarts,
never outlives us."""

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from segell.chain import anvil as anvil_module
from segell.chain.anvil import ANVIL_CHAIN_ID, AnvilNode, find_anvil
from segell.chain.keys import DEVELOPMENT_KEYS
from segell.chain.nodes import (
    AnvilNotFound,
    NodeIsolationUnavailable,
    NodeStartFailed,
    NodeUnreachable,
    StateDirInUse,
    start_node,
)
from segell.chain.transactions import send_transaction

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


def listening_ports(pid: int) -> list[int]:
    """TCP ports in LISTEN state in the network namespace of process ``pid``."""
    ports = []
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _answers_json_rpc_over_tcp(port: int, method: str) -> bool:
    try:
        response = httpx.post(
            f"http://127.0.0.1:{port}", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": []}, timeout=2
        )
        return "result" in response.json()
    except (httpx.HTTPError, ValueError):
        return False


@needs_anvil
def test_anvil_starts_on_an_ipc_socket_and_funds_genesis_accounts(tmp_path: Path, account: LocalAccount) -> None:
    with AnvilNode(state_dir=tmp_path, genesis_accounts={account.address: FUNDS}) as node:
        assert node.backend == "anvil"
        assert (node.rpc_url, node.ipc_path) == (None, tmp_path / "anvil.ipc")
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
from segell.chain.anvil import AnvilNode
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
def test_a_second_anvil_on_the_same_state_dir_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with AnvilNode(state_dir=tmp_path), monkeypatch.context() as patch:
        # A second node waits for the state directory as long as a stopping node may take to let go of it (10 s):
        # a running node never lets go, so a shorter wait ends in the same refusal.
        patch.setattr(anvil_module, "_STOP_TIMEOUT", 0.5)
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
def test_anvil_socket_is_mode_0600_in_a_0700_folder(tmp_path: Path) -> None:
    state_dir = tmp_path / "chain"
    with AnvilNode(state_dir=state_dir) as node:
        assert node.ipc_path is not None
        socket_mode = node.ipc_path.stat().st_mode
        assert stat.S_ISSOCK(socket_mode) and stat.S_IMODE(socket_mode) == 0o600
        assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700


@needs_anvil
def test_anvil_tcp_port_is_unreachable_from_this_machine(tmp_path: Path, account: LocalAccount) -> None:
    with AnvilNode(state_dir=tmp_path, genesis_accounts={account.address: FUNDS}) as node:
        assert node.pid is not None
        reported = [int(port) for port in re.findall(r"Listening on 127\.0\.0\.1:(\d+)", node.log_file.read_text())]
        ports = listening_ports(node.pid)
        assert reported and reported[-1] in ports  # anvil does open a port, in a network namespace of its own
        assert os.readlink(f"/proc/{node.pid}/ns/net") != os.readlink("/proc/self/ns/net")
        for port in ports:
            assert not _answers_json_rpc_over_tcp(port, "anvil_nodeInfo"), f"anvil answers on 127.0.0.1:{port}"
        info = node.w3.provider.make_request("anvil_nodeInfo", [])  # type: ignore[arg-type]
        assert int(info["result"]["currentBlockNumber"], 16) == node.w3.eth.block_number  # only over the socket


@needs_anvil
def test_anvil_holds_no_account_to_send_from(tmp_path: Path, account: LocalAccount) -> None:
    developer = Account.from_key(DEVELOPMENT_KEYS[0])
    with AnvilNode(state_dir=tmp_path, genesis_accounts={developer.address: FUNDS}) as node:
        assert node.w3.eth.accounts == []
        sent = node.w3.provider.make_request(  # type: ignore[arg-type]
            "eth_sendTransaction", [{"from": developer.address, "to": account.address, "value": "0x1"}]
        )
        assert "error" in sent and "result" not in sent
        assert node.w3.eth.get_balance(account.address) == 0
        log = node.log_file.read_text()
    assert not [key for key in DEVELOPMENT_KEYS if "0x" + key.hex() in log]


@needs_anvil
def test_anvil_killed_alone_is_started_again_from_its_state(tmp_path: Path, account: LocalAccount) -> None:
    with AnvilNode(state_dir=tmp_path, genesis_accounts={account.address: FUNDS}) as node:
        receipt = send_transaction(node.w3, account, {"to": account.address, "value": 1})
        time.sleep(1.5)  # --state-interval 1
        first_pid = node.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        found = None
        while (found is None or node.restarts == 0) and time.monotonic() < deadline:
            try:
                found = node.w3.eth.get_transaction_receipt(receipt["transactionHash"])
            except NodeUnreachable:
                time.sleep(0.1)
        assert found is not None, "anvil was not started again within 10 s"
        assert found["blockHash"] == receipt["blockHash"]
        assert (node.restarts, node.pid != first_pid) == (1, True)
        assert stat.S_IMODE(tmp_path.joinpath("anvil.ipc").stat().st_mode) == 0o600
        again = send_transaction(node.w3, account, {"to": account.address, "value": 1})
        assert again["blockNumber"] == receipt["blockNumber"] + 1


@needs_anvil
def test_anvil_reached_through_a_socket_path_longer_than_unix_allows(tmp_path: Path, account: LocalAccount) -> None:
    state_dir = tmp_path.joinpath(*["a-directory-with-a-long-name"] * 4)
    assert len(str(state_dir / "anvil.ipc")) > 108
    with AnvilNode(state_dir=state_dir, genesis_accounts={account.address: FUNDS}) as node:
        assert node.w3.eth.get_balance(account.address) == FUNDS
        with start_node(str(state_dir / "anvil.ipc"), state_dir=tmp_path / "unused") as reader:
            assert (reader.backend, reader.ipc_path, reader.chain_id) == ("rpc", state_dir / "anvil.ipc", 31337)
            assert reader.w3.eth.get_balance(account.address) == FUNDS


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


@pytest.fixture
def no_unshare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # anvil is still found in node_modules


@needs_anvil
@pytest.mark.usefixtures("no_unshare")
def test_anvil_without_unshare_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NodeIsolationUnavailable) as raised:
        start_node("anvil", state_dir=tmp_path / "chain")
    message = str(raised.value)
    assert "`unshare` is not on PATH" in message and "--chain embedded" in message
    assert not (tmp_path / "chain").exists()


@needs_anvil
def test_anvil_where_no_namespace_can_be_made_is_refused(tmp_path: Path) -> None:
    refusing = tmp_path / "unshare"
    refusing.write_text("#!/bin/sh\necho 'unshare: unshare failed: Operation not permitted' >&2\nexit 1\n")
    refusing.chmod(0o755)
    with pytest.raises(NodeIsolationUnavailable, match="(?s)Operation not permitted.*--chain embedded"):
        AnvilNode(state_dir=tmp_path / "chain", unshare=refusing)
    assert not (tmp_path / "chain").exists()


@needs_anvil
@pytest.mark.usefixtures("no_unshare")
def test_auto_takes_embedded_when_anvil_cannot_be_isolated(tmp_path: Path) -> None:
    with start_node("auto", state_dir=tmp_path) as node:
        assert node.backend == "embedded"


@pytest.mark.usefixtures("no_anvil_anywhere")
def test_auto_falls_back_to_embedded_without_anvil(tmp_path: Path) -> None:
    with start_node("auto", state_dir=tmp_path) as node:
        assert node.backend == "embedded"


def test_explicit_anvil_path_that_is_wrong_is_reported(tmp_path: Path) -> None:
    with pytest.raises(AnvilNotFound, match=f"anvil not found at {tmp_path / 'nope'}"):
        find_anvil(tmp_path / "nope")


@needs_anvil
def test_anvil_runs_in_an_unprivileged_namespace_where_only_that_can_be_made(
    tmp_path: Path, account: LocalAccount
) -> None:
    real = shutil.which("unshare")
    if real is None:
        pytest.skip("util-linux unshare is not installed")
    # An unshare that behaves as it does for a user who may not create a network namespace alone.
    unprivileged = tmp_path / "unshare"
    unprivileged.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-n" ]; then echo "unshare: unshare failed: Operation not permitted" >&2; exit 1; fi\n'
        f'exec {real} "$@"\n'
    )
    unprivileged.chmod(0o755)
    with AnvilNode(
        state_dir=tmp_path / "chain", genesis_accounts={account.address: FUNDS}, unshare=unprivileged
    ) as node:
        assert node.isolation == [str(unprivileged), "-rn", "--"]
        assert node.pid is not None
        assert os.readlink(f"/proc/{node.pid}/ns/user") != os.readlink("/proc/self/ns/user")
        assert os.readlink(f"/proc/{node.pid}/ns/net") != os.readlink("/proc/self/ns/net")
        assert node.w3.eth.get_balance(account.address) == FUNDS
        assert node.ipc_path is not None and node.ipc_path.stat().st_uid == os.getuid()


@needs_anvil
def test_calls_to_a_stopped_anvil_fail_at_once_instead_of_waiting(tmp_path: Path) -> None:
    node = AnvilNode(state_dir=tmp_path)
    assert node.w3.eth.block_number == 0  # a pooled connection, left open to the node about to die
    node.kill()
    started = time.monotonic()
    with pytest.raises(NodeUnreachable, match="no chain node listens on"):
        node.w3.eth.block_number  # noqa: B018
    assert time.monotonic() - started < 2
    assert node.restarts == 0 and node.process is not None and node.process.returncode == -signal.SIGKILL
