"""The chain Segell manages is Segell's alone: no URL it publishes, and no TCP port of its nodes, takes node
administration, impersonation or signing; and a node that dies alone comes back without restarting the API."""

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account

from segell.chain.anvil import AnvilNode
from segell.chain.transactions import send_transaction
from segell.services.runtime import Runtime
from segell.services.sandboxes.service import SandboxService
from tests.chain.test_anvil import listening_ports
from tests.helpers import RunningServer, make_settings, serve

pytestmark = pytest.mark.anvil

RESTART_WAIT = 15.0  # seconds a killed node has to answer again; it is started again after 0.25 s
DANGEROUS = [
    ("anvil_impersonateAccount", lambda target: [target]),
    ("anvil_setBalance", lambda target: [target, hex(10**21)]),
    ("eth_sendTransaction", lambda target: [{"from": target, "to": target, "value": "0x1"}]),
    ("anvil_mine", lambda target: ["0x1"]),
]


def _runtime(server: RunningServer) -> Runtime:
    runtime: Runtime = server.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def _sandboxes(server: RunningServer) -> SandboxService:
    service: SandboxService = server.app.state.sandboxes  # type: ignore[attr-defined]
    return service


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _tcp_ports_of(node: AnvilNode) -> list[int]:
    """Every port anvil said it listens on, over all its starts."""
    return [int(port) for port in re.findall(r"Listening on 127\.0\.0\.1:(\d+)", node.log_file.read_text())]


def _json_rpc(url: str, method: str, params: list[Any], key: str | None = None) -> dict[str, Any] | None:
    """The JSON-RPC answer at ``url``, or None when nothing there speaks JSON-RPC."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}, headers=headers, timeout=5
        )
        answer = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    return answer if isinstance(answer, dict) and ("result" in answer or "error" in answer) else None


def _wait_until(condition: Any, seconds: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{what} within {seconds} s")


def test_health_names_only_the_read_only_rpc_for_a_managed_anvil(anvil_server: RunningServer) -> None:
    node = _runtime(anvil_server).node
    answer = httpx.get(f"{anvil_server.url}/health")
    health = answer.json()
    assert (answer.status_code, health["chain"]["backend"], health["urls"]["rpc"]) == (
        200,
        "anvil",
        f"{anvil_server.url}/rpc",
    )
    assert "rpc_url" not in health["chain"]
    assert str(node.ipc_path) not in answer.text and str(anvil_server.home) not in answer.text
    urls = [text for text in _strings(health) if "://" in text]
    assert urls and all(url == anvil_server.url or url.startswith(f"{anvil_server.url}/") for url in urls)


def test_managed_node_socket_is_0600_in_a_0700_folder(anvil_server: RunningServer) -> None:
    node = _runtime(anvil_server).node
    assert node.ipc_path == anvil_server.home / "chain" / "anvil.ipc"
    assert (node.ipc_path.stat().st_mode & 0o777, node.ipc_path.parent.stat().st_mode & 0o777) == (0o600, 0o700)


def test_no_published_url_or_node_port_takes_impersonation_or_signing(anvil_server: RunningServer) -> None:
    runtime = _runtime(anvil_server)
    key = anvil_server.admit()
    with anvil_server.client(key) as tenant:
        created = tenant.post("/v1/sandboxes", json={"name": "porta", "backend": "anvil"})
    assert created.status_code == 201, created.text
    sandbox = created.json()
    sandbox_node = _sandboxes(anvil_server).manager.get(sandbox["id"])
    assert sandbox_node is not None and isinstance(sandbox_node.node, AnvilNode)
    assert isinstance(runtime.node, AnvilNode)
    health = httpx.get(f"{anvil_server.url}/health").json()
    published = [text for text in _strings(health) if "://" in text] + [sandbox["rpc_url"]]
    node_ports = _tcp_ports_of(runtime.node) + _tcp_ports_of(sandbox_node.node)
    assert len(node_ports) >= 2  # each anvil opened one, in a network namespace of its own
    for pid in (runtime.node.pid, sandbox_node.pid):
        assert pid is not None and os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
        node_ports += listening_ports(pid)  # whatever else it listens on, in that namespace
    target = Account.create().address
    head = runtime.node.w3.eth.block_number
    for method, params in DANGEROUS:
        for url in published:
            answer = _json_rpc(url, method, params(target), key)
            assert answer is None or "result" not in answer, (url, method, answer)
        for port in node_ports:
            assert _json_rpc(f"http://127.0.0.1:{port}", method, params(target)) is None, (port, method)
    assert runtime.node.w3.eth.block_number == head
    assert runtime.node.w3.eth.get_balance(target) == 0


def test_managed_node_killed_alone_is_restarted_and_health_turns_green(anvil_server: RunningServer) -> None:
    node = _runtime(anvil_server).node
    assert isinstance(node, AnvilNode)
    head = httpx.get(f"{anvil_server.url}/health").json()["chain"]["head_block"]
    time.sleep(1.2)  # anvil saves its state every second
    killed, restarts = node.pid, node.restarts
    assert killed is not None
    os.kill(killed, signal.SIGKILL)

    def healthy() -> bool:
        answer = httpx.get(f"{anvil_server.url}/health", timeout=10)
        return answer.status_code == 200 and answer.json()["chain"]["head_block"] is not None

    _wait_until(lambda: node.restarts > restarts and healthy(), RESTART_WAIT, "the API's node was not green again")
    health = httpx.get(f"{anvil_server.url}/health").json()
    assert (health["status"], health["chain"]["head_block"], health["contracts"]["deployed"]) == ("ok", head, True)
    assert node.pid != killed
    rpc = httpx.post(f"{anvil_server.url}/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"})
    assert int(rpc.json()["result"], 16) == head
    anvil_server.admit()  # and the API writes to the chain again
    assert httpx.get(f"{anvil_server.url}/health").json()["chain"]["head_block"] > head


def test_sandbox_node_killed_alone_is_restarted_and_answers_again(anvil_server: RunningServer) -> None:
    key = anvil_server.admit()
    with anvil_server.client(key) as tenant:
        sandbox = tenant.post("/v1/sandboxes", json={"name": "reviu", "backend": "anvil"}).json()
        rpc = f"/v1/sandboxes/{sandbox['id']}/rpc"
        sender = Account.from_key(
            tenant.post(f"/v1/sandboxes/{sandbox['id']}/accounts/export").json()["accounts"][1]["private_key"]
        )
        instance = _sandboxes(anvil_server).manager.get(sandbox["id"])
        assert instance is not None and isinstance(instance.node, AnvilNode)
        send_transaction(instance.node.w3, sender, {"to": sandbox["accounts"][2], "value": 5})
        head = int(tenant.post(rpc, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}).json()["result"], 16)
        time.sleep(1.2)  # anvil saves its state every second
        killed = instance.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)

        def answers() -> bool:
            try:
                answer = tenant.post(rpc, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}).json()
            except httpx.TransportError:  # a kept-alive connection the server closed as it was reused: ask again
                return False
            return "result" in answer and instance.pid != killed

        _wait_until(answers, RESTART_WAIT, "the sandbox's node did not answer again")
        answer = tenant.post(rpc, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}).json()
        assert int(answer["result"], 16) == head
        balance = tenant.post(
            rpc,
            json={"jsonrpc": "2.0", "id": 2, "method": "eth_getBalance", "params": [sandbox["accounts"][2], "latest"]},
        ).json()
        assert int(balance["result"], 16) == 1_000 * 10**18 + 5
        shown = tenant.get(f"/v1/sandboxes/{sandbox['id']}").json()
        assert (shown["status"], shown["head_block"]) == ("running", head)


def test_sandbox_node_socket_is_0600_in_a_0700_folder(anvil_server: RunningServer, tmp_path: Path) -> None:
    key = anvil_server.admit()
    with anvil_server.client(key) as tenant:
        sandbox = tenant.post("/v1/sandboxes", json={"name": "permisos", "backend": "anvil"}).json()
    instance = _sandboxes(anvil_server).manager.get(sandbox["id"])
    assert instance is not None and instance.node.ipc_path == instance.chain_dir / "anvil.ipc"
    socket_mode, folder_mode = instance.node.ipc_path.stat().st_mode, instance.chain_dir.stat().st_mode
    assert (socket_mode & 0o777, folder_mode & 0o777) == (0o600, 0o700)


def test_administration_admitted_just_before_the_node_dies_is_on_chain_after_it_comes_back(
    anvil_server: RunningServer,
) -> None:
    runtime = _runtime(anvil_server)
    node = runtime.node
    assert isinstance(node, AnvilNode)
    restarts = node.restarts
    time.sleep(1.2)  # the contracts are in anvil's state file; the admission below most likely will not be
    with anvil_server.client(anvil_server.governance_key) as governance:
        admitted = governance.post("/v1/administrations", json={"code": "L07000007", "name": "Ajuntament tardà"})
    assert admitted.status_code == 201, admitted.text
    killed = node.pid
    assert killed is not None
    os.kill(killed, signal.SIGKILL)  # most likely before anvil's next state save (every second)
    registry_id = bytes.fromhex(admitted.json()["administration"]["registry_id"][2:])

    def admitted_on_chain() -> bool:
        try:
            return node.restarts > restarts and runtime.registry.is_admitted(registry_id)
        except Exception:  # the node is still coming back
            return False

    _wait_until(admitted_on_chain, RESTART_WAIT, "the admission was not on chain again")
    assert httpx.get(f"{anvil_server.url}/health").json()["status"] == "ok"


def test_sandbox_on_anvil_is_refused_where_anvil_cannot_be_isolated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no unshare; anvil is still found in node_modules
    for server in serve(make_settings(tmp_path / "home")):
        with server.client(server.admit()) as tenant:
            refused = tenant.post("/v1/sandboxes", json={"name": "obert", "backend": "anvil"})
            chosen = tenant.post("/v1/sandboxes", json={"name": "tancat"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (409, "backend_unavailable")
        assert "network namespace" in refused.json()["error"]["message"]
        assert (chosen.status_code, chosen.json()["backend"]) == (201, "embedded")
