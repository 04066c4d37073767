"""Sandboxes outlive the API: stopping it stops every sandbox node (no process, no port left), and starting it again
brings each sandbox back from its saved state, blocks, snapshots and all."""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from eth_account import Account

from segell.chain.transactions import send_transaction
from segell.services.sandboxes.models import Sandbox
from segell.services.settings import Settings
from tests.helpers import RunningServer, SegellProcess, free_port, serve
from tests.services.test_sandboxes import (
    BACKENDS,
    HAVE_ANVIL,
    Tenant,
    processes_using,
    service_of,
    socket_accepts,
)


@contextmanager
def running(home: Path, master_key: str) -> Iterator[RunningServer]:
    """The API on ``home``, stopped (its lifespan shutdown run) on leaving the block."""
    settings = Settings(home=home, chain="embedded", master_key=master_key, port=free_port())
    server = serve(settings)
    try:
        yield next(server)
    finally:
        server.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_sandbox_survives_an_api_restart_and_stopping_leaves_nothing_running(tmp_path: Path, backend: str) -> None:
    master_key = secrets.token_hex(32)
    with running(tmp_path, master_key) as server:
        tenant = Tenant(server)
        sandbox = tenant.create(backend)
        sandbox_id, receiver = sandbox["id"], sandbox["accounts"][2]
        sender = Account.from_key(tenant.exported_keys(sandbox_id)[1]["private_key"])
        send_transaction(tenant.web3(sandbox), sender, {"to": receiver, "value": 777})
        snapshot = tenant.http.post(f"/v1/sandboxes/{sandbox_id}/snapshots").json()
        send_transaction(tenant.web3(sandbox), sender, {"to": receiver, "value": 1})
        instance = service_of(server).manager.get(sandbox_id)
        assert instance is not None
        directory, node_socket = str(instance.directory), instance.node.ipc_path
        tenant.http.close()

    # Stopped: no sandbox process and no listening socket remain.
    assert processes_using(directory) == []
    if node_socket:
        assert not socket_accepts(node_socket)

    with running(tmp_path, master_key) as server:
        tenant.server, tenant.http = server, server.client(tenant.key)
        sandbox = tenant.http.get(f"/v1/sandboxes/{sandbox_id}").json()
        assert (sandbox["status"], sandbox["head_block"], sandbox["transaction_count"]) == ("running", 6, 6)
        w3 = tenant.web3(sandbox)
        assert w3.eth.get_balance(receiver) == 10**21 + 778
        # Keys still open under the master key, snapshots still revert.
        send_transaction(w3, sender, {"to": receiver, "value": 1})
        reverted = tenant.http.post(f"/v1/sandboxes/{sandbox_id}/snapshots/{snapshot['id']}/revert")
        assert reverted.status_code == 200, reverted.text
        assert tenant.web3(sandbox).eth.get_balance(receiver) == 10**21 + 777
        tenant.http.close()
    assert processes_using(directory) == []


def test_sandboxes_expired_while_the_api_was_down_are_reaped_at_start(tmp_path: Path) -> None:
    master_key = secrets.token_hex(32)
    with running(tmp_path, master_key) as server:
        tenant = Tenant(server)
        sandbox: dict[str, Any] = tenant.create("embedded", ttl_seconds=60)
        directory = service_of(server).manager.directory(sandbox["id"])
        runtime = server.app.state.runtime  # type: ignore[attr-defined]
        with runtime.transaction() as session:  # as if the API had been down past the sandbox's expiry
            session.get_one(Sandbox, sandbox["id"]).expires_at = datetime.now(UTC) - timedelta(seconds=1)
        tenant.http.close()
    assert directory.exists()
    with running(tmp_path, master_key) as server:
        with server.client(tenant.key) as http:
            assert http.get(f"/v1/sandboxes/{sandbox['id']}").json()["status"] == "expired"
        assert service_of(server).manager.get(sandbox["id"]) is None
    assert not directory.exists()


def test_stopping_the_api_stops_every_sandbox_node(tmp_path: Path) -> None:
    with running(tmp_path, secrets.token_hex(32)) as server:
        tenant = Tenant(server)
        backends = ["embedded", "anvil"] if service_of(server).anvil_available else ["embedded"]
        for backend in backends:
            tenant.create(backend)
        pids = [instance.pid for instance in service_of(server).manager.running() if instance.pid is not None]
        tenant.http.close()
    assert all(not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE for pid in pids)
    assert processes_using(str(tmp_path)) == []


def test_a_sandbox_that_cannot_be_restored_answers_503_and_spares_the_others(tmp_path: Path) -> None:
    master_key = secrets.token_hex(32)
    with running(tmp_path, master_key) as server:
        tenant = Tenant(server)
        damaged, healthy = tenant.create("embedded"), tenant.create("embedded")
        journal = service_of(server).manager.directory(damaged["id"]) / "chain" / "embedded-journal.jsonl"
        tenant.http.close()
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(lines[0] + b"0badc0de {not a block}\n" + b"".join(lines[1:]))
    with running(tmp_path, master_key) as server, server.client(tenant.key) as http:
        response = http.post(f"/v1/sandboxes/{damaged['id']}/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "x"})
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "sandbox_not_running"
        assert "Delete the sandbox" in response.json()["error"]["message"]
        assert http.get(f"/v1/sandboxes/{healthy['id']}").json()["head_block"] == 4
        assert http.delete(f"/v1/sandboxes/{damaged['id']}").status_code == 200


@pytest.mark.slow
@pytest.mark.anvil
@pytest.mark.skipif(not HAVE_ANVIL, reason="anvil not installed (make setup installs it from npm)")
def test_kill_9_of_the_api_stops_its_sandbox_nodes_which_come_back_at_restart(tmp_path: Path) -> None:
    segell = SegellProcess(tmp_path, "embedded", secrets.token_hex(32))
    segell.start()
    try:
        with segell.governance() as governance:
            admitted = governance.post("/v1/administrations", json={"code": "L08019099", "name": "Prova"})
        key = admitted.json()["api_key"]["key"]
        with httpx.Client(base_url=segell.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
            sandbox = http.post("/v1/sandboxes", json={"name": "crash", "backend": "anvil"}).json()
            directory = str(tmp_path / "sandboxes" / sandbox["id"])
            assert len(processes_using(directory)) == 1
            segell.kill()
            # The kernel stops anvil with its parent (PR_SET_PDEATHSIG); it saves its state on the way out.
            for process in processes_using(directory):
                process.wait(timeout=30)
            assert processes_using(directory) == []

            segell.start()
            http.base_url = httpx.URL(segell.url)
            shown = http.get(f"/v1/sandboxes/{sandbox['id']}").json()
            assert (shown["status"], shown["head_block"]) == ("running", 4)
            assert len(processes_using(directory)) == 1
    finally:
        segell.terminate()
    assert processes_using(str(tmp_path)) == []
