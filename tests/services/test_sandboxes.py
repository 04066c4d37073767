"""Sandboxes over real HTTP: created on anvil and on the embedded EVM, used through the proxied JSON-RPC, snapshotted,
reverted, reset, extended, reaped and deleted; quotas; and one tenant never reaching another's sandbox."""

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from eth_account import Account
from web3 import HTTPProvider, Web3

from segell.chain.anvil import find_anvil
from segell.chain.ipc import connect_unix
from segell.chain.node_admin import MAX_MINED_BLOCKS
from segell.chain.nodes import AnvilNotFound
from segell.chain.registry import RegistryClient
from segell.chain.transactions import send_transaction
from segell.services.sandboxes.service import ACCOUNT_FUNDS_WEI, SandboxService, owned_sandbox
from segell.services.sandboxes.settings import SandboxSettings
from tests.helpers import RunningServer, make_settings, serve

try:
    find_anvil()
    HAVE_ANVIL = True
except AnvilNotFound:
    HAVE_ANVIL = False

needs_anvil = pytest.mark.skipif(not HAVE_ANVIL, reason="anvil not installed (make setup installs it from npm)")
BACKENDS = [pytest.param("anvil", marks=[pytest.mark.anvil, needs_anvil]), "embedded"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = make_settings(
        tmp_path_factory.mktemp("segell-sandboxes"), SandboxSettings(max_lifetime=7200, max_snapshots=3)
    )
    yield from serve(settings)


def service_of(server: RunningServer) -> SandboxService:
    service: SandboxService = server.app.state.sandboxes  # type: ignore[attr-defined]
    return service


class Tenant:
    """An administration's view of the API: its key, an HTTP client, and helpers for its sandboxes."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.key = server.admit()
        self.http = server.client(self.key)

    def create(self, backend: str | None = "anvil", **fields: Any) -> dict[str, Any]:
        body = {"name": "proves", **fields}
        if backend is not None:
            body["backend"] = backend
        response = self.http.post("/v1/sandboxes", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def rpc(self, sandbox_id: str, method: str, params: list[Any] | None = None) -> dict[str, Any]:
        response = self.http.post(
            f"/v1/sandboxes/{sandbox_id}/rpc",
            json={"jsonrpc": "2.0", "id": 7, "method": method, "params": params or []},
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def web3(self, sandbox: dict[str, Any]) -> Web3:
        """web3 over the API's JSON-RPC proxy, authenticated with this tenant's key."""
        provider = HTTPProvider(sandbox["rpc_url"], request_kwargs={"headers": {"Authorization": f"Bearer {self.key}"}})
        return Web3(provider)

    def exported_keys(self, sandbox_id: str) -> list[dict[str, str]]:
        response = self.http.post(f"/v1/sandboxes/{sandbox_id}/accounts/export")
        assert response.status_code == 200, response.text
        return list(response.json()["accounts"])

    def delete_all(self) -> None:
        for sandbox in self.http.get("/v1/sandboxes").json()["items"]:
            self.http.delete(f"/v1/sandboxes/{sandbox['id']}")
        self.http.close()


@pytest.fixture
def tenant(server: RunningServer) -> Iterator[Tenant]:
    tenant = Tenant(server)
    yield tenant
    tenant.delete_all()


@pytest.fixture
def other_tenant(server: RunningServer) -> Iterator[Tenant]:
    tenant = Tenant(server)
    yield tenant
    tenant.delete_all()


def processes_using(directory: str) -> list[psutil.Process]:
    """Live processes whose command line mentions ``directory`` (a sandbox's anvil names its state file there)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(directory in part for part in process.info["cmdline"] or []):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def socket_accepts(path: Path) -> bool:
    """Whether a node listens on the IPC socket ``path`` (a sandbox's anvil has no other way in)."""
    try:
        connect_unix(path, timeout=1).close()
    except OSError:
        return False
    return True


def assert_error(response: httpx.Response, status_code: int, code: str) -> str:
    assert response.status_code == status_code, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return str(error["message"])


# --- create and reach --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_create_sandbox_deploys_contracts_admits_owner_and_funds_accounts(tenant: Tenant, backend: str) -> None:
    sandbox = tenant.create(backend)
    assert sandbox["status"] == "running" and sandbox["backend"] == backend
    w3 = tenant.web3(sandbox)
    assert w3.eth.chain_id == sandbox["chain_id"]
    registry = RegistryClient(w3, sandbox["contracts"]["registry"])
    member, *others = sandbox["accounts"]
    assert registry.is_active_member(member)
    assert not any(registry.is_active_member(address) for address in others)
    assert registry.has_governance_role(sandbox["governance"])
    assert len(w3.eth.get_code(Web3.to_checksum_address(sandbox["contracts"]["notary"]))) > 0
    assert [w3.eth.get_balance(address) for address in sandbox["accounts"]] == [ACCOUNT_FUNDS_WEI] * 3


@needs_anvil
def test_sandboxes_are_separate_chains(tenant: Tenant) -> None:
    first, second = tenant.create("anvil"), tenant.create("anvil")
    assert first["chain_id"] != second["chain_id"]
    assert not set(first["accounts"]) & set(second["accounts"])
    second_w3 = tenant.web3(second)
    assert second_w3.eth.get_balance(first["accounts"][0]) == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_owner_sends_raw_transactions_through_the_proxy(tenant: Tenant, backend: str) -> None:
    sandbox = tenant.create(backend)
    w3 = tenant.web3(sandbox)
    keys = tenant.exported_keys(sandbox["id"])
    assert [key["address"] for key in keys] == sandbox["accounts"]
    assert [key["role"] for key in keys] == ["member", "funded", "funded"]
    sender = Account.from_key(keys[1]["private_key"])
    assert sender.address == keys[1]["address"]
    receipt = send_transaction(w3, sender, {"to": sandbox["accounts"][2], "value": 12345})
    assert receipt["status"] == 1
    assert w3.eth.get_balance(sandbox["accounts"][2]) == ACCOUNT_FUNDS_WEI + 12345


def test_account_keys_are_sealed_at_rest(server: RunningServer, tenant: Tenant) -> None:
    sandbox = tenant.create("embedded")
    private_keys = [key["private_key"][2:] for key in tenant.exported_keys(sandbox["id"])]
    database = (server.home / "segell.db").read_bytes()
    for wal in server.home.glob("segell.db-wal"):
        database += wal.read_bytes()
    assert all(key.encode() not in database and bytes.fromhex(key) not in database for key in private_keys)


@pytest.mark.parametrize("method", ["anvil_setBalance", "evm_mine", "hardhat_impersonateAccount", "anvil_mine"])
def test_proxy_refuses_node_administration_methods(tenant: Tenant, method: str) -> None:
    sandbox = tenant.create("embedded")
    answer = tenant.rpc(sandbox["id"], method, [])
    assert answer["id"] == 7
    assert answer["error"]["code"] == -32601
    assert "node_admin" in answer["error"]["message"]


def test_proxy_refuses_signing_by_the_node(tenant: Tenant) -> None:
    sandbox = tenant.create("embedded")
    answer = tenant.rpc(sandbox["id"], "eth_sendTransaction", [{"from": sandbox["accounts"][0], "value": "0x1"}])
    assert answer["error"]["code"] == -32601
    assert "eth_sendRawTransaction" in answer["error"]["message"]


@needs_anvil
@pytest.mark.anvil
def test_proxy_passes_node_administration_methods_when_enabled(tenant: Tenant) -> None:
    sandbox = tenant.create("anvil", node_admin=True)
    before = int(tenant.rpc(sandbox["id"], "eth_blockNumber")["result"], 16)
    assert tenant.rpc(sandbox["id"], "anvil_mine", ["0x3"])["result"] is None
    assert int(tenant.rpc(sandbox["id"], "eth_blockNumber")["result"], 16) == before + 3


class ConnectionCounter:
    """A TCP listener on loopback that accepts and counts connections, answering nothing."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.socket.close()


@pytest.fixture
def listener() -> Iterator[ConnectionCounter]:
    counter = ConnectionCounter()
    yield counter
    counter.close()


@needs_anvil
@pytest.mark.anvil
def test_node_admin_methods_that_reach_a_url_are_refused_and_fetch_nothing(
    tenant: Tenant, listener: ConnectionCounter
) -> None:
    sandbox = tenant.create("anvil", node_admin=True)
    forking = {"forking": {"jsonRpcUrl": listener.url, "blockNumber": 1}}
    attempts = {
        "anvil_reset": ([forking], -32602, "anvil_reset takes no forking"),
        "hardhat_reset": ([forking], -32602, "hardhat_reset takes no forking"),
        "anvil_setRpcUrl": ([listener.url], -32601, "reaches nothing outside itself"),
    }
    for method, (params, code, message) in attempts.items():
        answer = tenant.rpc(sandbox["id"], method, params)
        assert answer["error"]["code"] == code, (method, answer)
        assert message in answer["error"]["message"], (method, answer)
    time.sleep(0.5)
    assert listener.connections == 0
    # The chain is untouched, and a reset without forking still empties it.
    assert int(tenant.rpc(sandbox["id"], "eth_blockNumber")["result"], 16) == 4
    assert tenant.rpc(sandbox["id"], "anvil_reset", [])["result"] is None
    assert tenant.rpc(sandbox["id"], "eth_blockNumber")["result"] == "0x0"


@needs_anvil
@pytest.mark.anvil
def test_node_admin_methods_outside_the_allow_list_are_refused(tenant: Tenant) -> None:
    sandbox = tenant.create("anvil", node_admin=True)
    refused = {
        "anvil_loadState": ["0x1f8b"],
        "anvil_setChainId": ["0x1"],
        "anvil_setExecutor": ["0x" + "11" * 32],
        "anvil_setLoggingEnabled": [True],
        "anvil_someMethodOfTomorrow": [],
        "ganache_anything": [],
    }
    for method, params in refused.items():
        answer = tenant.rpc(sandbox["id"], method, params)
        assert answer["error"]["code"] == -32601, (method, answer)
        assert answer["error"]["message"].startswith(f"{method} is refused: "), answer
        assert "docs/sandboxes.md" in answer["error"]["message"]
    assert tenant.rpc(sandbox["id"], "eth_chainId")["result"] == hex(sandbox["chain_id"])
    call = {"to": sandbox["contracts"]["registry"], "data": "0x"}
    traced = tenant.rpc(sandbox["id"], "debug_traceCall", [call, "latest", {"tracer": "callTracer"}])
    assert traced["result"]["to"].lower() == sandbox["contracts"]["registry"].lower()
    script = tenant.rpc(sandbox["id"], "debug_traceCall", [call, "latest", {"tracer": "{step: function() {}}"}])
    assert script["error"]["code"] == -32602
    assert "built-in tracers" in script["error"]["message"]


@needs_anvil
@pytest.mark.anvil
def test_node_admin_mining_refuses_more_blocks_than_the_limit(tenant: Tenant) -> None:
    sandbox = tenant.create("anvil", node_admin=True)
    for method, params in {
        "anvil_mine": [hex(MAX_MINED_BLOCKS + 1)],
        "hardhat_mine": ["0xffffffffffffffff", "0x0"],
        "evm_mine": [{"blocks": 100_000}],
        "anvil_mine_detailed": [{"blocks": "many"}],
    }.items():
        answer = tenant.rpc(sandbox["id"], method, params)
        assert answer["error"]["code"] == -32602, (method, answer)
        assert f"at most {MAX_MINED_BLOCKS} blocks per call" in answer["error"]["message"]
    assert tenant.rpc(sandbox["id"], "eth_blockNumber")["result"] == "0x4"
    assert tenant.rpc(sandbox["id"], "anvil_mine", [hex(MAX_MINED_BLOCKS), "0x0"])["result"] is None
    assert int(tenant.rpc(sandbox["id"], "eth_blockNumber")["result"], 16) == 4 + MAX_MINED_BLOCKS


def test_proxy_refuses_nested_batches_instead_of_answering_them(tenant: Tenant) -> None:
    sandbox = tenant.create("embedded")
    call = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}
    nested = [[call] * 100] * 100
    answers = tenant.http.post(f"/v1/sandboxes/{sandbox['id']}/rpc", json=nested).json()
    assert len(answers) == 100
    assert {answer["error"]["code"] for answer in answers} == {-32600}
    assert all("result" not in answer and answer["id"] is None for answer in answers)
    assert "not batches" in answers[0]["error"]["message"]


def test_proxy_answers_batches_and_notifications(tenant: Tenant) -> None:
    sandbox = tenant.create("embedded")
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "method": "eth_blockNumber"},  # a notification: no answer
        {"jsonrpc": "2.0", "id": 3, "method": "evm_snapshot"},
    ]
    answers = tenant.http.post(f"/v1/sandboxes/{sandbox['id']}/rpc", json=batch).json()
    assert [answer["id"] for answer in answers] == [1, 3]
    assert int(answers[0]["result"], 16) == sandbox["chain_id"]
    assert answers[1]["error"]["code"] == -32601
    only_notification = tenant.http.post(
        f"/v1/sandboxes/{sandbox['id']}/rpc", json={"jsonrpc": "2.0", "method": "eth_blockNumber"}
    )
    assert only_notification.status_code == 204


def test_anvil_asked_for_where_it_is_absent_answers_409(tmp_path_factory: pytest.TempPathFactory) -> None:
    settings = make_settings(tmp_path_factory.mktemp("no-anvil"), anvil_binary="/nonexistent/anvil")
    for server in serve(settings):
        tenant = Tenant(server)
        message = assert_error(
            tenant.http.post("/v1/sandboxes", json={"name": "x", "backend": "anvil"}), 409, "backend_unavailable"
        )
        assert "embedded" in message
        assert tenant.create(backend=None)["backend"] == "embedded"
        tenant.delete_all()


def test_governance_key_cannot_create_sandboxes(server: RunningServer) -> None:
    with server.client(server.governance_key) as governance:
        response = governance.post("/v1/sandboxes", json={"name": "x", "backend": "embedded"})
    assert_error(response, 403, "administration_key_required")


# --- life cycle --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_show_reports_head_block_transactions_uptime_and_expiry(tenant: Tenant, backend: str) -> None:
    sandbox = tenant.create(backend, ttl_seconds=600)
    shown = tenant.http.get(f"/v1/sandboxes/{sandbox['id']}").json()
    # The registry and the notary deployed, the owner admitted and its account added: four transactions.
    assert (shown["head_block"], shown["transaction_count"]) == (4, 4)
    assert shown["uptime_seconds"] >= 0
    lifetime = (_parse(shown["expires_at"]) - _parse(shown["created_at"])).total_seconds()
    assert lifetime == 600
    sender = Account.from_key(tenant.exported_keys(sandbox["id"])[1]["private_key"])
    send_transaction(tenant.web3(sandbox), sender, {"to": sandbox["accounts"][0], "value": 1})
    shown = tenant.http.get(f"/v1/sandboxes/{sandbox['id']}").json()
    assert (shown["head_block"], shown["transaction_count"]) == (5, 5)


def _parse(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_revert_to_a_snapshot_and_reset_restore_the_chain(tenant: Tenant, backend: str) -> None:
    sandbox = tenant.create(backend)
    sandbox_id, receiver = sandbox["id"], sandbox["accounts"][2]
    sender = Account.from_key(tenant.exported_keys(sandbox_id)[1]["private_key"])
    send_transaction(tenant.web3(sandbox), sender, {"to": receiver, "value": 100})
    snapshot = tenant.http.post(f"/v1/sandboxes/{sandbox_id}/snapshots", json={"name": "after first"})
    assert snapshot.status_code == 201, snapshot.text
    assert snapshot.json()["head_block"] == 5
    send_transaction(tenant.web3(sandbox), sender, {"to": receiver, "value": 10})
    assert tenant.web3(sandbox).eth.get_balance(receiver) == ACCOUNT_FUNDS_WEI + 110

    for _ in range(2):  # a snapshot can be reverted to again and again
        reverted = tenant.http.post(f"/v1/sandboxes/{sandbox_id}/snapshots/{snapshot.json()['id']}/revert")
        assert reverted.status_code == 200, reverted.text
        assert reverted.json()["head_block"] == 5
        assert tenant.web3(sandbox).eth.get_balance(receiver) == ACCOUNT_FUNDS_WEI + 100
        send_transaction(tenant.web3(sandbox), sender, {"to": receiver, "value": 1})

    reset = tenant.http.post(f"/v1/sandboxes/{sandbox_id}/reset")
    assert reset.status_code == 200, reset.text
    assert (reset.json()["head_block"], reset.json()["transaction_count"]) == (4, 4)
    w3 = tenant.web3(sandbox)
    assert w3.eth.get_balance(receiver) == ACCOUNT_FUNDS_WEI
    assert RegistryClient(w3, sandbox["contracts"]["registry"]).is_active_member(sandbox["accounts"][0])
    listed = tenant.http.get(f"/v1/sandboxes/{sandbox_id}/snapshots").json()["items"]
    assert [item["name"] for item in listed] == ["after first"]


def test_revert_to_an_unknown_snapshot_answers_404(tenant: Tenant) -> None:
    sandbox = tenant.create("embedded")
    response = tenant.http.post(f"/v1/sandboxes/{sandbox['id']}/snapshots/snap_0000/revert")
    assert "snapshots lists them" in assert_error(response, 404, "not_found")


def test_extend_adds_time_within_the_maximum_lifetime(tenant: Tenant) -> None:
    sandbox = tenant.create("embedded", ttl_seconds=3600)
    extended = tenant.http.post(f"/v1/sandboxes/{sandbox['id']}/extend", json={"seconds": 1800})
    assert extended.status_code == 200, extended.text
    assert _parse(extended.json()["expires_at"]) - _parse(sandbox["expires_at"]) == timedelta(seconds=1800)
    # The server allows 7200 s in all: 5400 are used, 1800 remain.
    refused = tenant.http.post(f"/v1/sandboxes/{sandbox['id']}/extend", json={"seconds": 1801})
    message = assert_error(refused, 409, "sandbox_lifetime_exhausted")
    assert "1800 more seconds" in message
    assert refused.json()["error"]["details"]["extendable_seconds"] == 1800


def test_ttl_over_the_maximum_lifetime_answers_409(tenant: Tenant) -> None:
    response = tenant.http.post("/v1/sandboxes", json={"name": "x", "backend": "embedded", "ttl_seconds": 7201})
    assert "7200" in assert_error(response, 409, "sandbox_lifetime_exceeded")
    assert response.json()["error"]["details"] == {"max_lifetime_seconds": 7200}


def test_quota_of_sandboxes_at_once_answers_409_saying_what_to_do(server: RunningServer, tenant: Tenant) -> None:
    limit = server.settings.section(SandboxSettings).max_per_administration
    created = [tenant.create("embedded") for _ in range(limit)]
    message = assert_error(
        tenant.http.post("/v1/sandboxes", json={"name": "one too many", "backend": "embedded"}),
        409,
        "sandbox_quota_exhausted",
    )
    assert "Delete one" in message
    assert tenant.http.delete(f"/v1/sandboxes/{created[0]['id']}").status_code == 200
    tenant.create("embedded")  # a place is free again


@pytest.mark.parametrize("backend", BACKENDS)
def test_delete_stops_the_node_frees_its_port_and_erases_its_state(
    server: RunningServer, tenant: Tenant, backend: str
) -> None:
    sandbox = tenant.create(backend)
    instance = service_of(server).manager.get(sandbox["id"])
    assert instance is not None
    directory, node_socket, pid = str(instance.directory), instance.node.ipc_path, instance.pid
    if backend == "anvil":
        assert pid is not None and psutil.pid_exists(pid) and node_socket and socket_accepts(node_socket)
        assert processes_using(directory)
    deleted = tenant.http.delete(f"/v1/sandboxes/{sandbox['id']}")
    assert deleted.status_code == 200 and deleted.json()["status"] == "deleted"
    assert processes_using(directory) == []
    if node_socket:
        assert not socket_accepts(node_socket)
    assert not instance.directory.exists()
    shown = tenant.http.get(f"/v1/sandboxes/{sandbox['id']}").json()
    assert (shown["status"], shown["head_block"]) == ("deleted", None)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("DELETE", "", None),
        ("POST", "/rpc", {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}),
        ("POST", "/snapshots", {}),
        ("POST", "/reset", None),
        ("POST", "/extend", {"seconds": 60}),
        ("POST", "/accounts/export", None),
        ("POST", "/snapshots/snap_x/revert", None),
    ],
)
def test_a_deleted_sandbox_answers_409_saying_so(
    tenant: Tenant, method: str, path: str, body: dict[str, Any] | None
) -> None:
    sandbox = tenant.create("embedded")
    assert tenant.http.delete(f"/v1/sandboxes/{sandbox['id']}").status_code == 200
    response = tenant.http.request(method, f"/v1/sandboxes/{sandbox['id']}{path}", json=body)
    assert "was deleted" in assert_error(response, 409, "sandbox_deleted")


@pytest.mark.parametrize("backend", BACKENDS)
def test_reaper_removes_expired_sandboxes(server: RunningServer, tenant: Tenant, backend: str) -> None:
    service = service_of(server)
    sandbox = tenant.create(backend, ttl_seconds=60)
    keeper = tenant.create("embedded", ttl_seconds=3600)
    instance = service.manager.get(sandbox["id"])
    assert instance is not None
    directory, node_socket = str(instance.directory), instance.node.ipc_path
    real_clock = service.clock
    service.clock = lambda: real_clock() + timedelta(seconds=61)
    try:
        with service.reaped:
            sweeps = service.sweeps
            service.wake_reaper()
            assert service.reaped.wait_for(lambda: service.sweeps > sweeps, timeout=60)
    finally:
        service.clock = real_clock
    assert service.manager.get(sandbox["id"]) is None
    assert processes_using(directory) == []
    assert node_socket is None or not socket_accepts(node_socket)
    shown = tenant.http.get(f"/v1/sandboxes/{sandbox['id']}").json()
    assert shown["status"] == "expired"
    rpc = tenant.http.post(f"/v1/sandboxes/{sandbox['id']}/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "x"})
    assert "expired" in assert_error(rpc, 409, "sandbox_expired")
    assert tenant.http.get(f"/v1/sandboxes/{keeper['id']}").json()["status"] == "running"
    listed = [item["id"] for item in tenant.http.get("/v1/sandboxes").json()["items"]]
    assert sandbox["id"] not in listed and keeper["id"] in listed
    everything = tenant.http.get("/v1/sandboxes", params={"include_ended": True}).json()["items"]
    assert sandbox["id"] in [item["id"] for item in everything]


def test_a_sandbox_past_its_expiry_is_refused_before_the_reaper_sweeps(server: RunningServer, tenant: Tenant) -> None:
    service = service_of(server)
    sandbox = tenant.create("embedded", ttl_seconds=60)
    real_clock = service.clock
    service.clock = lambda: real_clock() + timedelta(seconds=61)
    try:
        response = tenant.http.post(f"/v1/sandboxes/{sandbox['id']}/snapshots")
    finally:
        service.clock = real_clock
    assert "expired" in assert_error(response, 409, "sandbox_expired")


def test_snapshots_beyond_the_limit_answer_409(tenant: Tenant) -> None:
    sandbox = tenant.create("embedded")
    for _ in range(3):
        assert tenant.http.post(f"/v1/sandboxes/{sandbox['id']}/snapshots").status_code == 201
    refused = tenant.http.post(f"/v1/sandboxes/{sandbox['id']}/snapshots")
    assert "3 snapshots" in assert_error(refused, 409, "sandbox_snapshot_limit")


# --- isolation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("DELETE", "", None),
        ("POST", "/rpc", {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}),
        ("POST", "/snapshots", {}),
        ("GET", "/snapshots", None),
        ("POST", "/reset", None),
        ("POST", "/extend", {"seconds": 60}),
        ("POST", "/accounts/export", None),
        ("POST", "/snapshots/{snapshot}/revert", None),
    ],
)
def test_another_tenant_cannot_reach_a_sandbox(
    tenant: Tenant, other_tenant: Tenant, method: str, path: str, body: dict[str, Any] | None
) -> None:
    sandbox = tenant.create("embedded")
    snapshot = tenant.http.post(f"/v1/sandboxes/{sandbox['id']}/snapshots").json()
    url = f"/v1/sandboxes/{sandbox['id']}{path.format(snapshot=snapshot['id'])}"
    response = other_tenant.http.request(method, url, json=body)
    assert_error(response, 404, "not_found")
    assert sandbox["id"] not in str(other_tenant.http.get("/v1/sandboxes", params={"include_ended": True}).json())
    # The owner's sandbox is untouched.
    shown = tenant.http.get(f"/v1/sandboxes/{sandbox['id']}").json()
    assert (shown["status"], shown["head_block"], len(shown["snapshots"])) == ("running", 4, 1)


def test_owned_sandbox_gives_the_owner_a_handle_and_nobody_else(
    server: RunningServer, tenant: Tenant, other_tenant: Tenant
) -> None:
    from segell.services.administrations.service import authenticate
    from segell.services.errors import Conflict, NotFound

    sandbox = tenant.create("embedded")
    runtime = server.app.state.runtime  # type: ignore[attr-defined]
    with runtime.transaction() as session:
        owner, stranger = authenticate(session, tenant.key), authenticate(session, other_tenant.key)
    handle = owned_sandbox(server.app.state, owner, sandbox["id"])  # type: ignore[attr-defined]
    assert (handle.id, handle.chain_id, handle.backend, handle.rpc_url) == (
        sandbox["id"],
        sandbox["chain_id"],
        "embedded",
        None,
    )
    assert handle.deployer.address == sandbox["accounts"][0]
    assert handle.deployment.notary == sandbox["contracts"]["notary"]
    with handle.lock:
        receipt = send_transaction(handle.web3(), handle.deployer, {"to": sandbox["accounts"][1], "value": 5})
    assert receipt["status"] == 1
    assert owned_sandbox(runtime, owner, sandbox["id"]).id == sandbox["id"]
    with pytest.raises(NotFound):
        owned_sandbox(runtime, stranger, sandbox["id"])
    tenant.http.delete(f"/v1/sandboxes/{sandbox['id']}")
    with pytest.raises(Conflict, match="deleted"):
        owned_sandbox(runtime, owner, sandbox["id"])


def test_concurrent_creations_cannot_exceed_the_quota(server: RunningServer, tenant: Tenant) -> None:
    limit = server.settings.section(SandboxSettings).max_per_administration
    statuses: list[int] = []

    def create() -> None:
        with server.client(tenant.key) as http:
            statuses.append(http.post("/v1/sandboxes", json={"name": "race", "backend": "embedded"}).status_code)

    threads = [threading.Thread(target=create) for _ in range(limit + 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] * limit + [409] * 2


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("params", "code"),
    [(["0xdeadbeef"], None), ("0xdeadbeef", -32602), ([], None)],
    ids=["garbage", "not-array", "none"],
)
def test_malformed_raw_transaction_gets_a_json_rpc_error(
    tenant: Tenant, backend: str, params: Any, code: int | None
) -> None:
    sandbox = tenant.create(backend)
    response = tenant.http.post(
        f"/v1/sandboxes/{sandbox['id']}/rpc",
        json={"jsonrpc": "2.0", "id": "x", "method": "eth_sendRawTransaction", "params": params},
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["id"] == "x" and isinstance(answer["error"]["message"], str)
    if code is not None:
        assert answer["error"]["code"] == code
    assert tenant.rpc(sandbox["id"], "eth_blockNumber")["result"] == "0x4"
